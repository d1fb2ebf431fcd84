//! How a classifier's prediction is read from a run of its network.
//!
//! A [`NetworkSpec`] may carry a [`ReadoutSpec`] (the `[readout]` section): which input
//! population receives a sample and how it is coded, which population answers, over which window
//! of steps, and by which decision rule. [`Readout::from_spec`] resolves it against the network
//! (global neuron indices, integer steps); [`Readout::predict`] (spike counts) and
//! [`Readout::predict_membrane`] (recorded membrane traces) then turn one run into a class. Every
//! simulator that numbers neurons globally in spec order (the `snn-core` engine, the
//! `snn-neuromorphic` chip model) uses the same functions, so they cannot disagree on how a
//! prediction is made.
//!
//! **Timeline.** Times are milliseconds in the spec, rounded to whole steps of `dt_ms` with
//! [`ms_to_steps`] (like `delay_ms`), and integer [`Step`]s everywhere else. A run starts at step
//! 0 right after a reset; the sample is presented at steps `0..input.duration_ms`, the trainer's
//! own timeline. The answer arrives `input_shift_ms` later (the latency of the exported pipeline:
//! every synapse of the engine and the chip has a delay of at least one step, while a trainer's
//! layers see their inputs within the same step). The counting window is given in the trainer's
//! timeline and read in the run at
//! `[input_shift + window_start, input_shift + window_start + window)`; a run therefore lasts
//! [`Readout::run_steps`] = `input_shift + window_start + window` steps.
//!
//! **Decision rules.** `spike_count`: the class is the output neuron with the most spikes inside
//! the window. `mean_membrane`: the class is the output neuron with the highest mean membrane
//! value over the window (for non-spiking leaky-integrator readouts). Ties go to the lowest
//! index, so a silent output predicts class 0 — exactly what the trainer's own `argmax` does.
//!
//! ```
//! use snn_types::{NetworkSpec, Spike, SpikeRaster};
//! use snn_types::readout::Readout;
//!
//! let spec = NetworkSpec::from_toml_str(r#"
//!     dt_ms = 1.0
//!     [[populations]]
//!     name = "input"
//!     size = 4
//!     neuron = { model = "input" }
//!     [[populations]]
//!     name = "output"
//!     size = 3
//!     neuron = { model = "lif_beta", beta = 0.9, threshold = 1.0 }
//!     [readout]
//!     population = "output"
//!     rule = "spike_count"
//!     window_ms = 5.0
//!     input_shift_ms = 1.0
//!     [readout.input]
//!     population = "input"
//!     duration_ms = 5.0
//!     coding = { kind = "rate", p_max = 0.8 }
//! "#).unwrap();
//! spec.validate().unwrap();
//! let readout = Readout::from_spec(&spec).unwrap();
//! assert_eq!(readout.run_steps(), 6);
//! assert_eq!(readout.output_neurons(), 4..7);
//! // Neuron 6 (class 2) fires twice inside the window [1, 6); neuron 4's spike at step 0 is
//! // before the window and does not count.
//! let spikes = [(0, 4), (0, 4), (2, 6), (3, 5), (5, 6)]
//!     .map(|(step, neuron)| Spike { step, neuron });
//! let raster = SpikeRaster::from_spikes(0, 6, &spikes);
//! assert_eq!(readout.spike_counts(&raster), vec![0, 1, 2]);
//! assert_eq!(readout.predict(&raster), Some(2));
//! ```

use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::error::{SpecError, SpecIssue};
use crate::spec::NetworkSpec;
use crate::spike::SpikeRaster;
use crate::time::{Step, ms_to_steps};

/// The `[readout]` section of a spec: how a classifier's prediction is read from a run.
///
/// In TOML (an exported 64-128-10 network with rate-coded input):
///
/// ```toml
/// [readout]
/// population = "output"
/// rule = "spike_count"
/// window_start_ms = 0.0
/// window_ms = 25.0
/// input_shift_ms = 2.0
///
/// [readout.input]
/// population = "input"
/// duration_ms = 25.0
/// coding = { kind = "rate", p_max = 0.8 }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadoutSpec {
    /// The output population; its local neuron `k` stands for class `k`. Not an input population.
    pub population: String,
    /// How the class is decided.
    pub rule: ReadoutRule,
    /// Start of the counting window (ms) in the trainer's timeline (the sample starts at 0).
    /// Default 0.
    #[serde(default)]
    pub window_start_ms: f64,
    /// Length of the counting window (ms); at least one step.
    pub window_ms: f64,
    /// How much later (ms) the output responds than in the trainer's timeline: the latency of the
    /// exported pipeline. The window is read shifted by this much. Default 0.
    #[serde(default)]
    pub input_shift_ms: f64,
    /// Where and how a sample enters the network.
    pub input: ReadoutInput,
}

/// The decision rule of a readout. Ties go to the lowest class index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadoutRule {
    /// The output neuron with the most spikes inside the window.
    SpikeCount,
    /// The output neuron with the highest mean membrane value over the window; needs the spec to
    /// record the membrane (`v`) of every output neuron in `recording.state`.
    MeanMembrane,
}

impl ReadoutRule {
    /// The rule's name as written in a spec (`spike_count`, `mean_membrane`).
    pub fn name(&self) -> &'static str {
        match self {
            ReadoutRule::SpikeCount => "spike_count",
            ReadoutRule::MeanMembrane => "mean_membrane",
        }
    }
}

/// Where and how a sample enters the network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadoutInput {
    /// The input population (model `input`); its local neuron `i` stands for feature `i`.
    pub population: String,
    /// How long (ms) a sample is presented, from step 0: the trainer's timeline.
    pub duration_ms: f64,
    /// How a sample's features become activity of the input population.
    pub coding: InputCoding,
}

/// How a sample's features become activity of the input population.
///
/// In TOML: `coding = { kind = "direct" }`, `{ kind = "rate", p_max = 0.8 }`,
/// `{ kind = "latency", threshold = 0.05 }` or `{ kind = "events", duration_us = 300000 }`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum InputCoding {
    /// Direct (current) coding: the input neurons do not spike; their analog values `x` reach
    /// the targets of the input population's projections as a constant current `x W` (weights of
    /// those projections), applied at every step from step 0 without delay.
    Direct,
    /// Bernoulli rate coding: input `i` spikes at each step with probability
    /// `clamp(x_i * p_max, 0, 1)`.
    Rate {
        /// Spike probability per step at full intensity, in `[0, 1]`.
        p_max: f64,
    },
    /// Latency (time-to-first-spike) coding, linear: at most one spike per input, brighter
    /// inputs earlier; inputs at or below `threshold` stay silent.
    Latency {
        /// Intensity at or below which an input stays silent.
        threshold: f64,
    },
    /// Event recordings binned into one frame per step over `duration_us`; an input spikes at a
    /// step when its bin holds an event.
    Events {
        /// Recording window (µs) split into the presentation's steps; at least 1.
        duration_us: u32,
    },
}

impl InputCoding {
    /// True when the input population fires spikes (every coding but `direct`).
    pub fn is_spiking(&self) -> bool {
        !matches!(self, InputCoding::Direct)
    }

    /// The coding's name as written in a spec (`direct`, `rate`, `latency`, `events`).
    pub fn name(&self) -> &'static str {
        match self {
            InputCoding::Direct => "direct",
            InputCoding::Rate { .. } => "rate",
            InputCoding::Latency { .. } => "latency",
            InputCoding::Events { .. } => "events",
        }
    }
}

/// A [`ReadoutSpec`] resolved against its network: global neuron indices and integer steps.
#[derive(Debug, Clone, PartialEq)]
pub struct Readout {
    rule: ReadoutRule,
    output_population: usize,
    outputs: Range<u32>,
    input_population: usize,
    inputs: Range<u32>,
    coding: InputCoding,
    input_steps: Step,
    input_shift: Step,
    window_start: Step,
    window_steps: Step,
}

fn invalid(path: &str, message: impl Into<String>) -> SpecError {
    SpecError::Invalid {
        origin: None,
        issues: vec![SpecIssue {
            path: path.into(),
            message: message.into(),
        }],
    }
}

impl Readout {
    /// Resolves the spec's `[readout]` section. Fails (with every problem and its path) when the
    /// spec has no readout or the readout is invalid; the rest of the spec is not checked here.
    pub fn from_spec(spec: &NetworkSpec) -> Result<Self, SpecError> {
        let Some(r) = &spec.readout else {
            return Err(invalid("readout", "the spec has no readout section"));
        };
        let issues = crate::validate::check_readout(spec, r);
        if !issues.is_empty() {
            return Err(SpecError::Invalid {
                origin: None,
                issues,
            });
        }
        let offsets = spec.population_offsets();
        let range = |path: &str, name: &str| {
            let i = spec
                .population_index(name)
                .ok_or_else(|| invalid(path, format!("'{name}' is not a population")))?;
            let (a, b) = (offsets[i], offsets[i + 1]);
            let a = u32::try_from(a).map_err(|_| invalid(path, "neuron index exceeds u32"))?;
            let b = u32::try_from(b).map_err(|_| invalid(path, "neuron index exceeds u32"))?;
            Ok::<_, SpecError>((i, a..b))
        };
        let (output_population, outputs) = range("readout.population", &r.population)?;
        let (input_population, inputs) = range("readout.input.population", &r.input.population)?;
        let steps = |path: &str, ms: f64| {
            ms_to_steps(ms, spec.dt_ms)
                .ok_or_else(|| invalid(path, format!("{ms} ms is not a valid duration")))
        };
        let readout = Readout {
            rule: r.rule,
            output_population,
            outputs,
            input_population,
            inputs,
            coding: r.input.coding,
            input_steps: steps("readout.input.duration_ms", r.input.duration_ms)?,
            input_shift: steps("readout.input_shift_ms", r.input_shift_ms)?,
            window_start: steps("readout.window_start_ms", r.window_start_ms)?,
            window_steps: steps("readout.window_ms", r.window_ms)?,
        };
        if readout.run_steps_checked().is_none() {
            return Err(invalid("readout.window_ms", "the run would be too long"));
        }
        Ok(readout)
    }

    fn run_steps_checked(&self) -> Option<Step> {
        self.input_shift
            .checked_add(self.window_start)?
            .checked_add(self.window_steps)
    }

    /// The decision rule.
    pub fn rule(&self) -> ReadoutRule {
        self.rule
    }

    /// Index (in spec order) of the output population.
    pub fn output_population(&self) -> usize {
        self.output_population
    }

    /// Global indices of the output neurons; class `k` is neuron `start + k`.
    pub fn output_neurons(&self) -> Range<u32> {
        self.outputs.clone()
    }

    /// Number of classes (output neurons).
    pub fn n_classes(&self) -> usize {
        self.outputs.len()
    }

    /// Index (in spec order) of the input population.
    pub fn input_population(&self) -> usize {
        self.input_population
    }

    /// Global indices of the input neurons; feature `i` is neuron `start + i`.
    pub fn input_neurons(&self) -> Range<u32> {
        self.inputs.clone()
    }

    /// How a sample is coded.
    pub fn coding(&self) -> InputCoding {
        self.coding
    }

    /// Steps over which a sample is presented (from step 0): the trainer's timeline.
    pub fn input_steps(&self) -> Step {
        self.input_steps
    }

    /// Latency of the exported pipeline in steps: how much later the output responds than in
    /// the trainer's timeline.
    pub fn input_shift(&self) -> Step {
        self.input_shift
    }

    /// The counting window in steps of the run (absolute: shift included).
    pub fn window(&self) -> Range<Step> {
        let a = self.input_shift + self.window_start;
        a..a + self.window_steps
    }

    /// Steps to run after a reset so that the whole window is simulated.
    pub fn run_steps(&self) -> Step {
        self.window().end
    }

    /// Spikes of every output neuron inside the window. `raster` holds global neuron indices
    /// (other neurons are ignored) at absolute steps of the run (step 0 = first step after a
    /// reset).
    pub fn spike_counts(&self, raster: &SpikeRaster) -> Vec<u32> {
        let mut counts = vec![0u32; self.n_classes()];
        let w = self.window();
        let start = raster.start_step();
        for s in 0..raster.n_steps() {
            if !w.contains(&(start + s)) {
                continue;
            }
            for &g in raster.at(s) {
                if self.outputs.contains(&g) {
                    counts[(g - self.outputs.start) as usize] += 1;
                }
            }
        }
        counts
    }

    /// Mean membrane value of every output neuron over the window. `traces[k][s]` is output
    /// neuron `k`'s membrane after step `s` of the run. `None` when there is not one trace per
    /// output neuron or a trace does not cover the window.
    pub fn membrane_means<T: AsRef<[f32]>>(&self, traces: &[T]) -> Option<Vec<f32>> {
        if traces.len() != self.n_classes() {
            return None;
        }
        let w = self.window();
        let (a, b) = (usize::try_from(w.start).ok()?, usize::try_from(w.end).ok()?);
        let n = self.window_steps as f32;
        traces
            .iter()
            .map(|t| {
                let v = t.as_ref().get(a..b)?;
                // Summed in step order in f32, then divided: the trainer's arithmetic.
                let mut z = 0.0f32;
                for &x in v {
                    z += x;
                }
                Some(z / n)
            })
            .collect()
    }

    /// The class predicted from the run's spikes under the `spike_count` rule (see
    /// [`spike_counts`](Self::spike_counts) for the raster's convention); ties go to the lowest
    /// index. `None` when the rule is not `spike_count` or there are no classes.
    pub fn predict(&self, raster: &SpikeRaster) -> Option<usize> {
        match self.rule {
            ReadoutRule::SpikeCount => argmax(&self.spike_counts(raster)),
            ReadoutRule::MeanMembrane => None,
        }
    }

    /// The class predicted from the output neurons' membrane traces under the `mean_membrane`
    /// rule (see [`membrane_means`](Self::membrane_means) for the traces' convention); ties go to
    /// the lowest index. `None` when the rule is not `mean_membrane` or the traces do not fit.
    pub fn predict_membrane<T: AsRef<[f32]>>(&self, traces: &[T]) -> Option<usize> {
        match self.rule {
            ReadoutRule::MeanMembrane => argmax(&self.membrane_means(traces)?),
            ReadoutRule::SpikeCount => None,
        }
    }
}

/// Index of the largest score; ties go to the lowest index, and a NaN never wins over an
/// earlier score. `None` when `scores` is empty.
///
/// ```
/// assert_eq!(snn_types::readout::argmax(&[1, 3, 3, 0]), Some(1));
/// assert_eq!(snn_types::readout::argmax::<f32>(&[]), None);
/// ```
pub fn argmax<T: PartialOrd>(scores: &[T]) -> Option<usize> {
    let mut best = 0;
    for (i, x) in scores.iter().enumerate().skip(1) {
        if *x > scores[best] {
            best = i;
        }
    }
    (!scores.is_empty()).then_some(best)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spike::Spike;

    fn spec(rule: &str, extra: &str) -> NetworkSpec {
        NetworkSpec::from_toml_str(&format!(
            r#"
            dt_ms = 0.5
            [[populations]]
            name = "in"
            size = 2
            neuron = {{ model = "input" }}
            [[populations]]
            name = "out"
            size = 3
            neuron = {{ model = "lif_beta", beta = 0.9, threshold = 1.0 }}
            {extra}
            [readout]
            population = "out"
            rule = "{rule}"
            window_start_ms = 0.5
            window_ms = 1.0
            input_shift_ms = 1.0
            [readout.input]
            population = "in"
            duration_ms = 1.5
            coding = {{ kind = "direct" }}
            "#
        ))
        .unwrap()
    }

    #[test]
    fn resolves_steps_and_indices() {
        let s = spec("spike_count", "");
        s.validate().unwrap();
        let r = Readout::from_spec(&s).unwrap();
        assert_eq!(r.window(), 3..5);
        assert_eq!(r.run_steps(), 5);
        assert_eq!(r.input_steps(), 3);
        assert_eq!(r.input_shift(), 2);
        assert_eq!(r.output_neurons(), 2..5);
        assert_eq!(r.input_neurons(), 0..2);
        assert_eq!((r.output_population(), r.input_population()), (1, 0));
        assert!(!r.coding().is_spiking());
    }

    #[test]
    fn spike_count_window_and_ties() {
        let r = Readout::from_spec(&spec("spike_count", "")).unwrap();
        let sp = |v: &[(u64, u32)]| {
            let s: Vec<Spike> = v
                .iter()
                .map(|&(step, neuron)| Spike { step, neuron })
                .collect();
            SpikeRaster::from_spikes(0, 6, &s)
        };
        // Outside the window (steps 2 and 5) and input spikes do not count.
        let r1 = sp(&[(2, 2), (5, 2), (3, 0), (3, 3), (4, 4)]);
        assert_eq!(r.spike_counts(&r1), vec![0, 1, 1]);
        assert_eq!(r.predict(&r1), Some(1), "tie: lowest index");
        assert_eq!(r.predict(&sp(&[])), Some(0), "silence: class 0");
        // A raster starting later is read at absolute steps.
        let late = SpikeRaster::from_spikes(4, 1, &[Spike { step: 4, neuron: 4 }]);
        assert_eq!(r.predict(&late), Some(2));
        assert_eq!(r.predict_membrane(&[[0.0f32; 6]; 3]), None);
    }

    #[test]
    fn membrane_mean_over_window() {
        let extra = r#"
            [[recording.state]]
            population = "out"
            neurons = [0, 1, 2]
        "#;
        let s = spec("mean_membrane", extra);
        s.validate().unwrap();
        let r = Readout::from_spec(&s).unwrap();
        let traces = vec![
            vec![9.0f32, 9.0, 9.0, 1.0, 1.0],
            vec![0.0, 0.0, 0.0, 2.0, 0.0],
            vec![0.0, 0.0, 0.0, 0.0, 3.0],
        ];
        assert_eq!(r.membrane_means(&traces), Some(vec![1.0, 1.0, 1.5]));
        assert_eq!(r.predict_membrane(&traces), Some(2));
        assert_eq!(
            r.predict_membrane(&traces[..2]),
            None,
            "one trace per class"
        );
        assert_eq!(r.predict_membrane(&[[0.0f32; 4]; 3]), None, "too short");
        assert_eq!(r.predict(&SpikeRaster::new(0)), None);
    }

    #[test]
    fn argmax_rules() {
        assert_eq!(argmax(&[0.5f32, f32::NAN, 0.5, 0.7]), Some(3));
        assert_eq!(argmax(&[2u32, 2, 1]), Some(0));
        assert_eq!(argmax::<u32>(&[]), None);
    }

    #[test]
    fn missing_section_is_an_error() {
        let mut s = spec("spike_count", "");
        s.readout = None;
        let e = Readout::from_spec(&s).unwrap_err();
        assert_eq!(e.issues()[0].path, "readout");
    }
}
