//! Criterion benchmarks of the spike encoders: samples per second for a 784-feature input (an
//! MNIST-sized image with about 19% lit pixels, like MNIST) at 100 steps, for each scheme.
//!
//! `cargo bench -p snn-benches --bench encode` (add `-- --quick` for a fast pass). Each
//! iteration encodes a batch of 32 samples into a dense `[steps][batch][neurons]` tensor.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use snn_encode::{
    BurstEncoder, DeltaEncoder, Encoder, Normalize, PhaseEncoder, PopulationEncoder, RateEncoder,
    TtfsEncoder,
};

const FEATURES: usize = 784;
const STEPS: usize = 100;
const BATCH: usize = 32;

/// A deterministic MNIST-like batch: about 19% of pixels lit, values 0..255.
fn batch(rows: usize) -> Vec<f32> {
    let mut s = 0x2545_F491_4F6C_DD1Du64;
    (0..FEATURES * rows)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            if s % 100 < 19 {
                (s >> 32) as f32 % 256.0
            } else {
                0.0
            }
        })
        .collect()
}

fn bench<E: Encoder>(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    enc: &E,
    xs: &[f32],
) {
    let norm = Normalize::new(0.0, 255.0).unwrap();
    g.bench_function(BenchmarkId::from_parameter(name), |b| {
        b.iter(|| enc.encode_batch(xs, FEATURES, norm, 7, 0).unwrap())
    });
}

fn encoders(c: &mut Criterion) {
    let xs = batch(BATCH);
    let mut g = c.benchmark_group("encode_784x100");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.sample_size(20);
    bench(
        &mut g,
        "rate_poisson",
        &RateEncoder::poisson(200.0, 1.0, STEPS).unwrap(),
        &xs,
    );
    bench(
        &mut g,
        "rate_regular",
        &RateEncoder::regular(200.0, 1.0, STEPS).unwrap(),
        &xs,
    );
    bench(
        &mut g,
        "ttfs_linear",
        &TtfsEncoder::linear(STEPS, 0.0).unwrap(),
        &xs,
    );
    bench(
        &mut g,
        "ttfs_log",
        &TtfsEncoder::log(STEPS, 0.01).unwrap(),
        &xs,
    );
    bench(
        &mut g,
        "phase_8bit",
        &PhaseEncoder::new(8, STEPS).unwrap(),
        &xs,
    );
    bench(
        &mut g,
        "burst",
        &BurstEncoder::new(5, 2, 10, STEPS).unwrap(),
        &xs,
    );
    bench(
        &mut g,
        "population_8",
        &PopulationEncoder::new(8, 1.5, STEPS, 0.1).unwrap(),
        &xs,
    );
    // Delta: one sample is a 784-channel signal over 100 steps (100 rows of 784 values read as
    // time, a change of 10/255 per event).
    let delta = DeltaEncoder::send_on_delta(10.0).unwrap();
    let signal = &batch(STEPS);
    g.throughput(Throughput::Elements(1));
    g.bench_function(BenchmarkId::from_parameter("delta_784ch"), |b| {
        b.iter(|| delta.encode(signal, FEATURES).unwrap())
    });
    g.finish();
}

criterion_group!(benches, encoders);
criterion_main!(benches);
