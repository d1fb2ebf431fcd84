//! Criterion benchmark of one forward + backward pass of a Linear(n, n) + LIF layer, batch 16,
//! 500 steps (the shape of the public SNN-framework benchmark), n = 256 and 1024.
//!
//! `cargo bench -p snn-benches --bench train -- --quick`

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use rand::{RngExt, SeedableRng, rngs::Xoshiro256PlusPlus};
use snn_learn::model::{Grads, Input, Model, ModelConfig, Tape};

fn linear_lif(c: &mut Criterion) {
    let mut g = c.benchmark_group("linear_lif_fwd_bwd_b16_t500");
    g.sample_size(10);
    let (batch, steps) = (16usize, 500usize);
    for n in [256usize, 1024] {
        // One layer: n inputs -> n LIF neurons (the output layer), fed a dense random input.
        let model =
            Model::new(ModelConfig::feed_forward(n, &[], n, steps), 1).expect("valid config");
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        let x: Vec<f32> = (0..steps * batch * n)
            .map(|_| rng.random_range(0.0f32..0.3))
            .collect();
        let input = Input::Sequence(x);
        let labels: Vec<u8> = (0..batch).map(|i| (i % 10) as u8).collect();
        let mut tape = Tape::default();
        let mut grads = Grads::zeros(&model);
        g.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| {
                grads.clear();
                model.forward_backward(&input, &labels, batch, &mut tape, &mut grads, None)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, linear_lif);
criterion_main!(benches);
