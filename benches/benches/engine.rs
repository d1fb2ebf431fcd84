//! Criterion benchmarks of the engine's hot paths: building and running the CUBA network (neuron
//! update bound), COBA (the conductance kernel and its `exp`), the microcircuit at 10% scale with
//! a DC background (delivery of per-synapse delays through the slot buckets) and with its Poisson
//! background (the table-driven Poisson counts).
//!
//! `cargo bench -p snn-benches --bench engine` (add `-- --quick` for a fast pass). The run
//! benchmarks report throughput in synaptic events per second of wall time.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use snn_core::models::{Background, MicrocircuitOptions};
use snn_core::{Network, NullSink, models};
use snn_types::NetworkSpec;

fn cuba_build(c: &mut Criterion) {
    let mut g = c.benchmark_group("cuba_build");
    g.sample_size(10);
    let n = 4000u32;
    let spec = models::cuba(n, 1);
    g.bench_with_input(BenchmarkId::from_parameter(n), &spec, |b, spec| {
        b.iter(|| Network::build(spec).expect("valid spec"))
    });
    g.finish();
}

fn cuba_run(c: &mut Criterion) {
    let mut g = c.benchmark_group("cuba_run_100ms");
    g.sample_size(10);
    for threads in [1usize, 2] {
        let spec = models::cuba(4000, 1);
        // Measure the synaptic events of one 100 ms window (after a 100 ms warm-up) for the
        // throughput figure.
        let mut probe = Network::build_with_threads(&spec, threads).expect("valid spec");
        probe.run(1000, &mut NullSink);
        let events = probe.run(1000, &mut NullSink).syn_events;
        g.throughput(Throughput::Elements(events));
        g.bench_function(BenchmarkId::new("threads", threads), |b| {
            b.iter_batched_ref(
                || {
                    let mut net = Network::build_with_threads(&spec, threads).expect("valid spec");
                    net.run(1000, &mut NullSink);
                    net
                },
                |net| net.run(1000, &mut NullSink),
                criterion::BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

/// 100 ms (1,000 steps, after a 100 ms warm-up) of `spec` on one thread.
fn run_100ms(c: &mut Criterion, group: &str, spec: &NetworkSpec) {
    let mut g = c.benchmark_group(group);
    g.sample_size(10);
    let mut probe = Network::build(spec).expect("valid spec");
    probe.run(1000, &mut NullSink);
    let events = probe.run(1000, &mut NullSink).syn_events;
    g.throughput(Throughput::Elements(events.max(1)));
    g.bench_function("threads/1", |b| {
        b.iter_batched_ref(
            || {
                let mut net = Network::build(spec).expect("valid spec");
                net.run(1000, &mut NullSink);
                net
            },
            |net| net.run(1000, &mut NullSink),
            criterion::BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn coba_run(c: &mut Criterion) {
    run_100ms(c, "coba_run_100ms", &models::coba(4000, 1));
}

fn microcircuit_run(c: &mut Criterion) {
    for (name, background) in [
        ("microcircuit10_dc_run_100ms", Background::Dc),
        ("microcircuit10_poisson_run_100ms", Background::Poisson),
    ] {
        let opts = MicrocircuitOptions {
            background,
            ..Default::default()
        };
        let spec = models::microcircuit(0.1, &opts).expect("valid scale");
        run_100ms(c, name, &spec);
    }
}

criterion_group!(benches, cuba_build, cuba_run, coba_run, microcircuit_run);
criterion_main!(benches);
