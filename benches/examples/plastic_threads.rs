//! A plastic 40,000-neuron network on 1 and 2 threads (issue 15's plastic scaling target).
//!
//! ```text
//! cargo run --release -p snn-benches --example plastic_threads -- [MS] [REPEATS] [NEURONS]
//! ```
//!
//! Builds `snn_core::models::cuba(NEURONS, 1)` (default 40,000 neurons, 32M synapses) and puts
//! pair STDP ([`PairStdp`], Song et al. 2000: additive, all-to-all, `tau+ = tau- = 20 ms`,
//! `A- / A+ = 1.05`) on its `exc -> exc` projection (projection 0, 20.5M synapses at 40,000
//! neurons), weights bounded to `[0, 2 w_e]` with `w_e = 1.62` (CUBA's excitatory weight),
//! `A+ = 0.005 w_max` (Song et al.'s value; `SNN_A_PLUS=0.0001` sets another, in units of
//! `w_max`): the network stays in its asynchronous low-rate regime (1.3 Hz over 500 ms against
//! 1.1 Hz without learning, `SNN_STATIC=1`). For each thread count (1, 2, alternated `REPEATS` times, default 1) it builds the
//! network, attaches the rule, simulates 100 ms of warm-up (untimed; one `run` call) and then
//! `MS` ms (default 500; one `run` call, timed: the fork and join of the rule and weights are
//! included). Prints wall times, the ratio, spikes of the timed run and a checksum of the learned
//! weights; spikes (a hash of every (step, neuron)) and weights must be identical for 1 and 2
//! threads (asserted). `SNN_THREADS=2` (or `1,2,4`) picks the thread counts, for profiling.

use std::time::Instant;

use snn_core::{Network, SpikeSink};
use snn_learn::stdp::{Bounds, PairParams, PairStdp, Pairing, WeightDependence};
use snn_types::Step;

/// CUBA's excitatory weight (pA).
const W_E: f64 = 1.62;
const WARMUP_MS: f64 = 100.0;

/// Counts spikes and hashes every (step, neuron) in order.
#[derive(Default)]
struct HashSink {
    spikes: u64,
    hash: u64,
}

impl SpikeSink for HashSink {
    fn on_step(&mut self, step: Step, neurons: &[u32]) {
        self.spikes += neurons.len() as u64;
        for &n in neurons {
            self.hash = (self.hash ^ (step << 32 | n as u64)).wrapping_mul(0x100_0000_01b3);
        }
    }
}

struct Outcome {
    build_s: f64,
    warm_s: f64,
    warm_spikes: u64,
    run_s: f64,
    spikes: u64,
    spike_hash: u64,
    syn_events: u64,
    w_hash: u64,
    w_mean: f64,
    /// The first neuron of every thread after the first (the engine's cut).
    cut: Vec<u32>,
}

fn simulate(n_neurons: u32, threads: usize, ms: f64, a_plus_rel: f64, plastic: bool) -> Outcome {
    let spec = snn_core::models::cuba(n_neurons, 1);
    let dt = spec.dt_ms;
    assert_eq!(
        (
            spec.projections[0].source.as_str(),
            spec.projections[0].target.as_str()
        ),
        ("exc", "exc"),
        "projection 0 is exc -> exc"
    );
    let t0 = Instant::now();
    let mut net = Network::build_with_threads(&spec, threads).expect("builds");
    let pr = &net.projections()[0];
    let (n_pre, n_post) = (pr.n_source(), pr.n_target());
    let w_max = 2.0 * W_E;
    let a_plus = a_plus_rel * w_max;
    let p = PairParams {
        a_plus,
        a_minus: 1.05 * a_plus,
        tau_plus_ms: 20.0,
        tau_minus_ms: 20.0,
        bounds: Bounds { w_min: 0.0, w_max },
        dependence: WeightDependence::Additive,
        pairing: Pairing::AllToAll,
    };
    let rule = PairStdp::new(p, dt, n_pre, n_post).expect("valid rule");
    if plastic {
        net.set_plasticity(0, Box::new(rule)).expect("plastic");
    }
    let build_s = t0.elapsed().as_secs_f64();
    let cut = net.thread_neurons();

    let mut warm = HashSink::default();
    let t0 = Instant::now();
    net.run((WARMUP_MS / dt).round() as u64, &mut warm);
    let warm_s = t0.elapsed().as_secs_f64();
    let mut sink = HashSink::default();
    let t0 = Instant::now();
    let stats = net.run((ms / dt).round() as u64, &mut sink);
    let run_s = t0.elapsed().as_secs_f64();
    let w = net.projection_weights_mut(0).expect("projection 0");
    let mut w_hash = 0u64;
    let mut sum = 0.0f64;
    for &x in w.iter() {
        w_hash = (w_hash ^ x.to_bits() as u64).wrapping_mul(0x100_0000_01b3);
        sum += x as f64;
    }
    Outcome {
        build_s,
        warm_s,
        warm_spikes: warm.spikes,
        run_s,
        spikes: sink.spikes,
        spike_hash: sink.hash,
        syn_events: stats.syn_events,
        w_hash,
        w_mean: sum / w.len().max(1) as f64,
        cut: cut.iter().skip(1).map(|r| r.start).collect(),
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let ms: f64 = args.next().map_or(500.0, |a| a.parse().expect("MS"));
    let repeats: usize = args.next().map_or(1, |a| a.parse().expect("REPEATS"));
    let n: u32 = args.next().map_or(40_000, |a| a.parse().expect("NEURONS"));
    let a_plus_rel: f64 =
        std::env::var("SNN_A_PLUS").map_or(0.005, |a| a.parse().expect("SNN_A_PLUS"));
    let plastic = std::env::var("SNN_STATIC").is_err();
    let thread_counts: Vec<usize> = std::env::var("SNN_THREADS").map_or(vec![1, 2], |a| {
        a.split(',')
            .map(|t| t.parse().expect("SNN_THREADS"))
            .collect()
    });
    println!(
        "CUBA {n} neurons, {} on exc -> exc; {WARMUP_MS} ms warm-up, then {ms} ms timed",
        if plastic {
            format!(
                "pair STDP (additive, all-to-all, A+ = {a_plus_rel} w_max, w in [0, {:.2}])",
                2.0 * W_E
            )
        } else {
            "no plasticity".to_string()
        }
    );
    let mut times: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    let mut reference: Option<(u64, u64, u64)> = None;
    for rep in 0..repeats {
        for &threads in &thread_counts {
            let o = simulate(n, threads, ms, a_plus_rel, plastic);
            let rate = o.spikes as f64 / n as f64 / (ms / 1000.0);
            println!(
                "rep {rep} threads {threads}: build+attach {:.2} s, warm-up {:.3} s ({} spikes), run {:.3} s, spikes {} ({rate:.2} Hz), syn events {:.3e}, spike hash {:016x}, weights hash {:016x} (mean {:.4}, initial {W_E}), threads start at {:?}",
                o.build_s,
                o.warm_s,
                o.warm_spikes,
                o.run_s,
                o.spikes,
                o.syn_events as f64,
                o.spike_hash,
                o.w_hash,
                o.w_mean,
                o.cut
            );
            let key = (o.spikes, o.spike_hash, o.w_hash);
            match reference {
                None => reference = Some(key),
                Some(r) => assert_eq!(
                    r, key,
                    "spikes and learned weights must be identical for every thread count"
                ),
            }
            if threads <= 2 {
                times[threads - 1].push(o.run_s);
            }
        }
    }
    let best = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let (one, two) = (best(&times[0]), best(&times[1]));
    println!(
        "best run: 1 thread {one:.3} s, 2 threads {two:.3} s, ratio {:.2}x; spikes and weights identical",
        one / two
    );
}
