//! Stimulus schedules in steps: the spec's stimuli resolved once into integer steps and global
//! neuron indices.
//!
//! This is the one place where stimulus times in milliseconds become steps. The engine cuts the
//! resulting [`StimulusPlan`] into its threads' ranges; the chip model takes the spike events and
//! Poisson sources of its input populations from the same plan, so both see the same inputs at the
//! same steps by construction.
//!
//! Poisson sources are counter-based: whether neuron `g` receives (or, for an input population,
//! emits) an event at step `t` is a pure function of `(seed, stimulus index, t, g)` (see
//! [`crate::rng::uniform_at`]), whichever thread or chip core asks.

use snn_types::{NetworkSpec, NeuronModel, Receptor, Step, StimulusSpec, ms_to_steps};

use crate::rng::{StreamKind, counter_key, uniform_at};

/// One scheduled spike-array event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StimulusEvent {
    /// Step at which it happens.
    pub step: Step,
    /// Global index of the neuron it reaches.
    pub neuron: u32,
    /// True when the target is an input population: the neuron fires. Otherwise `weight` is added
    /// to the neuron's input on `receptor` in this step.
    pub fire: bool,
    /// Weight added (ignored when `fire`).
    pub weight: f32,
    /// Receptor (ignored when `fire`).
    pub receptor: Receptor,
}

/// A Poisson source driving a contiguous range of neurons.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PoissonSource {
    /// Key of the counter-based stream (`(seed, Stimulus, stimulus index)`).
    pub key: u64,
    /// Expected events per neuron and step (`rate_hz * dt_ms / 1000`).
    pub lambda: f64,
    /// `exp(-lambda)`, precomputed for [`count`](Self::count).
    pub exp_neg_lambda: f64,
    /// Weight of each event (ignored when `fire`).
    pub weight: f32,
    /// Receptor (ignored when `fire`).
    pub receptor: Receptor,
    /// True when the target is an input population: a neuron fires when its draw is below
    /// `lambda`. Otherwise it receives [`count`](Self::count) events.
    pub fire: bool,
    /// First active step.
    pub start: Step,
    /// First step no longer active (`Step::MAX` when it never stops).
    pub stop: Step,
    /// Global index range `[lo, hi)` of the driven neurons.
    pub lo: u32,
    /// End of the driven range (exclusive).
    pub hi: u32,
}

impl PoissonSource {
    /// Whether the source runs at step `t`.
    #[inline]
    pub fn active(&self, t: Step) -> bool {
        t >= self.start && t < self.stop && self.lambda > 0.0
    }

    /// The uniform draw of neuron `g` at step `t`.
    #[inline(always)]
    pub fn draw(&self, t: Step, g: u32) -> f64 {
        uniform_at(self.key, t, g)
    }

    /// Whether input neuron `g` fires at step `t` (one event at most per step).
    #[inline(always)]
    pub fn fires(&self, t: Step, g: u32) -> bool {
        self.draw(t, g) < self.lambda
    }

    /// Number of events neuron `g` receives at step `t` (Poisson by inversion of its CDF).
    #[inline(always)]
    pub fn count(&self, t: Step, g: u32) -> u32 {
        poisson_count(self.draw(t, g), self.lambda, self.exp_neg_lambda)
    }
}

/// A current stimulus: a piecewise-constant amplitude over steps applied to a set of neurons.
#[derive(Debug, Clone, PartialEq)]
pub struct CurrentSchedule {
    /// Global indices of the neurons it drives, ascending.
    pub neurons: Vec<u32>,
    /// `(step, amplitude in pA from that step on)`, ascending by step; zero before the first.
    pub schedule: Vec<(Step, f32)>,
}

impl CurrentSchedule {
    /// The amplitude at step `t`.
    pub fn amplitude(&self, t: Step) -> f32 {
        let i = self.schedule.partition_point(|&(s, _)| s <= t);
        if i == 0 { 0.0 } else { self.schedule[i - 1].1 }
    }
}

/// Every stimulus of a spec, in steps and global neuron indices.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StimulusPlan {
    /// Spike-array events, ordered by step; events of one step keep the spec's order (stimulus,
    /// then train, then time), so sums are reproducible.
    pub events: Vec<StimulusEvent>,
    /// Poisson sources in spec order.
    pub poisson: Vec<PoissonSource>,
    /// Current stimuli in spec order.
    pub currents: Vec<CurrentSchedule>,
    /// Steps at which some current switches, ascending and distinct.
    pub switch_steps: Vec<Step>,
}

impl StimulusPlan {
    /// Resolves the stimuli of a validated spec. Stimuli that name an unknown population and
    /// spike-train neurons outside their population are skipped (validation reports them).
    pub fn from_spec(spec: &NetworkSpec) -> Self {
        let dt = spec.dt_ms;
        let offsets = spec.population_offsets();
        let step_of = |ms: f64, otherwise: Step| ms_to_steps(ms, dt).unwrap_or(otherwise);
        let mut plan = StimulusPlan::default();
        for (si, s) in spec.stimuli.iter().enumerate() {
            let Some(pi) = spec.population_index(s.target()) else {
                continue;
            };
            let pop = &spec.populations[pi];
            let (lo, size) = (offsets[pi] as u32, pop.size);
            let fire = matches!(pop.neuron, NeuronModel::Input);
            let neurons_of = |ix: &Option<Vec<u32>>| -> Vec<u32> {
                match ix {
                    None => (lo..lo + size).collect(),
                    Some(ix) => {
                        let mut v: Vec<u32> =
                            ix.iter().filter(|&&l| l < size).map(|&l| lo + l).collect();
                        v.sort_unstable();
                        v
                    }
                }
            };
            match s {
                StimulusSpec::Poisson {
                    rate_hz,
                    weight,
                    receptor,
                    start_ms,
                    stop_ms,
                    ..
                } => {
                    let lambda = rate_hz * dt * 1e-3;
                    plan.poisson.push(PoissonSource {
                        key: counter_key(spec.seed, StreamKind::Stimulus, si as u64),
                        lambda,
                        exp_neg_lambda: (-lambda).exp(),
                        weight: *weight as f32,
                        receptor: *receptor,
                        fire,
                        start: step_of(*start_ms, 0),
                        stop: stop_ms.map_or(Step::MAX, |t| step_of(t, Step::MAX)),
                        lo,
                        hi: lo + size,
                    });
                }
                StimulusSpec::Current {
                    amplitude,
                    start_ms,
                    stop_ms,
                    neurons,
                    ..
                } => {
                    let mut schedule = vec![(step_of(*start_ms, 0), *amplitude as f32)];
                    if let Some(t) = stop_ms {
                        schedule.push((step_of(*t, Step::MAX), 0.0));
                    }
                    schedule.sort_by_key(|&(s, _)| s);
                    plan.switch_steps.extend(schedule.iter().map(|x| x.0));
                    plan.currents.push(CurrentSchedule {
                        neurons: neurons_of(neurons),
                        schedule,
                    });
                }
                StimulusSpec::StepCurrent {
                    times_ms,
                    amplitudes,
                    neurons,
                    ..
                } => {
                    let schedule: Vec<(Step, f32)> = times_ms
                        .iter()
                        .zip(amplitudes)
                        .map(|(t, a)| (step_of(*t, 0), *a as f32))
                        .collect();
                    plan.switch_steps.extend(schedule.iter().map(|x| x.0));
                    plan.currents.push(CurrentSchedule {
                        neurons: neurons_of(neurons),
                        schedule,
                    });
                }
                StimulusSpec::SpikeArray {
                    weight,
                    receptor,
                    spikes,
                    ..
                } => {
                    for tr in spikes.iter().filter(|tr| tr.neuron < size) {
                        for t in &tr.times_ms {
                            if let Some(step) = ms_to_steps(*t, dt) {
                                plan.events.push(StimulusEvent {
                                    step,
                                    neuron: lo + tr.neuron,
                                    fire,
                                    weight: *weight as f32,
                                    receptor: *receptor,
                                });
                            }
                        }
                    }
                }
            }
        }
        // Stable: the events of one step keep the spec's order.
        plan.events.sort_by_key(|e| e.step);
        plan.switch_steps.sort_unstable();
        plan.switch_steps.dedup();
        plan
    }
}

/// Poisson count by inversion of the CDF at `u` (exact for `lambda <= 100`; above that a normal
/// approximation rounded to the nearest integer, which a per-step rate never needs in practice).
pub fn poisson_count(u: f64, lambda: f64, exp_neg_lambda: f64) -> u32 {
    if lambda > 100.0 {
        // Box-Muller would need a second draw; use the inverse of the normal CDF's logistic
        // approximation instead (error < 1% of sd), good enough for a far-saturated regime.
        let z = (u / (1.0 - u)).ln() / 1.702;
        return (lambda + z * lambda.sqrt()).round().max(0.0) as u32;
    }
    let mut k = 0u32;
    let mut p = exp_neg_lambda;
    let mut cdf = p;
    while u > cdf && k < 1000 {
        k += 1;
        p *= lambda / k as f64;
        cdf += p;
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(toml: &str) -> NetworkSpec {
        NetworkSpec::from_toml_str(toml).unwrap()
    }

    #[test]
    fn times_become_steps_and_neurons_global() {
        let s = spec(
            r#"
            dt_ms = 0.5
            [[populations]]
            name = "in"
            size = 3
            neuron = { model = "input" }
            [[populations]]
            name = "a"
            size = 4
            neuron = { model = "lif_delta" }
            [[stimuli]]
            kind = "spike_array"
            target = "a"
            weight = 2.0
            spikes = [{ neuron = 1, times_ms = [1.0, 0.5] }, { neuron = 3, times_ms = [0.5] }]
            [[stimuli]]
            kind = "spike_array"
            target = "in"
            spikes = [{ neuron = 2, times_ms = [0.0] }]
            [[stimuli]]
            kind = "current"
            target = "a"
            amplitude = 5.0
            start_ms = 1.0
            stop_ms = 2.0
            neurons = [2, 0]
        "#,
        );
        let p = StimulusPlan::from_spec(&s);
        let ev: Vec<(Step, u32, bool)> = p
            .events
            .iter()
            .map(|e| (e.step, e.neuron, e.fire))
            .collect();
        assert_eq!(
            ev,
            vec![(0, 2, true), (1, 4, false), (1, 6, false), (2, 4, false)]
        );
        assert_eq!(p.currents[0].neurons, vec![3, 5]);
        assert_eq!(p.currents[0].amplitude(1), 0.0);
        assert_eq!(p.currents[0].amplitude(2), 5.0);
        assert_eq!(p.currents[0].amplitude(4), 0.0);
        assert_eq!(p.switch_steps, vec![2, 4]);
    }

    #[test]
    fn poisson_counts_have_the_right_mean() {
        let src = PoissonSource {
            key: counter_key(7, StreamKind::Stimulus, 0),
            lambda: 0.3,
            exp_neg_lambda: (-0.3f64).exp(),
            weight: 1.0,
            receptor: Receptor::Excitatory,
            fire: false,
            start: 0,
            stop: Step::MAX,
            lo: 0,
            hi: 100,
        };
        let n: u64 = (0..2000u64)
            .flat_map(|t| (0..100u32).map(move |g| (t, g)))
            .map(|(t, g)| src.count(t, g) as u64)
            .sum();
        let mean = n as f64 / 200_000.0;
        assert!((mean - 0.3).abs() < 0.005, "{mean}");
    }
}
