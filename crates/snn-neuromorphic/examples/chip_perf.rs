//! Performance figures of the chip model: compile time, simulated synaptic events per second
//! (cycle-level NoC and analytic), memory per synapse.
//!
//! `cargo run --release -p snn-neuromorphic --example chip_perf [-- N_STEPS]`

use std::time::Instant;

use snn_neuromorphic::{ArchSpec, Chip, NocMode, RunOptions, compile};
use snn_types::NetworkSpec;

/// 100k neurons (2k Poisson inputs, 98k integer LIF), about 10M synapses.
pub fn network() -> NetworkSpec {
    NetworkSpec::from_toml_str(include_str!("perf_100k.toml")).expect("valid")
}

/// Loihi's figures on a 32x32-tile mesh (4096 cores: a multi-chip system's worth).
pub fn arch() -> ArchSpec {
    let mut a = ArchSpec::preset("loihi").expect("preset");
    a.name = "loihi-32x32".into();
    a.mesh.tiles_x = 32;
    a.mesh.tiles_y = 32;
    a
}

fn main() {
    let steps: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let spec = network();
    let arch = arch();
    let t = Instant::now();
    let prog = compile(&spec, &arch).expect("fits");
    let compile_s = t.elapsed().as_secs_f64();
    println!(
        "compile: {} neurons, {} synapses, {} cores in {:.2} s; program memory {:.2} bytes/synapse",
        prog.n_neurons(),
        prog.n_synapses(),
        prog.n_cores_used(),
        compile_s,
        prog.memory_bytes() as f64 / prog.n_synapses() as f64
    );
    for noc in [NocMode::Cycle, NocMode::Analytic] {
        let mut chip = Chip::new(&prog).expect("the chip fits in memory");
        let t = Instant::now();
        let r = chip
            .run(steps, &RunOptions { noc, trace: false })
            .expect("the run fits in memory");
        let s = t.elapsed().as_secs_f64();
        println!(
            "{noc:?}: {steps} steps in {s:.2} s: {} synaptic events ({:.1} M/s), {} packets ({:.2} M/s), {} spikes; modelled {:.1} us, {:.1} uJ, contention {:.2} ns/packet",
            r.counts.synaptic_ops,
            r.counts.synaptic_ops as f64 / s / 1e6,
            r.counts.packets_out,
            r.counts.packets_out as f64 / s / 1e6,
            r.counts.spikes_out,
            r.total_time_ns / 1e3,
            r.energy.total_pj / 1e6,
            r.packets.mean_contention_ns
        );
    }
}
