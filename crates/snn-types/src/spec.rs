//! The serialisable network description shared by every crate.
//!
//! A [`NetworkSpec`] loads from TOML or JSON; [`NetworkSpec::validate`] then checks everything the
//! parser cannot (names resolve, parameters are in range, shapes agree) and reports every problem
//! with its path, e.g. `projections[2].delay_ms: 0.05 ms is shorter than dt = 0.1 ms`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::conv::{ConvGeometry, PoolMode, shape_len};
use crate::error::SpecError;
use crate::params::NeuronModel;
use crate::plasticity::PlasticitySpec;
use crate::readout::ReadoutSpec;

/// A whole network: populations, projections between them, stimuli, what to record, and the seed
/// from which every random stream (connectivity, weights, initial state, stimuli) is derived.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    /// Optional human-readable name.
    #[serde(default)]
    pub name: Option<String>,
    /// Integration time step (ms).
    pub dt_ms: f64,
    /// Default simulated duration (ms) when the caller does not give one.
    #[serde(default)]
    pub duration_ms: Option<f64>,
    /// Master seed of every random stream.
    #[serde(default)]
    pub seed: u64,
    /// Neuron populations; their neurons are numbered globally in this order.
    pub populations: Vec<PopulationSpec>,
    /// Synaptic projections between populations.
    #[serde(default)]
    pub projections: Vec<ProjectionSpec>,
    /// External inputs.
    #[serde(default)]
    pub stimuli: Vec<StimulusSpec>,
    /// What to record.
    #[serde(default)]
    pub recording: RecordingSpec,
    /// How a classifier's prediction is read from a run (optional; see
    /// [`readout`](crate::readout)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readout: Option<ReadoutSpec>,
}

/// A population of identical neurons.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PopulationSpec {
    /// Unique name, referenced by projections, stimuli and recording.
    pub name: String,
    /// Number of neurons.
    pub size: u32,
    /// Optional layout `[C, H, W]` (channels, height, width; `C * H * W` must equal `size`):
    /// neuron `(c, y, x)` is local index `(c * H + y) * W + x`. Conv and pool projections read
    /// their input and output shapes from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shape: Option<[u32; 3]>,
    /// Neuron model and its parameters.
    pub neuron: NeuronModel,
    /// Initial membrane value in the model's unit (mV for `lif_exp`/`lif_delta`); defaults to the
    /// resting value. May be a distribution, drawn per neuron from the population's own stream.
    #[serde(default, deserialize_with = "de_v_init")]
    pub v_init: Option<ValueSpec>,
}

/// A number given either as a constant or as a distribution to draw from.
///
/// In TOML: `weight = 1.62`, `weight = { dist = "uniform", low = 0.0, high = 1.0 }` or
/// `weight = { dist = "normal", mean = 1.0, std = 0.1 }`. `dist` may be left out when the fields
/// say which distribution is meant (`low`/`high` or `mean`/`std`). Any other field is an error
/// that names the spec's field: `v_init: unknown field `sd`, expected ...`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ValueSpec {
    /// A fixed value.
    Constant(f64),
    /// A random value drawn per neuron or per synapse.
    Random(Distribution),
}

impl From<f64> for ValueSpec {
    fn from(v: f64) -> Self {
        ValueSpec::Constant(v)
    }
}

/// A probability distribution of a scalar.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "dist", rename_all = "snake_case", deny_unknown_fields)]
pub enum Distribution {
    /// Uniform on `[low, high)`.
    Uniform {
        /// Lower bound (inclusive).
        low: f64,
        /// Upper bound (exclusive).
        high: f64,
    },
    /// Normal with the given mean and standard deviation.
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation (>= 0).
        std: f64,
    },
    /// A normal distribution truncated to `[low, high]` by redrawing every value outside (as
    /// NEST's `nest.math.redraw(nest.random.normal(...), min, max)`, used by the reference
    /// implementation of the Potjans & Diesmann microcircuit). Either bound may be left out
    /// (unbounded on that side). Written `{ dist = "truncated_normal", mean = 1.5, std = 0.75,
    /// low = 0.1 }`.
    TruncatedNormal {
        /// Mean of the untruncated normal.
        mean: f64,
        /// Standard deviation of the untruncated normal (>= 0).
        std: f64,
        /// Lower bound (inclusive); none: unbounded below.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        low: Option<f64>,
        /// Upper bound (inclusive); none: unbounded above.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        high: Option<f64>,
    },
}

/// What a [`ValueSpec`] may be, for error messages.
/// (`dist = "truncated_normal"` with `mean`, `std` and optional `low`/`high` is the third form.)
const VALUE_EXPECTED: &str =
    "expected `mean` and `std` (normal) or `low` and `high` (uniform), or a number";

/// Reads a [`ValueSpec`]; `field` names the spec's field in every error.
struct ValueVisitor(&'static str);

impl<'de> serde::de::Visitor<'de> for ValueVisitor {
    type Value = ValueSpec;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: a number, or a table with {VALUE_EXPECTED}", self.0)
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<ValueSpec, E> {
        Ok(ValueSpec::Constant(v))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ValueSpec, E> {
        Ok(ValueSpec::Constant(v as f64))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ValueSpec, E> {
        Ok(ValueSpec::Constant(v as f64))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<ValueSpec, A::Error> {
        use serde::de::Error;
        let field = self.0;
        let mut dist: Option<String> = None;
        let mut num = [None::<f64>; 4]; // low, high, mean, std
        const NAMES: [&str; 4] = ["low", "high", "mean", "std"];
        while let Some(key) = map.next_key::<String>()? {
            if key == "dist" {
                if dist.is_some() {
                    return Err(A::Error::custom(format!("{field}: duplicate field `dist`")));
                }
                dist = Some(map.next_value::<String>().map_err(|e| {
                    A::Error::custom(format!(
                        "{field}.dist: expected \"normal\", \"uniform\" or \"truncated_normal\" ({e})"
                    ))
                })?);
                continue;
            }
            let Some(i) = NAMES.iter().position(|n| *n == key) else {
                return Err(A::Error::custom(format!(
                    "{field}: unknown field `{key}`, {VALUE_EXPECTED}"
                )));
            };
            if num[i].is_some() {
                return Err(A::Error::custom(format!(
                    "{field}: duplicate field `{key}`"
                )));
            }
            num[i] = Some(map.next_value::<f64>().map_err(|e| {
                A::Error::custom(format!("{field}.{key}: expected a number ({e})"))
            })?);
        }
        let [low, high, mean, std] = num;
        let uniform_fields = low.is_some() || high.is_some();
        let normal_fields = mean.is_some() || std.is_some();
        let kind = match dist.as_deref() {
            Some("uniform") => "uniform",
            Some("normal") => "normal",
            Some("truncated_normal") => "truncated_normal",
            Some(other) => {
                return Err(A::Error::custom(format!(
                    "{field}.dist: unknown distribution \"{other}\", expected \"normal\", \"uniform\" or \"truncated_normal\""
                )));
            }
            None if uniform_fields && !normal_fields => "uniform",
            None if normal_fields && !uniform_fields => "normal",
            None => {
                return Err(A::Error::custom(format!("{field}: {VALUE_EXPECTED}")));
            }
        };
        let need = |v: Option<f64>, name: &str| {
            v.ok_or_else(|| {
                A::Error::custom(format!(
                    "{field}: a {kind} distribution needs `{name}` ({VALUE_EXPECTED})"
                ))
            })
        };
        let stray = |v: Option<f64>, name: &str| match v {
            Some(_) => Err(A::Error::custom(format!(
                "{field}: `{name}` does not belong to a {kind} distribution ({VALUE_EXPECTED})"
            ))),
            None => Ok(()),
        };
        if kind == "truncated_normal" {
            return Ok(ValueSpec::Random(Distribution::TruncatedNormal {
                mean: need(mean, "mean")?,
                std: need(std, "std")?,
                low,
                high,
            }));
        }
        if kind == "uniform" {
            stray(mean, "mean")?;
            stray(std, "std")?;
            Ok(ValueSpec::Random(Distribution::Uniform {
                low: need(low, "low")?,
                high: need(high, "high")?,
            }))
        } else {
            stray(low, "low")?;
            stray(high, "high")?;
            Ok(ValueSpec::Random(Distribution::Normal {
                mean: need(mean, "mean")?,
                std: need(std, "std")?,
            }))
        }
    }
}

impl<'de> Deserialize<'de> for ValueSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor("value"))
    }
}

/// Reads an optional [`ValueSpec`] (JSON `null` is "not given"), naming `field` in errors.
struct OptionalValue(&'static str);

impl<'de> serde::de::Visitor<'de> for OptionalValue {
    type Value = Option<ValueSpec>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        ValueVisitor(self.0).expecting(f)
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(ValueVisitor(self.0)).map(Some)
    }
}

fn de_v_init<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<ValueSpec>, D::Error> {
    d.deserialize_option(OptionalValue("v_init"))
}

fn de_delay_ms<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<ValueSpec>, D::Error> {
    d.deserialize_option(OptionalValue("delay_ms"))
}

fn de_weight<'de, D: serde::Deserializer<'de>>(d: D) -> Result<ValueSpec, D::Error> {
    d.deserialize_any(ValueVisitor("weight"))
}

impl ValueSpec {
    /// The smallest and largest value the spec can produce (normal: mean +- 8 std, a bound that a
    /// 64-bit generator reaches with negligible probability).
    pub fn range(&self) -> (f64, f64) {
        match *self {
            ValueSpec::Constant(v) => (v, v),
            ValueSpec::Random(Distribution::Uniform { low, high }) => (low, high),
            ValueSpec::Random(Distribution::Normal { mean, std }) => {
                (mean - 8.0 * std, mean + 8.0 * std)
            }
            ValueSpec::Random(Distribution::TruncatedNormal {
                mean,
                std,
                low,
                high,
            }) => (
                low.map_or(mean - 8.0 * std, |l| l.max(mean - 8.0 * std)),
                high.map_or(mean + 8.0 * std, |h| h.min(mean + 8.0 * std)),
            ),
        }
    }

    /// The constant value, if this is a constant.
    pub fn as_constant(&self) -> Option<f64> {
        match *self {
            ValueSpec::Constant(v) => Some(v),
            ValueSpec::Random(_) => None,
        }
    }
}

/// Which synaptic input a projection drives. Only `lif_exp` distinguishes them (separate time
/// constants); other models sum both. The weight's sign is used as given on either receptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Receptor {
    /// Excitatory receptor (`I_ex`).
    #[default]
    Excitatory,
    /// Inhibitory receptor (`I_in`).
    Inhibitory,
}

/// How a projection's synapses are chosen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case", deny_unknown_fields)]
pub enum Connectivity {
    /// Every source to every target.
    AllToAll,
    /// Source `i` to target `i` (equal sizes).
    OneToOne,
    /// Each (source, target) pair independently with probability `p`.
    FixedProbability {
        /// Connection probability in `[0, 1]`.
        p: f64,
    },
    /// Each target receives exactly `k` synapses from distinct sources (drawn uniformly).
    FixedIndegree {
        /// In-degree.
        k: u32,
    },
    /// Each source makes exactly `k` synapses onto distinct targets (drawn uniformly).
    FixedOutdegree {
        /// Out-degree.
        k: u32,
    },
    /// Exactly `n` synapses in total, each from a source and onto a target drawn uniformly and
    /// independently (multapses allowed; autapses only with `allow_autapses`), as NEST's
    /// `fixed_total_number` rule with its default `allow_multapses = true`.
    FixedTotalNumber {
        /// Total number of synapses.
        n: u64,
    },
    /// An explicit synapse list as parallel arrays of local indices.
    Explicit {
        /// Source index of each synapse (local to the source population).
        sources: Vec<u32>,
        /// Target index of each synapse (local to the target population).
        targets: Vec<u32>,
        /// Per-synapse weights; overrides the projection's `weight` when present.
        #[serde(default)]
        weights: Option<Vec<f64>>,
        /// Per-synapse delays (ms); overrides the projection's `delay_ms` when present.
        #[serde(default)]
        delays_ms: Option<Vec<f64>>,
    },
    /// A dense weight matrix, `weights[source][target]`; exact zeros make no synapse. Overrides
    /// the projection's `weight`.
    Dense {
        /// Row-major matrix, one row per source neuron.
        weights: Vec<Vec<f64>>,
    },
    /// A 2-D convolution (PyTorch's `Conv2d`, no bias) from a `[C_in, H, W]` source onto a
    /// `[out_channels, H_out, W_out]` target; the kernel is stored once, never per synapse
    /// (see [`crate::conv`]). Pairs (`kernel = [5, 5]`) may be written as one number
    /// (`kernel = 5`). The projection's `weight` must stay at its default 1 and its delay must be
    /// a constant.
    Conv2d {
        /// Source layout; defaults to the source population's `shape`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        in_shape: Option<[u32; 3]>,
        /// Output channels.
        out_channels: u32,
        /// Kernel `[kh, kw]`.
        #[serde(deserialize_with = "de_kernel")]
        kernel: [u32; 2],
        /// Stride `[sy, sx]` (default 1).
        #[serde(default = "ones", deserialize_with = "de_stride")]
        stride: [u32; 2],
        /// Zero padding on each side `[py, px]` (default 0).
        #[serde(default, deserialize_with = "de_padding")]
        padding: [u32; 2],
        /// Dilation `[dy, dx]` (default 1).
        #[serde(default = "ones", deserialize_with = "de_dilation")]
        dilation: [u32; 2],
        /// Channel groups (default 1); must divide both channel counts.
        #[serde(default = "one")]
        groups: u32,
        /// Kernel weights, row-major `[out_channels][C_in / groups][kh][kw]`, in the target
        /// model's weight unit.
        weights: Vec<f64>,
    },
    /// 2-D pooling per channel from a `[C, H, W]` source onto a `[C, H_out, W_out]` target:
    /// every source of a window reaches the target with the projection's (constant) `weight`
    /// (`sum`) or `weight / (kh * kw)` (`average`).
    Pool2d {
        /// Source layout; defaults to the source population's `shape`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        in_shape: Option<[u32; 3]>,
        /// `sum` (default) or `average`.
        #[serde(default)]
        mode: PoolMode,
        /// Window `[kh, kw]`.
        #[serde(deserialize_with = "de_kernel")]
        kernel: [u32; 2],
        /// Stride (default: the window, i.e. non-overlapping).
        #[serde(
            default,
            deserialize_with = "de_opt_stride",
            skip_serializing_if = "Option::is_none"
        )]
        stride: Option<[u32; 2]>,
        /// Zero padding on each side (default 0).
        #[serde(default, deserialize_with = "de_padding")]
        padding: [u32; 2],
    },
}

fn ones() -> [u32; 2] {
    [1, 1]
}

fn one() -> u32 {
    1
}

/// Accepts `3` or `[3, 2]` for a pair of non-negative integers; every error names the field
/// (`kernel`, `stride`, ...), since the TOML position of a field inside a tagged table is lost.
struct PairVisitor(&'static str);

/// One value of a pair: a `u32`, with errors that name the field.
struct PairElem(&'static str);

fn pair_u32<E: serde::de::Error>(name: &str, v: u64) -> Result<u32, E> {
    u32::try_from(v)
        .map_err(|_| E::custom(format!("`{name}`: {v} is too large (at most {})", u32::MAX)))
}

impl<'de> serde::de::Visitor<'de> for PairElem {
    type Value = u32;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "`{}` values as non-negative integers", self.0)
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<u32, E> {
        pair_u32(self.0, v)
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<u32, E> {
        if v < 0 {
            return Err(E::custom(format!("`{}`: {v} is negative", self.0)));
        }
        pair_u32(self.0, v as u64)
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for PairElem {
    type Value = u32;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<u32, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for PairVisitor {
    type Value = [u32; 2];

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(
            f,
            "`{}` as a non-negative integer or a pair [a, b] of them",
            self.0
        )
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<[u32; 2], E> {
        let x = pair_u32(self.0, v)?;
        Ok([x, x])
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<[u32; 2], E> {
        let x = PairElem(self.0).visit_i64(v)?;
        Ok([x, x])
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<[u32; 2], A::Error> {
        use serde::de::Error;
        let name = self.0;
        let a = seq.next_element_seed(PairElem(name))?.ok_or_else(|| {
            A::Error::custom(format!("`{name}`: a pair needs two values, got none"))
        })?;
        let b = seq.next_element_seed(PairElem(name))?.ok_or_else(|| {
            A::Error::custom(format!("`{name}`: a pair needs two values, got one"))
        })?;
        if seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
            return Err(A::Error::custom(format!(
                "`{name}`: a pair has two values, got more"
            )));
        }
        Ok([a, b])
    }
}

/// `deserialize_with` functions for the pair fields, each naming its field in errors.
macro_rules! pair_fields {
    ($($f:ident => $name:literal;)*) => {$(
        fn $f<'de, D: serde::Deserializer<'de>>(d: D) -> Result<[u32; 2], D::Error> {
            d.deserialize_any(PairVisitor($name))
        }
    )*};
}

pair_fields! {
    de_kernel => "kernel";
    de_stride => "stride";
    de_padding => "padding";
    de_dilation => "dilation";
}

fn de_opt_stride<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<[u32; 2]>, D::Error> {
    de_stride(d).map(Some)
}

impl Connectivity {
    /// Short name of the rule (`all_to_all`, `fixed_probability`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Connectivity::AllToAll => "all_to_all",
            Connectivity::OneToOne => "one_to_one",
            Connectivity::FixedProbability { .. } => "fixed_probability",
            Connectivity::FixedIndegree { .. } => "fixed_indegree",
            Connectivity::FixedOutdegree { .. } => "fixed_outdegree",
            Connectivity::FixedTotalNumber { .. } => "fixed_total_number",
            Connectivity::Explicit { .. } => "explicit",
            Connectivity::Dense { .. } => "dense",
            Connectivity::Conv2d { .. } => "conv2d",
            Connectivity::Pool2d { .. } => "pool2d",
        }
    }
}

fn default_weight() -> ValueSpec {
    ValueSpec::Constant(1.0)
}

/// Synapses from one population to another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectionSpec {
    /// Optional name for reports.
    #[serde(default)]
    pub name: Option<String>,
    /// Source population name.
    pub source: String,
    /// Target population name.
    pub target: String,
    /// Connectivity rule.
    pub connectivity: Connectivity,
    /// Synaptic weight (pA for `lif_exp`, mV for `lif_delta`, dimensionless for `lif_beta`,
    /// integer for `loihi_lif`, mV jump for `izhikevich`, nS (magnitude) for `adex`). Default 1.
    #[serde(default = "default_weight", deserialize_with = "de_weight")]
    pub weight: ValueSpec,
    /// Transmission delay (ms), at least `dt_ms`; rounded to whole steps. Default: one step.
    #[serde(default, deserialize_with = "de_delay_ms")]
    pub delay_ms: Option<ValueSpec>,
    /// Receptor driven by this projection.
    #[serde(default)]
    pub receptor: Receptor,
    /// Allow a neuron to connect to itself when source and target are the same population.
    #[serde(default)]
    pub allow_autapses: bool,
    /// A learning rule for this projection's weights (`[projections.plasticity]`, see
    /// [`PlasticitySpec`]); none: the weights stay fixed. `snn-core`'s engine builds the
    /// projection with its initial weights and does not learn by itself: the rule is attached by
    /// `snn_learn::stdp::attach_spec_rules`, as `snn simulate` does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plasticity: Option<PlasticitySpec>,
}

impl ProjectionSpec {
    /// The projection's name in reports: its `name`, else `source->target` (the engine's
    /// `Projection::name`).
    pub fn display_name(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| format!("{}->{}", self.source, self.target))
    }
}

/// An external input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum StimulusSpec {
    /// Independent Poisson spike trains, one per target neuron. On an `input` population the
    /// neurons themselves fire; on any other population each event adds `weight` to the receptor.
    Poisson {
        /// Target population.
        target: String,
        /// Rate per neuron (Hz).
        rate_hz: f64,
        /// Weight of each event (ignored for `input` targets).
        #[serde(default = "default_weight_f64")]
        weight: f64,
        /// Receptor driven.
        #[serde(default)]
        receptor: Receptor,
        /// Start time (ms, inclusive).
        #[serde(default)]
        start_ms: f64,
        /// Stop time (ms, exclusive); default: never.
        #[serde(default)]
        stop_ms: Option<f64>,
    },
    /// A constant current switched on at `start_ms` and off at `stop_ms`.
    Current {
        /// Target population.
        target: String,
        /// Amplitude in the model's current unit: pA for `lif_exp`/`lif_delta`/`lif_cond_exp`, input units per
        /// step for `lif_beta`, integer `a_in` units for `loihi_lif`.
        amplitude: f64,
        /// Start time (ms, inclusive).
        #[serde(default)]
        start_ms: f64,
        /// Stop time (ms, exclusive); default: never.
        #[serde(default)]
        stop_ms: Option<f64>,
        /// Local neuron indices to drive; default: all.
        #[serde(default)]
        neurons: Option<Vec<u32>>,
    },
    /// A piecewise-constant current: `amplitudes[i]` from `times_ms[i]` until the next time.
    StepCurrent {
        /// Target population.
        target: String,
        /// Switching times (ms), strictly increasing.
        times_ms: Vec<f64>,
        /// Amplitude after each switching time (same unit as `current`).
        amplitudes: Vec<f64>,
        /// Local neuron indices to drive; default: all.
        #[serde(default)]
        neurons: Option<Vec<u32>>,
    },
    /// Given spike times per neuron. On an `input` population the neurons fire at those times; on
    /// any other population each spike adds `weight` to the receptor.
    SpikeArray {
        /// Target population.
        target: String,
        /// Weight of each spike (ignored for `input` targets).
        #[serde(default = "default_weight_f64")]
        weight: f64,
        /// Receptor driven.
        #[serde(default)]
        receptor: Receptor,
        /// Spike times of each listed neuron.
        spikes: Vec<SpikeTrainSpec>,
    },
}

fn default_weight_f64() -> f64 {
    1.0
}

impl StimulusSpec {
    /// The target population's name.
    pub fn target(&self) -> &str {
        match self {
            StimulusSpec::Poisson { target, .. }
            | StimulusSpec::Current { target, .. }
            | StimulusSpec::StepCurrent { target, .. }
            | StimulusSpec::SpikeArray { target, .. } => target,
        }
    }
}

/// Spike times of one neuron.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpikeTrainSpec {
    /// Local neuron index.
    pub neuron: u32,
    /// Spike times (ms).
    pub times_ms: Vec<f64>,
}

/// What the engine records.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordingSpec {
    /// Populations whose spikes are recorded; `None` (the default) records all.
    #[serde(default)]
    pub spikes: Option<Vec<String>>,
    /// Populations whose per-step spike counts (population rate) are recorded.
    #[serde(default)]
    pub rates: Vec<String>,
    /// State traces of chosen neurons.
    #[serde(default)]
    pub state: Vec<TraceSpec>,
}

/// Which state variable a trace samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StateVar {
    /// Membrane potential (model unit).
    V,
    /// Excitatory synaptic current (`lif_exp` only; pA).
    ISynEx,
    /// Inhibitory synaptic current (`lif_exp` only; pA).
    ISynIn,
    /// Loihi's integer current `u` (`loihi_lif`), the recovery variable `u` of `izhikevich`
    /// (the paper's current unit), or the adaptation current `w` of `adex` (pA).
    U,
    /// Excitatory synaptic conductance (`lif_cond_exp` only; nS).
    GEx,
    /// Inhibitory synaptic conductance (`lif_cond_exp` only; nS).
    GIn,
    /// Adaptive threshold `theta` (mV): only `lif_exp` and `lif_cond_exp` with an
    /// `adaptive_threshold` block.
    Theta,
}

/// A state trace request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceSpec {
    /// Population name.
    pub population: String,
    /// Local neuron indices.
    pub neurons: Vec<u32>,
    /// Variable to sample (after each step's update).
    #[serde(default = "default_var")]
    pub variable: StateVar,
}

fn default_var() -> StateVar {
    StateVar::V
}

/// Serialisation formats a spec can be read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecFormat {
    /// TOML.
    Toml,
    /// JSON.
    Json,
}

impl NetworkSpec {
    /// Parses a spec from TOML text (not yet validated).
    pub fn from_toml_str(text: &str) -> Result<Self, SpecError> {
        toml::from_str(text).map_err(|e| SpecError::Parse {
            origin: "<toml>".into(),
            message: short_lines(e.to_string().trim_end()),
        })
    }

    /// Parses a spec from JSON text (not yet validated).
    pub fn from_json_str(text: &str) -> Result<Self, SpecError> {
        serde_json::from_str(text).map_err(|e| {
            let path = json_path_at(text, json_offset(text, e.line(), e.column()));
            let place = if path.is_empty() {
                String::new()
            } else {
                format!(" (in `{path}`)")
            };
            SpecError::Parse {
                origin: "<json>".into(),
                message: short_lines(&format!("{e}{place}")),
            }
        })
    }

    /// Reads, parses (format from the extension: `.json`, else TOML) and validates a spec file.
    /// Every error names the file.
    pub fn load(path: &Path) -> Result<Self, SpecError> {
        let io = |message: String| SpecError::Io {
            path: path.display().to_string(),
            message,
        };
        let bytes = crate::file::read_limited(path, crate::file::MAX_SPEC_BYTES).map_err(|e| {
            io(match e {
                crate::file::FileError::Io { error, .. } => error.to_string(),
                other => other.to_string(),
            })
        })?;
        if bytes.starts_with(crate::file::MAGIC) {
            return Err(io(
                "an snn binary file (a training checkpoint, raster or weights), not a network \
                 spec; `snn inspect` tells what it holds"
                    .into(),
            ));
        }
        let text = crate::file::text_of(&bytes).map_err(io)?;
        let format = match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("json") => SpecFormat::Json,
            _ => SpecFormat::Toml,
        };
        let origin = path.display().to_string();
        let parsed = match format {
            SpecFormat::Toml => Self::from_toml_str(text),
            SpecFormat::Json => Self::from_json_str(text),
        };
        let spec = parsed.map_err(|e| e.with_origin(&origin))?;
        spec.validate().map_err(|e| e.with_origin(&origin))?;
        Ok(spec)
    }

    /// Serialises to pretty TOML.
    pub fn to_toml_string(&self) -> Result<String, SpecError> {
        toml::to_string_pretty(self).map_err(|e| SpecError::Parse {
            origin: "<toml>".into(),
            message: e.to_string(),
        })
    }

    /// Serialises to pretty JSON.
    pub fn to_json_string(&self) -> String {
        serde_json::to_string_pretty(self).expect("NetworkSpec is always representable as JSON")
    }

    /// Total number of neurons over all populations.
    pub fn n_neurons(&self) -> u64 {
        self.populations.iter().map(|p| p.size as u64).sum()
    }

    /// Index of the population called `name`.
    pub fn population_index(&self, name: &str) -> Option<usize> {
        self.populations.iter().position(|p| p.name == name)
    }

    /// The geometry of projection `j` when its rule is `conv2d` or `pool2d` (`None` for any
    /// other rule or an out-of-range `j`), or why it has none: the input shape is missing or
    /// disagrees with the source population, or the kernel does not fit. Checks the source side
    /// only; [`validate`](Self::validate) also checks the target's size and shape.
    pub fn projection_geometry(&self, j: usize) -> Option<Result<ConvGeometry, String>> {
        let pr = self.projections.get(j)?;
        let in_shape = match &pr.connectivity {
            Connectivity::Conv2d { in_shape, .. } | Connectivity::Pool2d { in_shape, .. } => {
                in_shape
            }
            _ => return None,
        };
        let src = self
            .population_index(&pr.source)
            .map(|i| &self.populations[i]);
        let shape = match (in_shape, src.and_then(|p| p.shape)) {
            (Some(a), Some(b)) if *a != b => {
                return Some(Err(format!(
                    "in_shape {a:?} differs from the shape {b:?} of source population '{}'",
                    pr.source
                )));
            }
            (Some(a), _) => *a,
            (None, Some(b)) => b,
            (None, None) => {
                return Some(Err(format!(
                    "needs in_shape, or a shape on source population '{}'",
                    pr.source
                )));
            }
        };
        if let Some(p) = src
            && shape_len(shape) != p.size as u64
        {
            return Some(Err(format!(
                "in_shape {shape:?} holds {} neurons but source population '{}' has {}",
                shape_len(shape),
                pr.source,
                p.size
            )));
        }
        Some(match &pr.connectivity {
            Connectivity::Conv2d {
                out_channels,
                kernel,
                stride,
                padding,
                dilation,
                groups,
                ..
            } => ConvGeometry::new(
                shape,
                *out_channels,
                *kernel,
                *stride,
                *padding,
                *dilation,
                *groups,
            ),
            Connectivity::Pool2d {
                kernel,
                stride,
                padding,
                ..
            } => ConvGeometry::pool(shape, *kernel, stride.unwrap_or(*kernel), *padding),
            _ => return None,
        })
    }

    /// Global index of the first neuron of every population, plus the total at the end.
    pub fn population_offsets(&self) -> Vec<u64> {
        let mut v = Vec::with_capacity(self.populations.len() + 1);
        let mut acc = 0u64;
        v.push(0);
        for p in &self.populations {
            acc += p.size as u64;
            v.push(acc);
        }
        v
    }

    /// Checks the spec; returns every problem found, each with its path. Never panics.
    pub fn validate(&self) -> Result<(), SpecError> {
        let issues = crate::validate::check(self);
        if issues.is_empty() {
            Ok(())
        } else {
            Err(SpecError::Invalid {
                origin: None,
                issues,
            })
        }
    }
}

/// The byte index of 1-based `line` and `column` (serde_json's error position: the last byte
/// it read) in `text`.
fn json_offset(text: &str, line: usize, column: usize) -> usize {
    let start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    (start + column).saturating_sub(1).min(text.len())
}

/// Where byte `offset` of JSON `text` lies, as a field path (`populations[1].neuron.tau_m_ms`),
/// from a scan of the text before it: object keys and array indices of the values being read
/// there. Empty at the top level. At a closing brace or bracket, the path of that object or
/// array (serde reports there what concerns the whole value: a missing field, a wrong length,
/// any field of a tagged value such as `neuron`, which it reads whole first). For error
/// messages (serde_json gives a line and a column).
fn json_path_at(text: &str, offset: usize) -> String {
    enum Frame {
        Object(Option<String>),
        Array(usize),
    }
    let b = text.as_bytes();
    let end = offset.min(b.len());
    let mut stack: Vec<Frame> = Vec::new();
    let mut last_string: Option<String> = None;
    let mut i = 0;
    while i < end {
        match b[i] {
            b'"' => {
                let start = i + 1;
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                last_string = text.get(start..i.min(b.len())).map(str::to_string);
            }
            b'{' => stack.push(Frame::Object(None)),
            b'[' => stack.push(Frame::Array(0)),
            b'}' | b']' => {
                stack.pop();
            }
            b':' => {
                if let Some(Frame::Object(key)) = stack.last_mut() {
                    *key = last_string.take();
                }
            }
            b',' => match stack.last_mut() {
                Some(Frame::Array(n)) => *n += 1,
                Some(Frame::Object(key)) => *key = None,
                None => {}
            },
            _ => {}
        }
        i += 1;
    }
    let closing = matches!(b.get(end), Some(b'}' | b']'));
    let mut path = String::new();
    for (k, frame) in stack.iter().enumerate() {
        if closing && k + 1 == stack.len() {
            break;
        }
        match frame {
            Frame::Object(Some(key)) => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
            }
            Frame::Object(None) => break,
            Frame::Array(n) => path.push_str(&format!("[{n}]")),
        }
    }
    path
}

/// A parser's message with every line cut to [`MESSAGE_LINE_CHARS`] characters: parsers quote
/// the offending line, which in a generated or damaged file can be megabytes long.
fn short_lines(message: &str) -> String {
    message
        .lines()
        .map(|l| {
            let n = l.chars().count();
            if n <= MESSAGE_LINE_CHARS {
                l.to_string()
            } else {
                let head: String = l.chars().take(MESSAGE_LINE_CHARS).collect();
                format!("{head}... ({} more characters)", n - MESSAGE_LINE_CHARS)
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Longest line of a parse error message kept whole ([`short_lines`]).
const MESSAGE_LINE_CHARS: usize = 240;
