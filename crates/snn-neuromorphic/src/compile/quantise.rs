//! Pass 2, quantise: a network to the chip's integer LIF and 8-bit weights.
//!
//! **Weights.** A projection's integer weight is `mantissa << weight_exp`. The mantissa has
//! `weight_bits` magnitude bits (8 on Loihi) in one of three sign modes chosen from the signs of
//! the projection's weights: excitatory `[0, 255]`, inhibitory `[-255, 0]`, mixed `[-256, 255]`.
//! Mantissas are then clipped and truncated exactly as Lava's bit-accurate `Dense` process does
//! (`clip_weights` then `truncate_weights` of `lava/utils/weightutils.py`, see
//! [`lava_truncate_weight`]): `weight_bits - num_weight_bits + is_mixed` low bits are cleared by
//! an arithmetic shift (toward minus infinity; inhibitory weights are negated around the shift,
//! so they round toward zero). `weight_exp` is the smallest exponent in
//! `0..=core.max_weight_exp` that makes the largest weight fit; the integer weight is
//! `mantissa << weight_exp`, which equals Lava's left shift of each step's accumulated input by a
//! non-negative `weight_exp` (a shift is linear for exponents `>= 0`). Negative exponents
//! (Lava's right shift of the accumulated sum) are not modelled: no preset allows them.
//!
//! **Float models** (`lif_beta`, `lif_delta`, `lif_exp`) become `loihi_lif`: every population
//! gets a scale `s` (integer `v` units per model unit / 64) chosen so that its largest incoming
//! weight maps to the largest mantissa (255), unless the threshold `vth_mant = round(th * s)`
//! would overflow 17 bits, in which case `s` is lowered. Then
//!
//! * `lif_beta`: `du = 4095` (no current memory: delta synapses), `dv = round(4096 (1 - beta))`,
//!   `W = round(w s)`, `vth_mant = round(threshold s)`, `bias = bias * 64 s`;
//! * `lif_delta`: `p22 = exp(-dt/tau_m)`, `dv = round(4096 (1 - p22))`, `du = 4095`,
//!   `W = round(w s)` (a jump of `w` mV), threshold `v_th - E_L`, bias `P20 I_e` per step;
//! * `lif_exp`: `p11 = exp(-dt/tau_syn)`, `du = 4095 - round(4096 p11)`, `dv` as above,
//!   `W = round(w P21 s)` (the per-step voltage increment of a current jump `w`), threshold and
//!   bias as `lif_delta`.
//!
//! Biases become `bias_mant << bias_exp` with a 13-bit signed mantissa (`bias_parts`: the
//! smallest exponent `e` in `0..=7` for which `round(b / 2^e)` (half away from zero) fits in
//! `[-4095, 4095]`; beyond `4095 << 7` the mantissa saturates).
//!
//! **Current stimuli** (`current`, `step_current`) become per-compartment biases, as Loihi has a
//! bias per compartment: at every step where some stimulus switches, each driven neuron's
//! current is summed over the active stimuli in spec order in `f32` (as the engine sums
//! `i_ext`), converted to integer `v` units with the population's bias scale (`64 s` for
//! `lif_beta`, `64 s P20` for `lif_delta`/`lif_exp`, 1 for `loihi_lif`) and quantised with
//! `bias_parts` like the population's bias. The chip adds it to the population's bias; the
//! largest relative error is reported per population. What the chip cannot
//! express (reset by subtraction, refractory periods, a reset potential other than rest, `>=`
//! thresholds, `lif_exp`'s one-step lag between current and voltage, distinct inhibitory time
//! constants) is listed in the population's `notes`; the numeric errors (weights, thresholds,
//! decays, biases) are measured and reported.

use serde::Serialize;
use snn_core::Synaptic;
use snn_core::neuron::{LifDeltaPropagators, LifExpPropagators};
use snn_core::stimulus::StimulusPlan;
use snn_types::{Connectivity, LoihiLifParams, NeuronModel, Receptor, ResetMode, Step};

use crate::arch::{ArchSpec, ConvWeights};
use crate::compile::CompileOptions;
use crate::compile::check::Checked;

/// Sign mode of a projection's weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignMode {
    /// All weights >= 0: mantissa in `[0, 2^b - 1]`.
    Excitatory,
    /// All weights <= 0: mantissa in `[-(2^b - 1), 0]`.
    Inhibitory,
    /// Both signs: mantissa in `[-2^b, 2^b - 1]`.
    Mixed,
}

/// How one projection's weights were quantised.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProjectionQuant {
    /// Index in the spec.
    pub index: usize,
    /// Name (`source->target` when the spec gives none).
    pub name: String,
    /// Sign mode.
    pub sign_mode: SignMode,
    /// Exponent applied to every mantissa.
    pub weight_exp: u32,
    /// Integer weight units per unit of the spec's weight.
    pub weight_scale: f64,
    /// Largest absolute error of a synapse, in the spec's weight unit.
    pub max_abs_error: f64,
    /// Root-mean-square error over synapses relative to the largest weight magnitude.
    pub rms_rel_error: f64,
    /// Synapses whose weight had to be clipped to the mantissa range.
    pub clipped: u64,
    /// True when every weight is represented exactly.
    pub exact: bool,
}

/// How one population was mapped to the chip's neuron.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PopulationQuant {
    /// Name.
    pub name: String,
    /// The spec's model (`lif_exp`, `loihi_lif`, ...).
    pub source_model: String,
    /// The chip's parameters (`None` for input populations).
    pub params: Option<LoihiLifParams>,
    /// Integer `v` units per model unit of `v` (64 `s`; 1 for `loihi_lif`).
    pub v_scale: f64,
    /// Relative error of the threshold.
    pub threshold_rel_error: f64,
    /// Absolute error of the per-step membrane decay factor.
    pub v_decay_error: f64,
    /// Absolute error of the per-step current decay factor (`lif_exp` only).
    pub u_decay_error: f64,
    /// Relative error of the bias (0 when there is none).
    pub bias_rel_error: f64,
    /// Neurons that receive a per-compartment bias from current stimuli.
    pub stimulus_bias_neurons: u64,
    /// Largest relative error of a per-compartment bias from current stimuli, over neurons and
    /// switching steps (0 when there is none).
    pub stimulus_bias_rel_error: f64,
    /// Behaviours the chip cannot reproduce, in words.
    pub notes: Vec<String>,
}

/// Weight format limits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WeightFormat {
    pub bits: u32,
    pub num_bits: u32,
    pub max_exp: u32,
}

impl WeightFormat {
    fn range(&self, mode: SignMode) -> (i64, i64) {
        let m = (1i64 << self.bits) - 1;
        match mode {
            SignMode::Excitatory => (0, m),
            SignMode::Inhibitory => (-m, 0),
            SignMode::Mixed => (-m - 1, m),
        }
    }

    /// Picks sign mode and exponent for values (already in integer-weight units).
    pub(crate) fn choose(&self, lo: f64, hi: f64) -> (SignMode, u32) {
        let mode = if lo >= 0.0 {
            SignMode::Excitatory
        } else if hi <= 0.0 {
            SignMode::Inhibitory
        } else {
            SignMode::Mixed
        };
        let (a, b) = self.range(mode);
        let mut e = 0;
        while e < self.max_exp {
            let s = (1u64 << e) as f64;
            if (lo / s).round() >= a as f64 && (hi / s).round() <= b as f64 {
                break;
            }
            e += 1;
        }
        (mode, e)
    }

    /// The mantissa of `x` (integer-weight units) and whether it was clipped: rounded to the
    /// nearest integer at exponent `e`, clipped to the sign mode's range
    /// ([`lava_clip_weight`]), then truncated as Lava's bit-accurate `Dense` does
    /// ([`lava_truncate_weight`]).
    #[inline]
    pub(crate) fn mantissa(&self, x: f64, mode: SignMode, e: u32) -> (i16, bool) {
        let (a, b) = self.range(mode);
        let r = (x / (1u64 << e) as f64).round();
        let r = if r.is_finite() { r as i64 } else { 0 };
        let clipped = r < a || r > b;
        let c = lava_clip_weight(r, mode, self.bits);
        let t = lava_truncate_weight(c, mode, self.bits, self.num_bits);
        (t as i16, clipped)
    }
}

/// Lava's sign mode of a set of integer weights (`determine_sign_mode` in
/// `lava/utils/weightutils.py`): excitatory when none is negative, inhibitory when none is
/// positive, mixed otherwise. All zeros (or none) are excitatory, as in Lava.
pub fn lava_sign_mode(weights: &[i64]) -> SignMode {
    let lo = weights.iter().copied().min().unwrap_or(0);
    let hi = weights.iter().copied().max().unwrap_or(0);
    if lo >= 0 {
        SignMode::Excitatory
    } else if hi <= 0 {
        SignMode::Inhibitory
    } else {
        SignMode::Mixed
    }
}

/// Clips an integer weight mantissa to the range of its sign mode with `weight_bits` magnitude
/// bits, as Lava's `clip_weights` (8 bits on Loihi): excitatory `[0, 2^b - 1]`, inhibitory
/// `[-(2^b - 1), 0]` (Lava negates, clips to `[0, 2^b - 1]` and negates back), mixed
/// `[-2^b, 2^b - 1]`. `weight_bits` above 30 is treated as 30.
pub fn lava_clip_weight(weight: i64, mode: SignMode, weight_bits: u32) -> i64 {
    let m = (1i64 << weight_bits.min(30)) - 1;
    match mode {
        SignMode::Excitatory => weight.clamp(0, m),
        SignMode::Inhibitory => weight.clamp(-m, 0),
        SignMode::Mixed => weight.clamp(-m - 1, m),
    }
}

/// Truncates an integer weight mantissa to `num_weight_bits` of precision as Lava's
/// bit-accurate path does (`truncate_weights` in `lava/utils/weightutils.py`, applied by
/// `PyDenseModelBitAcc` after `clip_weights`): `k = weight_bits - num_weight_bits + is_mixed`
/// low bits are cleared with an arithmetic shift, `(w >> k) << k`, which rounds toward minus
/// infinity; an inhibitory weight is negated first and negated back, so it rounds toward zero.
/// With mixed sign one bit is always lost (the sign takes one of the `weight_bits`): at 8 bits
/// `{5, -3}` become `{4, -4}`. `num_weight_bits` is taken in `1..=weight_bits`; a shift of 63
/// or more bits is capped at 62.
pub fn lava_truncate_weight(
    weight: i64,
    mode: SignMode,
    weight_bits: u32,
    num_weight_bits: u32,
) -> i64 {
    let n = num_weight_bits.clamp(1, weight_bits.max(1));
    let k = (weight_bits - n + (mode == SignMode::Mixed) as u32).min(62);
    match mode {
        SignMode::Inhibitory => -(((-weight) >> k) << k),
        _ => (weight >> k) << k,
    }
}

/// Splits an integer bias into a 13-bit signed mantissa and a 3-bit exponent.
pub(crate) fn bias_parts(b: f64) -> (i32, u8) {
    for e in 0..=7u8 {
        let m = (b / (1u32 << e) as f64).round();
        if m.abs() <= 4095.0 {
            return (m as i32, e);
        }
    }
    let m = (b / 128.0).round().clamp(-4095.0, 4095.0);
    (m as i32, 7)
}

/// What a float population needs from its incoming weights to map.
pub(crate) struct FloatMap {
    pub params: LoihiLifParams,
    /// Integer `v` units per step per unit of external current (`i_ext`).
    pub bias_scale: f64,
    /// Integer weight units per spec weight unit, per receptor (excitatory, inhibitory).
    pub w_scale: (f64, f64),
    pub quant: PopulationQuant,
}

const VTH_MAX: f64 = ((1 << 17) - 1) as f64;

/// What the chip cannot do of a NEST-style LIF: refractory periods, a reset potential other
/// than rest, `>=` thresholds.
fn lif_notes(notes: &mut Vec<String>, t_ref_ms: f64, v_reset_mv: f64, e_l_mv: f64, dt_ms: f64) {
    if t_ref_ms >= 0.5 * dt_ms {
        notes.push(format!(
            "refractory period {t_ref_ms} ms is not modelled on the chip"
        ));
    }
    if v_reset_mv != e_l_mv {
        notes.push("v resets to E_L on the chip, not to V_reset".into());
    }
    notes.push("the chip spikes when v > threshold, the model when v >= threshold".into());
}

/// Maps a float model. `max_w` is the largest `|w| * k` over incoming synapses per receptor
/// (`k` = P21 for `lif_exp`, 1 otherwise) — the caller passes `(max_ex, max_in)` of raw `|w|`.
pub(crate) fn map_float(
    name: &str,
    model: &NeuronModel,
    dt_ms: f64,
    max_w: (f64, f64),
    w_max_mant: f64,
) -> Option<FloatMap> {
    let mut notes = Vec::new();
    // (dv, du, threshold, bias per step, per-receptor voltage increments per unit weight, E_L)
    // `i_ext` (current stimuli) enters as `bias_unit * i_ext` per step, like the bias.
    let mut bias_unit = 1.0;
    let (p22, p11, th, bias, k_ex, k_in, _e_l) = match model {
        NeuronModel::LifBeta(p) => {
            if p.reset == ResetMode::Subtract {
                notes.push(
                    "reset by subtraction is not available on the chip: v resets to 0".into(),
                );
            }
            (p.beta, 0.0, p.threshold, p.bias, 1.0, 1.0, 0.0)
        }
        NeuronModel::LifDelta(p) => {
            let LifDeltaPropagators { p22, p20 } = LifDeltaPropagators::new(p, dt_ms);
            lif_notes(&mut notes, p.t_ref_ms, p.v_reset_mv, p.e_l_mv, dt_ms);
            bias_unit = p20;
            (
                p22,
                0.0,
                p.v_th_mv - p.e_l_mv,
                p20 * p.i_e_pa,
                1.0,
                1.0,
                p.e_l_mv,
            )
        }
        NeuronModel::LifExp(p) => {
            // The engine's exact propagators (NEST's iaf_psc_exp).
            let k = LifExpPropagators::new(p, dt_ms);
            if p.tau_syn_in_ms != p.tau_syn_ex_ms {
                notes.push(
                    "the chip has one current decay: inhibitory inputs decay with tau_syn_ex"
                        .into(),
                );
            }
            notes.push(
                "the chip adds the current to v in the step it arrives, the model one step later"
                    .into(),
            );
            lif_notes(&mut notes, p.t_ref_ms, p.v_reset_mv, p.e_l_mv, dt_ms);
            bias_unit = k.p20;
            (
                k.p22,
                k.p11_ex,
                p.v_th_mv - p.e_l_mv,
                k.p20 * p.i_e_pa,
                k.p21_ex,
                k.p21_in,
                p.e_l_mv,
            )
        }
        _ => return None,
    };
    let is_exp = matches!(model, NeuronModel::LifExp(_));
    let largest = (max_w.0 * k_ex).max(max_w.1 * k_in);
    let mut s = if largest > 0.0 {
        w_max_mant / largest
    } else if th > 0.0 {
        4096.0 / th
    } else {
        1.0
    };
    if th > 0.0 && th * s > VTH_MAX {
        s = VTH_MAX / th;
        notes.push(
            "threshold limits the scale: the largest weight uses less than the full mantissa"
                .into(),
        );
    }
    let dv = (4096.0 * (1.0 - p22)).round().clamp(0.0, 4096.0) as u16;
    let du = if is_exp {
        (4095.0 - (4096.0 * p11).round()).clamp(0.0, 4095.0) as u16
    } else {
        4095
    };
    let vth_mant = (th * s).round().clamp(0.0, VTH_MAX) as i32;
    let bias_int = bias * 64.0 * s;
    let (bias_mant, bias_exp) = bias_parts(bias_int);
    let bias_back = ((bias_mant as i64) << bias_exp) as f64 / (64.0 * s);
    let params = LoihiLifParams {
        du,
        dv,
        vth_mant,
        bias_mant,
        bias_exp,
    };
    let quant = PopulationQuant {
        name: name.to_string(),
        source_model: model.name().to_string(),
        params: Some(params),
        v_scale: 64.0 * s,
        threshold_rel_error: if th != 0.0 {
            ((vth_mant as f64 / s - th) / th).abs()
        } else {
            0.0
        },
        v_decay_error: ((4096 - dv as i64) as f64 / 4096.0 - p22).abs(),
        u_decay_error: if is_exp {
            ((4096 - du as i64 - 1) as f64 / 4096.0 - p11).abs()
        } else {
            0.0
        },
        bias_rel_error: if bias != 0.0 {
            ((bias_back - bias) / bias).abs()
        } else {
            0.0
        },
        stimulus_bias_neurons: 0,
        stimulus_bias_rel_error: 0.0,
        notes,
    };
    Some(FloatMap {
        params,
        bias_scale: bias_unit * 64.0 * s,
        w_scale: (s * k_ex, s * k_in),
        quant,
    })
}

/// The result of the quantise pass.
#[derive(Debug)]
pub(crate) struct Quantised {
    /// The chip's neuron parameters per population (`None` for inputs).
    pub params: Vec<Option<LoihiLifParams>>,
    /// How each population was mapped.
    pub populations: Vec<PopulationQuant>,
    /// How each projection's weights were quantised.
    pub projections: Vec<ProjectionQuant>,
    /// Integer weight mantissas per projection (CSR order, or one for all: a `pool2d`
    /// projection has one uniform weight).
    pub mantissas: Vec<Synaptic<i16>>,
    /// Per `conv2d` projection: its kernel as integer weights (`mantissa << weight_exp`, the
    /// same rounding as its synapses), row-major `[C_out][C_in/groups][kh][kw]`.
    pub kernels: Vec<Option<Vec<i64>>>,
    /// Per `conv2d`/`pool2d` projection on an architecture with shared conv weights: what one
    /// output channel's kernel slice costs a core.
    pub shared: Vec<Option<SharedKernel>>,
    /// Per-compartment biases of the current stimuli, ordered by (step, neuron).
    pub bias_changes: Vec<BiasChange>,
    /// Weight precision used.
    pub num_weight_bits: u32,
    /// Bits per synapse of synaptic memory (stated by the architecture, or assumed: weight,
    /// sign, delay and target index).
    pub synapse_bits: u32,
}

/// The synaptic-memory cost of a conv or pool projection whose kernel a core stores once
/// ([`ConvWeights::Shared`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SharedKernel {
    /// Target neurons per output channel (`H_out * W_out`): local target `t` is in channel
    /// `t / channel_len`.
    pub channel_len: u32,
    /// Bits of one output channel's kernel slice: `C_in/groups x kh x kw` weights of
    /// `weight_bits + 1` bits.
    pub slice_bits: u64,
}

impl SharedKernel {
    /// Bits a core holding local targets `[lo, hi)` (non-empty) of the projection stores.
    pub fn bits_for_range(&self, lo: u32, hi: u32) -> u64 {
        let channels = (hi - 1) / self.channel_len - lo / self.channel_len + 1;
        channels as u64 * self.slice_bits
    }
}

fn bits_for(n: u64) -> u32 {
    if n <= 1 {
        0
    } else {
        64 - (n - 1).leading_zeros()
    }
}

fn exact_population(name: &str, model: &str, params: Option<LoihiLifParams>) -> PopulationQuant {
    PopulationQuant {
        name: name.to_string(),
        source_model: model.into(),
        params,
        v_scale: 1.0,
        threshold_rel_error: 0.0,
        v_decay_error: 0.0,
        u_decay_error: 0.0,
        bias_rel_error: 0.0,
        stimulus_bias_neurons: 0,
        stimulus_bias_rel_error: 0.0,
        notes: vec![],
    }
}

/// A per-compartment bias change: from `step` on, neuron `neuron` (global index) has the
/// stimulus bias `bias` (integer `v` units per step, `mantissa << exponent`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct BiasChange {
    pub step: Step,
    pub neuron: u32,
    pub bias: i64,
}

/// The quantised per-compartment biases of the spec's current stimuli, as changes ordered by
/// (step, neuron). `bias_scale[i]` is population `i`'s integer `v` units per unit of current
/// (`None`: no current stimulus may target it; the check pass refused those). Fills each
/// population's `stimulus_bias_*` fields.
pub(crate) fn stimulus_biases(
    c: &Checked<'_>,
    bias_scale: &[Option<f64>],
    populations: &mut [PopulationQuant],
) -> Vec<BiasChange> {
    let plan = StimulusPlan::from_spec(c.spec);
    if plan.currents.is_empty() {
        return Vec::new();
    }
    let pop_of = |g: u32| c.offsets.partition_point(|&o| o <= g as u64) - 1;
    let mut touched: Vec<u32> = plan
        .currents
        .iter()
        .flat_map(|cs| cs.neurons.iter().copied())
        .filter(|&g| bias_scale[pop_of(g)].is_some())
        .collect();
    touched.sort_unstable();
    touched.dedup();
    let slot = |g: u32| touched.binary_search(&g).ok();
    let mut sum = vec![0f32; touched.len()];
    let mut last = vec![0i64; touched.len()];
    let mut changes = Vec::new();
    for &t in plan.switch_steps.iter().filter(|&&t| t != Step::MAX) {
        // The engine's `i_ext` at step `t`: active amplitudes added in spec order, in f32.
        sum.fill(0.0);
        for cs in &plan.currents {
            let a = cs.amplitude(t);
            if a != 0.0 {
                for &g in &cs.neurons {
                    if let Some(k) = slot(g) {
                        sum[k] += a;
                    }
                }
            }
        }
        for (k, &g) in touched.iter().enumerate() {
            let pi = pop_of(g);
            let exact = sum[k] as f64 * bias_scale[pi].unwrap_or(0.0);
            let (m, e) = bias_parts(exact);
            let q = (m as i64) << e;
            if exact != 0.0 {
                let pq = &mut populations[pi];
                pq.stimulus_bias_rel_error = pq
                    .stimulus_bias_rel_error
                    .max(((q as f64 - exact) / exact).abs());
            }
            if q != last[k] {
                last[k] = q;
                changes.push(BiasChange {
                    step: t,
                    neuron: g,
                    bias: q,
                });
            }
        }
    }
    for &g in &touched {
        populations[pop_of(g)].stimulus_bias_neurons += 1;
    }
    changes.sort_unstable();
    changes
}

/// Runs the quantise pass: neuron parameters first (a float population's scale depends on its
/// largest incoming weight), then every projection's weights.
pub(crate) fn quantise(c: &Checked<'_>, arch: &ArchSpec, opt: &CompileOptions) -> Quantised {
    let spec = c.spec;
    let wf = WeightFormat {
        bits: arch.core.weight_bits,
        num_bits: opt
            .num_weight_bits
            .unwrap_or(arch.core.weight_bits)
            .clamp(1, arch.core.weight_bits),
        max_exp: arch.core.max_weight_exp,
    };
    let max_mant = ((1u64 << wf.bits) - 1) as f64;

    // Neuron parameters.
    let mut populations = Vec::new();
    let mut params: Vec<Option<LoihiLifParams>> = Vec::new();
    // Integer weight units per spec weight unit for (excitatory, inhibitory) inputs.
    let mut w_scale: Vec<(f64, f64)> = Vec::new();
    // Integer `v` units per unit of current stimulus, per population (`None`: not mappable).
    let mut bias_scale: Vec<Option<f64>> = Vec::new();
    for (i, p) in spec.populations.iter().enumerate() {
        bias_scale.push(match &p.neuron {
            NeuronModel::LoihiLif(_) => Some(1.0),
            _ => None,
        });
        match &p.neuron {
            NeuronModel::Input => {
                params.push(None);
                w_scale.push((1.0, 1.0));
                populations.push(exact_population(&p.name, "input", None));
            }
            NeuronModel::LoihiLif(lp) => {
                params.push(Some(*lp));
                w_scale.push((1.0, 1.0));
                populations.push(exact_population(&p.name, "loihi_lif", Some(*lp)));
            }
            model => {
                let mut mx = (0.0f64, 0.0f64);
                for (j, e) in c.projections.iter().enumerate() {
                    if e.target_pop != i || e.n_synapses() == 0 {
                        continue;
                    }
                    let m = match e.weights() {
                        Synaptic::Uniform(w) => w.abs() as f64,
                        Synaptic::PerSynapse(v) => {
                            v.iter().fold(0.0f64, |a, &w| a.max(w.abs() as f64))
                        }
                    };
                    if spec.projections[j].receptor == Receptor::Inhibitory
                        && matches!(model, NeuronModel::LifExp(_))
                    {
                        mx.1 = mx.1.max(m);
                    } else {
                        mx.0 = mx.0.max(m);
                    }
                }
                // Every model other than input and loihi_lif is a float model map_float knows.
                let fm = map_float(&p.name, model, spec.dt_ms, mx, max_mant);
                match fm {
                    Some(fm) => {
                        bias_scale[i] = Some(fm.bias_scale);
                        params.push(Some(fm.params));
                        w_scale.push(fm.w_scale);
                        populations.push(fm.quant);
                    }
                    None => {
                        params.push(None);
                        w_scale.push((1.0, 1.0));
                        populations.push(exact_population(&p.name, model.name(), None));
                    }
                }
            }
        }
    }

    let bias_changes = stimulus_biases(c, &bias_scale, &mut populations);

    // Weights: sign mode, exponent, mantissas (CSR order per projection).
    let mut projections = Vec::new();
    let mut mantissas = Vec::new();
    let mut kernels = Vec::new();
    let mut shared = Vec::new();
    for (j, e) in c.projections.iter().enumerate() {
        let pr = &spec.projections[j];
        let k = if pr.receptor == Receptor::Inhibitory {
            w_scale[e.target_pop].1
        } else {
            w_scale[e.target_pop].0
        };
        let ns = e.n_synapses();
        // A pool's synapses all carry one weight (the projection's, or its share of the window
        // for `average`): quantise it once.
        let pooled;
        let weights = match (e.weights(), &pr.connectivity) {
            (Synaptic::PerSynapse(v), Connectivity::Pool2d { .. }) if !v.is_empty() => {
                pooled = Synaptic::Uniform(v[0]);
                &pooled
            }
            (w, _) => w,
        };
        let (lo, hi) = match weights {
            Synaptic::Uniform(w) => (*w as f64 * k, *w as f64 * k),
            Synaptic::PerSynapse(v) => v.iter().fold((f64::MAX, f64::MIN), |(a, b), &w| {
                (a.min(w as f64 * k), b.max(w as f64 * k))
            }),
        };
        let (lo, hi) = if ns == 0 { (0.0, 0.0) } else { (lo, hi) };
        let (mode, wexp) = wf.choose(lo, hi);
        let (mut clipped, mut max_err, mut sq, mut wmax) = (0u64, 0.0f64, 0.0f64, 0.0f64);
        let one = |w: f32| {
            let (q, c) = wf.mantissa(w as f64 * k, mode, wexp);
            let back = ((q as i64) << wexp) as f64 / k;
            (q, c, (back - w as f64).abs())
        };
        // The kernel of a conv projection, rounded exactly as its synapses (which carry the
        // kernel's values as `f32`).
        kernels.push(match &pr.connectivity {
            Connectivity::Conv2d { weights, .. } => Some(
                weights
                    .iter()
                    .map(|&w| (one(w as f32).0 as i64) << wexp)
                    .collect(),
            ),
            _ => None,
        });
        shared.push(match c.geometry[j] {
            Some(g) if arch.conv_weights() == ConvWeights::Shared => {
                let [_, oh, ow] = g.out_shape();
                let [kh, kw] = g.kernel();
                Some(SharedKernel {
                    channel_len: oh * ow,
                    slice_bits: g.in_per_group() as u64
                        * kh as u64
                        * kw as u64
                        * (wf.bits as u64 + 1),
                })
            }
            _ => None,
        });
        let m = match weights {
            Synaptic::Uniform(w) => {
                let (q, c, err) = one(*w);
                if ns > 0 {
                    clipped = if c { ns as u64 } else { 0 };
                    max_err = err;
                    sq = err * err * ns as f64;
                    wmax = w.abs() as f64;
                }
                Synaptic::Uniform(q)
            }
            Synaptic::PerSynapse(v) => Synaptic::PerSynapse(
                v.iter()
                    .map(|&w| {
                        let (q, c, err) = one(w);
                        clipped += c as u64;
                        max_err = max_err.max(err);
                        sq += err * err;
                        wmax = wmax.max(w.abs() as f64);
                        q
                    })
                    .collect(),
            ),
        };
        let rms = if ns > 0 && wmax > 0.0 {
            (sq / ns as f64).sqrt() / wmax
        } else {
            0.0
        };
        projections.push(ProjectionQuant {
            index: j,
            name: e.name.clone(),
            sign_mode: mode,
            weight_exp: wexp,
            weight_scale: k,
            max_abs_error: max_err,
            rms_rel_error: rms,
            clipped,
            exact: max_err == 0.0,
        });
        mantissas.push(m);
    }
    let synapse_bits = arch.core.synapse_bits.unwrap_or_else(|| {
        wf.num_bits + 1 + bits_for(c.max_delay as u64) + bits_for(arch.core.compartments as u64)
    });
    Quantised {
        params,
        populations,
        projections,
        mantissas,
        kernels,
        shared,
        bias_changes,
        num_weight_bits: wf.num_bits,
        synapse_bits,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::check::check;
    use crate::compile::test_util::{net, small_arch};

    #[test]
    fn integer_weights_are_exact_and_large_ones_take_an_exponent() {
        let spec = net(60.0);
        let c = check(
            &spec,
            &small_arch(3),
            &snn_types::budget::MemoryBudget::unknown(),
        )
        .unwrap();
        let q = quantise(&c, &small_arch(3), &CompileOptions::default());
        assert_eq!(q.mantissas[0], Synaptic::Uniform(60));
        assert!(q.projections[0].exact);
        assert_eq!(q.projections[0].sign_mode, SignMode::Excitatory);
        let spec = net(1000.0);
        let c = check(
            &spec,
            &small_arch(3),
            &snn_types::budget::MemoryBudget::unknown(),
        )
        .unwrap();
        let q = quantise(&c, &small_arch(3), &CompileOptions::default());
        // 1000 = 250 << 2.
        assert_eq!(q.mantissas[0], Synaptic::Uniform(250));
        assert_eq!(q.projections[0].weight_exp, 2);
        assert_eq!(q.params[0], None);
        assert!(q.params[1].is_some());
    }

    #[test]
    fn fewer_weight_bits_truncate_toward_zero() {
        let spec = net(61.0);
        let c = check(
            &spec,
            &small_arch(3),
            &snn_types::budget::MemoryBudget::unknown(),
        )
        .unwrap();
        let opt = CompileOptions {
            num_weight_bits: Some(6),
            ..Default::default()
        };
        let q = quantise(&c, &small_arch(3), &opt);
        assert_eq!(q.mantissas[0], Synaptic::Uniform(60)); // multiples of 4
        assert_eq!(q.num_weight_bits, 6);
        assert!(!q.projections[0].exact);
    }

    #[test]
    fn lif_exp_uses_the_engines_propagators() {
        let p = snn_types::LifExpParams::default();
        let fm = map_float("x", &NeuronModel::LifExp(p), 0.1, (100.0, 0.0), 255.0).unwrap();
        let k = LifExpPropagators::new(&p, 0.1);
        let expect_dv = (4096.0 * (1.0 - k.p22)).round() as u16;
        assert_eq!(fm.params.dv, expect_dv);
        assert!((fm.w_scale.0 - 255.0 / 100.0).abs() < 1e-12);
    }
}
