//! Conv projections in the engine against their explicit expansion, on N-MNIST events.
//!
//! ```text
//! cargo run --release -p snn-benches --example nmnist_conv -- [SAMPLES] [REPEATS]
//! ```
//!
//! Builds `snn_core::models::nmnist_conv(1)` (`2x34x34 - 12C5 - P2 - 32C5 - P2 - 10`) twice: as
//! the engine stores it (kernels and tap tables) and with every conv/pool projection rewritten as
//! explicit synapses ([`snn_core::connect::explicit_conv`]). Prints each layer's synapse memory in
//! both forms, then presents `SAMPLES` (default 20) N-MNIST test recordings (300 steps of 1 ms
//! each, the network reset in between) on 1 and 2 threads, best of `REPEATS` (default 3), and
//! reports spikes and synaptic events per second of wall time. Both forms must give the same
//! spikes. The data is read from `$SNN_DATA/nmnist-small` (default `../shared/data`).
//! `SNN_CONV_ONLY=conv-engine:1` (or `explicit CSR:2`, ...) runs one row only, for profiling.

use std::time::Instant;

use snn_core::connect::explicit_conv;
use snn_core::{CountingSink, Network, RunStats};
use snn_learn::data::{EventSample, data_dir, nmnist_small};
use snn_types::{NetworkSpec, SpikeRaster};

const STEPS: u64 = 300;

/// A recording as input spikes: neuron `(polarity, y, x)` (ON = channel 0) fires at step
/// `t_us / 1000` (one spike per neuron and step).
fn raster(s: &EventSample) -> SpikeRaster {
    let mut per_step: Vec<Vec<u32>> = vec![Vec::new(); STEPS as usize];
    for e in &s.events {
        let t = (e.t_us / 1000) as usize;
        if t < per_step.len() {
            let c = if e.on { 0 } else { 1 };
            per_step[t].push((c * 34 + e.y as u32) * 34 + e.x as u32);
        }
    }
    let mut r = SpikeRaster::new(0);
    for mut v in per_step {
        v.sort_unstable();
        v.dedup();
        r.push_step(&v);
    }
    r
}

fn present(net: &mut Network, inputs: &[SpikeRaster]) -> (RunStats, u64) {
    let mut total = RunStats::default();
    let mut h = 0u64;
    for r in inputs {
        net.reset();
        net.inject_input(0, r).expect("input population 0");
        let mut sink = CountingSink::default();
        let s = net.run(STEPS, &mut sink);
        total.steps += s.steps;
        total.spikes += s.spikes;
        total.syn_events += s.syn_events;
        // Output counts as a cheap fingerprint of the spikes.
        h = h.wrapping_mul(0x100_0000_01b3).wrapping_add(
            net.membrane(5)
                .iter()
                .map(|v| v.to_bits() as u64)
                .sum::<u64>(),
        );
    }
    (total, h)
}

fn main() {
    // `SNN_CONV_ONLY=conv-engine:1` runs one form and thread count (for profiling).
    let only = std::env::var("SNN_CONV_ONLY").ok();
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("SAMPLES and REPEATS are integers"))
        .collect();
    let n_samples = args.first().copied().unwrap_or(20);
    let repeats = args.get(1).copied().unwrap_or(3).max(1);
    let dir = data_dir(None).expect("N-MNIST data: set SNN_DATA");
    let (_, test) = nmnist_small(&dir).expect("nmnist-small");
    let inputs: Vec<SpikeRaster> = test.iter().take(n_samples).map(raster).collect();
    let n_events: usize = inputs.iter().map(|r| r.len()).sum();

    let mut spec: NetworkSpec = snn_core::models::nmnist_conv(1);
    spec.stimuli.clear();
    spec.recording.spikes = Some(Vec::new());
    let t0 = Instant::now();
    let expl = explicit_conv(&spec);
    let rewrite_s = t0.elapsed().as_secs_f64();

    println!(
        "nmnist_conv: {} neurons; {} test recordings, {} input spikes, {} steps each",
        spec.n_neurons(),
        inputs.len(),
        n_events,
        STEPS
    );
    println!("(explicit spec rewritten in {rewrite_s:.2} s)");
    let conv = Network::build(&spec).expect("conv network");
    let ex = Network::build(&expl).expect("explicit network");
    println!("\n| projection | synapses | conv-engine storage | explicit CSR | ratio |");
    println!("|---|---:|---:|---:|---:|");
    for (a, b) in conv.projections().iter().zip(ex.projections()) {
        println!(
            "| {} | {} | {} B | {} B | {:.0}x |",
            a.name,
            a.n_synapses(),
            a.memory_bytes(),
            b.memory_bytes(),
            b.memory_bytes() as f64 / a.memory_bytes() as f64
        );
    }
    println!(
        "| total | {} | {} B | {} B | {:.0}x |",
        conv.n_synapses(),
        conv.synapse_memory_bytes(),
        ex.synapse_memory_bytes(),
        ex.synapse_memory_bytes() as f64 / conv.synapse_memory_bytes() as f64
    );
    drop((conv, ex));

    println!(
        "\n| form | threads | build | run (best of {repeats}) | spikes | spikes/s | synaptic events | events/s |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    let mut reference: Option<(RunStats, u64)> = None;
    for (form, s) in [("conv-engine", &spec), ("explicit CSR", &expl)] {
        for threads in [1, 2] {
            if only
                .as_deref()
                .is_some_and(|o| o != format!("{form}:{threads}"))
            {
                continue;
            }
            let t0 = Instant::now();
            let mut net = Network::build_with_threads(s, threads).expect("build");
            let build_s = t0.elapsed().as_secs_f64();
            let mut best = f64::INFINITY;
            let mut result = None;
            for _ in 0..repeats {
                let t0 = Instant::now();
                let r = present(&mut net, &inputs);
                best = best.min(t0.elapsed().as_secs_f64());
                result = Some(r);
            }
            let (stats, h) = result.expect("at least one repeat");
            match reference {
                None => reference = Some((stats, h)),
                Some(r) => assert_eq!(r, (stats, h), "{form} on {threads} threads differs"),
            }
            println!(
                "| {form} | {threads} | {:.1} ms | {:.1} ms | {} | {:.2e} | {} | {:.2e} |",
                build_s * 1e3,
                best * 1e3,
                stats.spikes,
                stats.spikes as f64 / best,
                stats.syn_events,
                stats.syn_events as f64 / best
            );
        }
    }
    println!("\nidentical spikes, synaptic events and output membranes in every row");
}
