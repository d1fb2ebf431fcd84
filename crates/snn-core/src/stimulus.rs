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

use crate::rng::{StreamKind, counter_key, mix64, uniform_at};

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

    /// [`fires`](Self::fires) for neurons `g0, g0 + 1, ...` at step `t`, one byte (0 or 1)
    /// each in `out`: the same answers, computed without branches in one straight loop over the
    /// block. `draw < lambda` is decided on the draw's 53 integer bits against
    /// `ceil(lambda 2^53)` ([`fire_threshold`](Self::fire_threshold)), which is exact, and the
    /// step's part of the hash is computed once.
    pub fn fires_block(&self, t: Step, g0: u32, out: &mut [u8]) {
        let thr = self.fire_threshold();
        let h_t = mix64(self.key ^ t);
        #[cfg(target_arch = "x86_64")]
        match crate::neuron::isa() {
            // SAFETY: `isa()` saw every feature the functions enable.
            crate::neuron::Isa::Avx512 => unsafe { fires_block_avx512(h_t, thr, g0, out) },
            crate::neuron::Isa::Avx2 => unsafe { fires_block_avx2(h_t, thr, g0, out) },
            crate::neuron::Isa::Base => fires_block_body(h_t, thr, g0, out),
        }
        #[cfg(not(target_arch = "x86_64"))]
        fires_block_body(h_t, thr, g0, out);
    }

    /// The integer form of `draw < lambda`: a draw is `x 2^-53` with `x` a 53-bit integer, and
    /// `x 2^-53 < lambda` holds exactly when `x < ceil(lambda 2^53)` (`lambda 2^53` is exact in
    /// `f64`; a `lambda` of 1 or more gives a threshold above every `x`).
    #[inline]
    pub fn fire_threshold(&self) -> u64 {
        if self.lambda > 0.0 {
            // Saturating conversion; lambda <= 1 gives at most 2^53.
            (self.lambda * (1u64 << 53) as f64).ceil() as u64
        } else {
            0
        }
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

/// The CDF table of a Poisson distribution for [`poisson_count`]'s inversion: the same partial
/// sums, computed in the same order, so [`count`](Self::count) returns exactly what
/// `poisson_count(u, lambda, exp_neg_lambda)` returns for every `u` in `[0, 1)`, without its
/// divisions and serial multiply-add chain (same random stream, same counts).
#[derive(Debug, Clone, PartialEq)]
pub struct PoissonTable {
    lambda: f64,
    exp_neg_lambda: f64,
    /// `cdf[k] = P(X <= k)` as `poisson_count` accumulates it, up to the first entry at or above
    /// 1 (then every `u < 1` stops there) or 1,000 entries; empty above `lambda = 100` (the normal
    /// approximation, computed directly).
    cdf: Vec<f64>,
    /// The first [`POISSON_HEAD`] entries, padded with `+inf` (never below a draw).
    head: [f64; POISSON_HEAD],
}

/// Entries [`PoissonTable::count`] compares without a branch before it scans further.
const POISSON_HEAD: usize = 8;

/// `out[i]` = the number of `head` entries below draw `uniform_at(key, t, g0 + i)` (the count
/// when it is below [`POISSON_HEAD`]).
#[inline(always)]
fn head_counts_body(head: &[f64; POISSON_HEAD], key: u64, t: Step, g0: u32, out: &mut [u32]) {
    let k1 = mix64(key ^ t);
    for (i, o) in out.iter_mut().enumerate() {
        // `uniform_at(key, t, g0 + i)`, with the step's half of the hash hoisted.
        let h = mix64(k1 ^ g0.wrapping_add(i as u32) as u64);
        let u = (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
        *o = head.iter().map(|&c| (c < u) as u32).sum();
    }
}

/// [`PoissonSource::fires_block`]'s loop, given the step's hash `h_t` and the threshold.
#[inline(always)]
fn fires_block_body(h_t: u64, thr: u64, g0: u32, out: &mut [u8]) {
    for (i, o) in out.iter_mut().enumerate() {
        let h = mix64(h_t ^ g0.wrapping_add(i as u32) as u64);
        *o = ((h >> 11) < thr) as u8;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn fires_block_avx2(h_t: u64, thr: u64, g0: u32, out: &mut [u8]) {
    fires_block_body(h_t, thr, g0, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq")]
fn fires_block_avx512(h_t: u64, thr: u64, g0: u32, out: &mut [u8]) {
    fires_block_body(h_t, thr, g0, out)
}

fn head_counts(head: &[f64; POISSON_HEAD], key: u64, t: Step, g0: u32, out: &mut [u32]) {
    head_counts_body(head, key, t, g0, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq")]
fn head_counts_avx512(head: &[f64; POISSON_HEAD], key: u64, t: Step, g0: u32, out: &mut [u32]) {
    head_counts_body(head, key, t, g0, out)
}

impl PoissonTable {
    /// The table of `lambda` (with `exp_neg_lambda = exp(-lambda)`, as stored in
    /// [`PoissonSource`]).
    pub fn new(lambda: f64, exp_neg_lambda: f64) -> Self {
        let mut cdf = Vec::new();
        if lambda <= 100.0 {
            let mut p = exp_neg_lambda;
            let mut c = p;
            cdf.push(c);
            let mut k = 0u32;
            while c < 1.0 && k < 1000 {
                k += 1;
                p *= lambda / k as f64;
                c += p;
                cdf.push(c);
            }
        }
        let mut head = [f64::INFINITY; POISSON_HEAD];
        for (h, &c) in head.iter_mut().zip(&cdf) {
            *h = c;
        }
        Self {
            lambda,
            exp_neg_lambda,
            cdf,
            head,
        }
    }

    /// The counts of neurons `g0, g0 + 1, ...` at step `t` of the counter-based stream `key`:
    /// `out[i] = self.count(uniform_at(key, t, g0 + i))`, computed `POISSON_HEAD`-wide
    /// without branches (vectorised where the CPU allows), then the rare draws beyond the head
    /// finished one by one.
    pub fn counts(&self, key: u64, t: Step, g0: u32, out: &mut [u32]) {
        if self.cdf.is_empty() {
            for (i, o) in out.iter_mut().enumerate() {
                *o = self.count(uniform_at(key, t, g0 + i as u32));
            }
            return;
        }
        #[cfg(target_arch = "x86_64")]
        if crate::neuron::isa() == crate::neuron::Isa::Avx512 {
            // SAFETY: `isa()` saw every feature the function enables (F, BW, VL, DQ).
            unsafe { head_counts_avx512(&self.head, key, t, g0, out) };
        } else {
            head_counts(&self.head, key, t, g0, out);
        }
        #[cfg(not(target_arch = "x86_64"))]
        head_counts(&self.head, key, t, g0, out);
        for (i, o) in out.iter_mut().enumerate() {
            if *o as usize == POISSON_HEAD {
                *o = self.count(uniform_at(key, t, g0 + i as u32));
            }
        }
    }

    /// The count for uniform draw `u`: the smallest `k` with `u <= cdf[k]` (1,000 at most), as
    /// [`poisson_count`]. The CDF is nondecreasing, so among the first entries that smallest `k`
    /// is the number of entries below `u`, counted without branches.
    #[inline(always)]
    pub fn count(&self, u: f64) -> u32 {
        let cdf = &self.cdf[..];
        if cdf.is_empty() {
            return poisson_count(u, self.lambda, self.exp_neg_lambda);
        }
        if cdf.len() >= POISSON_HEAD {
            let head: &[f64; POISSON_HEAD] = cdf[..POISSON_HEAD].try_into().expect("head");
            let below = head.iter().map(|&c| (c < u) as u32).sum::<u32>();
            if (below as usize) < POISSON_HEAD {
                return below;
            }
        }
        let mut k = 0usize;
        while k < cdf.len() && u > cdf[k] {
            k += 1;
        }
        // Past the table only when it stopped at 1,000 entries below 1.
        k.min(1000) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(toml: &str) -> NetworkSpec {
        NetworkSpec::from_toml_str(toml).unwrap()
    }

    fn fire_source(key: u64, lambda: f64) -> PoissonSource {
        PoissonSource {
            key,
            lambda,
            exp_neg_lambda: (-lambda).exp(),
            weight: 1.0,
            receptor: Receptor::Excitatory,
            fire: true,
            start: 0,
            stop: Step::MAX,
            lo: 0,
            hi: 1000,
        }
    }

    /// The branch-free block decision is the per-neuron one, bit for bit, on every
    /// instruction-set tier: rates from 0 to above one event per step, neuron indices that wrap,
    /// and `lambda` equal to a neuron's own draw (which must not fire: `draw < lambda`) or the
    /// next float above it (which must).
    #[test]
    fn fires_block_equals_fires() {
        use crate::neuron::{Isa, force_isa};
        let key = counter_key(7, StreamKind::Stimulus, 3);
        let u = uniform_at(key, 99, 5 + 40);
        let exact = 12345.0 / (1u64 << 53) as f64;
        let lambdas = [
            0.0,
            1e-300,
            exact,
            1e-3,
            0.0015,
            0.37,
            u,
            f64::from_bits(u.to_bits() + 1),
            0.999_999,
            1.0,
            3.5,
        ];
        let mut out = [0u8; 300];
        for cap in [Isa::Base, Isa::Avx2, Isa::Avx512] {
            force_isa(Some(cap));
            for lambda in lambdas {
                let src = fire_source(key, lambda);
                let mut fired = 0;
                for t in [0u64, 1, 99, 1 << 40] {
                    for g0 in [0u32, 5, u32::MAX - 100] {
                        src.fires_block(t, g0, &mut out[..257]);
                        for (i, &o) in out[..257].iter().enumerate() {
                            let g = g0.wrapping_add(i as u32);
                            assert_eq!(
                                o == 1,
                                src.fires(t, g),
                                "{cap:?} lambda {lambda} t {t} g {g}"
                            );
                            fired += o as u32;
                        }
                    }
                }
                if lambda >= 1.0 {
                    assert_eq!(fired, 12 * 257);
                }
                if lambda == 0.0 {
                    assert_eq!(fired, 0);
                }
            }
            // Neuron 45 at step 99 draws exactly `u`: at lambda = u it does not fire, just
            // above it does.
            src_at(key, u, &mut out, false);
            src_at(key, f64::from_bits(u.to_bits() + 1), &mut out, true);
        }
        force_isa(None);
        assert_eq!(
            fire_source(key, (1u64 << 40) as f64 / (1u64 << 53) as f64).fire_threshold(),
            1 << 40
        );
    }

    fn src_at(key: u64, lambda: f64, out: &mut [u8], fires: bool) {
        fire_source(key, lambda).fires_block(99, 5, &mut out[..100]);
        assert_eq!(out[40] == 1, fires, "lambda {lambda}");
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

    /// The table gives exactly the counts of the direct inversion, at the CDF's own values (the
    /// boundaries), just beside them and on a grid, for small, medium and large means.
    #[test]
    fn poisson_table_matches_direct_inversion() {
        for lambda in [
            1e-6, 0.01, 0.3, 1.0, 1.6, 2.2, 7.5, 30.0, 99.0, 100.0, 150.0,
        ] {
            let e = f64::exp(-lambda);
            let t = PoissonTable::new(lambda, e);
            let mut us: Vec<f64> = (0..20_000).map(|i| i as f64 / 20_000.0).collect();
            for &c in &t.cdf {
                if c < 1.0 {
                    us.extend([
                        c,
                        f64::from_bits(c.to_bits() + 1),
                        f64::from_bits(c.to_bits() - 1),
                    ]);
                }
            }
            us.extend([0.0, 1.0 - f64::EPSILON / 2.0, 0.999_999_999_9]);
            for u in us {
                assert_eq!(
                    t.count(u),
                    poisson_count(u, lambda, e),
                    "lambda {lambda} u {u}"
                );
            }
            // The block form, on every instruction-set tier, equals the per-neuron draws.
            let key = counter_key(3, StreamKind::Stimulus, 1);
            let mut out = vec![0u32; 1000];
            for cap in [crate::neuron::Isa::Base, crate::neuron::Isa::Avx512] {
                crate::neuron::force_isa(Some(cap));
                for step in [0u64, 17, 123_456] {
                    t.counts(key, step, 40, &mut out);
                    for (i, &n) in out.iter().enumerate() {
                        let u = uniform_at(key, step, 40 + i as u32);
                        assert_eq!(n, poisson_count(u, lambda, e), "lambda {lambda} {cap:?}");
                    }
                }
            }
            crate::neuron::force_isa(None);
        }
    }
}
