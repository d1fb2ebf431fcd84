//! Criterion benchmarks of STDP: a pair rule running inside the engine through the plasticity
//! hook, and Diehl & Cook training on the bundled digits.
//!
//! `cargo bench -p snn-benches --bench stdp` (add `-- --quick` for a fast pass). Throughputs:
//! `stdp_engine` reports synaptic events per second (plasticity updates are printed once, on
//! stderr, for the same window); `diehl_cook_digits` reports input-spike synaptic events per
//! second of training.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use snn_core::{Network, NullSink};
use snn_learn::stdp::diehl_cook::{DiehlCook, DiehlCookConfig};
use snn_learn::stdp::{PairParams, PairStdp};
use snn_types::NetworkSpec;

/// 1000 Poisson inputs at 10 Hz, all-to-all onto 100 LIF neurons (100,000 plastic synapses).
fn spec() -> NetworkSpec {
    NetworkSpec::from_toml_str(
        r#"
        dt_ms = 1.0
        seed = 3
        [[populations]]
        name = "in"
        size = 1000
        neuron = { model = "input" }
        [[populations]]
        name = "out"
        size = 100
        neuron = { model = "lif_beta", beta = 0.95, threshold = 1.0 }
        [[projections]]
        source = "in"
        target = "out"
        connectivity = { rule = "all_to_all" }
        weight = 0.01
        [[stimuli]]
        kind = "poisson"
        target = "in"
        rate_hz = 10.0
        "#,
    )
    .expect("valid spec")
}

fn build(plastic: bool) -> Network {
    let mut net = Network::build(&spec()).expect("valid spec");
    if plastic {
        let rule = PairStdp::new(PairParams::default(), 1.0, 1000, 100).expect("valid rule");
        net.set_plasticity(0, Box::new(rule)).expect("projection 0");
    }
    net
}

fn stdp_engine(c: &mut Criterion) {
    let mut g = c.benchmark_group("stdp_engine_1s");
    g.sample_size(10);
    let probe = build(true).run(1000, &mut NullSink);
    // Plasticity updates: every pre spike touches its 100 synapses, every post spike its 1000.
    let post_spikes = probe.spikes.saturating_sub(probe.syn_events / 100);
    let updates = probe.syn_events + post_spikes * 1000;
    eprintln!(
        "stdp_engine: per simulated second {} synaptic events, {} plasticity updates",
        probe.syn_events, updates
    );
    g.throughput(Throughput::Elements(probe.syn_events));
    for plastic in [false, true] {
        let name = if plastic { "pair_stdp" } else { "static" };
        g.bench_function(BenchmarkId::new(name, "1000x100"), |b| {
            b.iter_batched_ref(
                || build(plastic),
                |net| net.run(1000, &mut NullSink),
                criterion::BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

fn diehl_cook_digits(c: &mut Criterion) {
    let (train, _) = snn_learn::data::digits();
    let train = train.take(100);
    let cfg = DiehlCookConfig::digits();
    let mut probe = DiehlCook::new(cfg.clone(), 64, (8, 8), 10).expect("valid config");
    let stats = probe.train_epoch(&train, &|_, _| {}).expect("trains");
    eprintln!(
        "diehl_cook_digits: 100 images: {} presentations, {} synaptic events, {} excitatory spikes",
        stats.presentations, stats.syn_events, stats.exc_spikes
    );
    let mut g = c.benchmark_group("diehl_cook_digits");
    g.sample_size(10);
    g.throughput(Throughput::Elements(stats.syn_events));
    g.bench_function("train_100_images_100_neurons", |b| {
        b.iter_batched_ref(
            || DiehlCook::new(cfg.clone(), 64, (8, 8), 10).expect("valid config"),
            |m| m.train_epoch(&train, &|_, _| {}).expect("trains"),
            criterion::BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, stdp_engine, diehl_cook_digits);
criterion_main!(benches);
