//! Chip model benchmarks: compile, and a run with the cycle-level and the analytic NoC.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use snn_neuromorphic::{ArchSpec, Chip, NocMode, RunOptions, compile};
use snn_types::NetworkSpec;

fn network() -> NetworkSpec {
    NetworkSpec::from_toml_str(
        r#"
        name = "chip-bench"
        dt_ms = 1.0
        seed = 1
        [[populations]]
        name = "in"
        size = 500
        neuron = { model = "input" }
        [[populations]]
        name = "h"
        size = 10000
        neuron = { model = "loihi_lif", du = 3000, dv = 400, vth_mant = 2000 }
        [[projections]]
        source = "in"
        target = "h"
        connectivity = { rule = "fixed_probability", p = 0.1 }
        weight = 40
        [[projections]]
        source = "h"
        target = "h"
        connectivity = { rule = "fixed_outdegree", k = 5 }
        weight = -20
        delay_ms = 2.0
        [[stimuli]]
        kind = "poisson"
        target = "in"
        rate_hz = 50.0
        "#,
    )
    .expect("valid spec")
}

fn bench(c: &mut Criterion) {
    let spec = network();
    let arch = ArchSpec::preset("loihi").expect("preset");
    let mut g = c.benchmark_group("chip");
    g.sample_size(10);
    g.bench_function("compile_10k_550k_syn", |b| {
        b.iter(|| compile(&spec, &arch).expect("fits"))
    });
    let prog = compile(&spec, &arch).expect("fits");
    let events = Chip::new(&prog)
        .unwrap()
        .run(20, &RunOptions::default())
        .unwrap()
        .counts
        .synaptic_ops;
    g.throughput(Throughput::Elements(events));
    for (name, noc) in [
        ("run_20_steps_cycle", NocMode::Cycle),
        ("run_20_steps_analytic", NocMode::Analytic),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                Chip::new(&prog)
                    .unwrap()
                    .run(20, &RunOptions { noc, trace: false })
                    .unwrap()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
