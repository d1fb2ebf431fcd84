//! Convolutional spiking networks: gradients against the expanded dense network and finite
//! differences, dropout, determinism across threads, checkpoints.

use snn_learn::arch;
use snn_learn::augment::Augment;
use snn_learn::checkpoint;
use snn_learn::conv::ConvConfig;
use snn_learn::data::{Dataset, digits};
use snn_learn::export::{EngineClassifier, to_network_spec};
use snn_learn::model::{Grads, Input, LayerConfig, Model, ModelConfig, PassOptions, Readout, Tape};
use snn_learn::train::{Encoding, EventSource, SHARD, Source, TrainConfig, Trainer};
use snn_types::{Connectivity, NetworkSpec};

/// A model from an architecture string on 1 x 8 x 8 inputs.
fn conv_model(s: &str, steps: usize, readout: Readout, seed: u64) -> Model {
    let a = arch::parse(s, [1, 8, 8]).unwrap();
    let mut cfg = ModelConfig::feed_forward(64, &[], a.n_outputs, steps);
    cfg.hidden = a.hidden;
    cfg.input_shape = Some([1, 8, 8]);
    cfg.readout = readout;
    cfg.beta = 0.8;
    cfg.threshold = 0.4;
    Model::new(cfg, seed).unwrap()
}

/// The dense weights (`n_in x n_out`) of a conv layer on `in_shape`, from its folded kernel.
fn expand(c: &ConvConfig, in_shape: [usize; 3], k: &[f32]) -> Vec<f32> {
    let g = c.folded(in_shape).unwrap();
    let mut kf = Vec::new();
    c.fold_kernel(in_shape[0], k, &mut kf);
    let [ci_n, h, w] = in_shape;
    let [co_n, ho, wo] = g.out_shape;
    let (n_in, n_out) = (ci_n * h * w, co_n * ho * wo);
    let mut d = vec![0.0f32; n_in * n_out];
    for_each_tap(c, in_shape, |i, j, kidx| d[i * n_out + j] = kf[kidx]);
    let _ = (n_in, g.kernel);
    d
}

/// Calls `f(input index, output index, folded kernel index)` for every synapse of the folded
/// convolution.
fn for_each_tap(c: &ConvConfig, in_shape: [usize; 3], mut f: impl FnMut(usize, usize, usize)) {
    let g = c.folded(in_shape).unwrap();
    let [ci_n, h, w] = in_shape;
    let [co_n, ho, wo] = g.out_shape;
    let [kh, kw] = g.kernel;
    for co in 0..co_n {
        for oy in 0..ho {
            for ox in 0..wo {
                for ci in 0..ci_n {
                    for ky in 0..kh {
                        for kx in 0..kw {
                            let iy = (oy * g.stride[0] + ky) as isize - g.padding[0] as isize;
                            let ix = (ox * g.stride[1] + kx) as isize - g.padding[1] as isize;
                            if iy < 0 || ix < 0 || iy as usize >= h || ix as usize >= w {
                                continue;
                            }
                            f(
                                (ci * h + iy as usize) * w + ix as usize,
                                (co * ho + oy) * wo + ox,
                                ((co * ci_n + ci) * kh + ky) * kw + kx,
                            );
                        }
                    }
                }
            }
        }
    }
}

/// The same network with every conv layer expanded into dense weights.
fn dense_twin(m: &Model) -> Model {
    let mut cfg = m.config.clone();
    for h in &mut cfg.hidden {
        h.conv = None;
    }
    cfg.input_shape = None;
    let mut d = Model::new(cfg, 0).unwrap();
    let mut shape = m.config.input_shape.unwrap();
    for (l, layer) in m.layers.iter().enumerate() {
        d.layers[l].beta = layer.beta.clone();
        d.layers[l].threshold = layer.threshold.clone();
        match m.config.hidden.get(l).and_then(|h| h.conv) {
            Some(c) => {
                d.layers[l].w = expand(&c, shape, &layer.w);
                shape = c.folded(shape).unwrap().out_shape;
            }
            None => d.layers[l].w = layer.w.clone(),
        }
    }
    d.validate().unwrap();
    d
}

fn run(m: &Model, input: &Input, labels: &[u8], seed: Option<u64>) -> (Grads, Tape, f64) {
    let mut tape = Tape::default();
    let mut g = Grads::zeros(m);
    let st = m.forward_backward_with(
        input,
        labels,
        labels.len(),
        &mut tape,
        &mut g,
        PassOptions {
            tbptt: None,
            dropout_seed: seed,
        },
    );
    (g, tape, st.loss_sum / labels.len() as f64)
}

fn close(a: &[f32], b: &[f32], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    let scale = b.iter().fold(0.0f32, |m, x| m.max(x.abs())).max(1e-6);
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= 1e-4 * scale,
            "{what}[{i}]: {x} vs {y} (largest {scale})"
        );
    }
}

/// Conv layers (average and sum pooling, padding, stride, dropout, flatten into a dense layer)
/// compute the same forward pass, bit for bit, as the dense network with the expanded folded
/// kernels, and the same gradients once the dense gradient is folded back onto the kernel.
#[test]
fn conv_layers_equal_their_expanded_dense_network() {
    let (train, _) = digits();
    let idx: Vec<usize> = (0..24).collect();
    let labels: Vec<u8> = idx.iter().map(|&i| train.label(i)).collect();
    for (s, readout) in [
        ("4C3-AP2-D0.3-6C2p1-SP2-FC10", Readout::SpikeCount),
        ("3C3s2p1-5C2-D0.2-45FC12-FC10", Readout::Membrane),
    ] {
        let m = conv_model(s, 10, readout, 3);
        let d = dense_twin(&m);
        let input = train
            .input(&idx, 10, Encoding::Rate { p_max: 0.9 }, 5)
            .unwrap();
        for seed in [None, Some(11)] {
            let (gc, tc, lc) = run(&m, &input, &labels, seed);
            let (gd, td, ld) = run(&d, &input, &labels, seed);
            assert_eq!(tc.logits(), td.logits(), "{s}: readouts differ");
            for l in 0..m.layers.len() {
                assert_eq!(tc.spikes(l), td.spikes(l), "{s}: layer {l} spikes differ");
            }
            assert_eq!(lc, ld);
            assert!(tc.spikes(0).iter().any(|&x| x != 0.0), "{s}: silent");
            let mut shape = [1, 8, 8];
            for l in 0..m.layers.len() {
                match m.config.hidden.get(l).and_then(|h| h.conv) {
                    Some(c) => {
                        // dL/dK' = sum over the synapses sharing a tap; then unfold.
                        let n_out: usize = c.folded(shape).unwrap().out_shape.iter().product();
                        let g = c.folded(shape).unwrap();
                        let mut dkf =
                            vec![0.0f32; c.out_channels * shape[0] * g.kernel[0] * g.kernel[1]];
                        for_each_tap(&c, shape, |i, j, k| {
                            dkf[k] += gd.layers[l][0][i * n_out + j]
                        });
                        let mut dk = vec![0.0f32; m.layers[l].w.len()];
                        c.unfold_grad(shape[0], &dkf, &mut dk);
                        close(&gc.layers[l][0], &dk, &format!("{s} layer {l} dK"));
                        shape = g.out_shape;
                    }
                    None => close(
                        &gc.layers[l][0],
                        &gd.layers[l][0],
                        &format!("{s} layer {l} dW"),
                    ),
                }
            }
        }
    }
}

/// With the conv layers' spikes fixed, the loss is a smooth function of the output layer's
/// weights and beta (a leaky-integrator readout): finite differences check the flatten order
/// of the conv output and the dropout mask (fixed by its seed) and scale.
#[test]
fn gradients_through_flatten_and_dropout_match_finite_differences() {
    let (train, _) = digits();
    let idx: Vec<usize> = (0..16).collect();
    let labels: Vec<u8> = idx.iter().map(|&i| train.label(i)).collect();
    let mut m = conv_model("4C3-AP2-D0.4-FC10", 8, Readout::Membrane, 2);
    m.config.learn_beta = true;
    for enc in [Encoding::Direct, Encoding::Rate { p_max: 0.8 }] {
        let input = train.input(&idx, 8, enc, 1).unwrap();
        let seed = Some(77);
        let (g, tape, _) = run(&m, &input, &labels, seed);
        assert!(tape.spikes(0).iter().any(|&x| x != 0.0));
        let h = 1e-2f32;
        let loss = |m: &Model| run(m, &input, &labels, seed).2;
        let n = m.layers[1].w.len();
        for i in (0..n).step_by(7) {
            let (mut p, mut q) = (m.clone(), m.clone());
            p.layers[1].w[i] += h;
            q.layers[1].w[i] -= h;
            let fd = (loss(&p) - loss(&q)) / (2.0 * h as f64);
            let an = g.layers[1][0][i] as f64;
            assert!(
                (fd - an).abs() < 2e-3 * fd.abs().max(0.05),
                "{enc:?} dW_out[{i}]: analytic {an} vs finite difference {fd}"
            );
        }
        let (mut p, mut q) = (m.clone(), m.clone());
        p.layers[1].beta[0] += 1e-3;
        q.layers[1].beta[0] -= 1e-3;
        let fd = (loss(&p) - loss(&q)) / 2e-3;
        let an = g.layers[1][2][0] as f64;
        assert!(
            (fd - an).abs() < 2e-3 * fd.abs().max(1.0),
            "dbeta {an} vs {fd}"
        );
        // Without a seed there is no dropout: the masks change the result.
        let (g0, _, _) = run(&m, &input, &labels, None);
        assert_ne!(g0.layers[1][0], g.layers[1][0]);
    }
}

fn train_digits(s: &str, enc: Encoding, threads: usize, epochs: usize, n: usize) -> Trainer {
    let (train, test) = digits();
    let (train, test) = (train.take(n), test.take(90));
    let mut tc = TrainConfig::recipe(epochs, 4);
    tc.lr = 1e-2;
    tc.batch_size = 100;
    tc.encoding = enc;
    let mut t = Trainer::new(conv_model(s, 8, Readout::SpikeCount, 4), tc).unwrap();
    while !t.finished() {
        t.run_epoch(&train, &test, threads, &mut |_, _, _, _| {})
            .unwrap();
    }
    t
}

#[test]
fn conv_training_does_not_depend_on_the_thread_count() {
    for enc in [Encoding::Direct, Encoding::Rate { p_max: 0.8 }] {
        let a = train_digits("4C3-AP2-D0.2-6C2-FC10", enc, 1, 2, 300);
        let b = train_digits("4C3-AP2-D0.2-6C2-FC10", enc, 3, 2, 300);
        assert_eq!(a.model, b.model, "{enc:?}");
        assert_eq!(a.history, b.history);
    }
}

fn train_digits_augmented(enc: Encoding, augment: Augment, threads: usize) -> Trainer {
    let (train, test) = digits();
    let (train, test) = (train.take(300), test.take(90));
    let mut tc = TrainConfig::recipe(2, 4);
    tc.lr = 1e-2;
    tc.batch_size = 100;
    tc.encoding = enc;
    tc.augment = augment;
    let mut t = Trainer::new(
        conv_model("4C3-AP2-6C2-FC10", 8, Readout::SpikeCount, 4),
        tc,
    )
    .unwrap();
    while !t.finished() {
        t.run_epoch(&train, &test, threads, &mut |_, _, _, _| {})
            .unwrap();
    }
    t
}

/// Random shifts: deterministic for any thread count, they change training, and evaluation
/// ignores them.
#[test]
fn shift_augmentation_is_deterministic_and_training_only() {
    let shift = Augment { shift: 1 };
    for enc in [Encoding::Direct, Encoding::Rate { p_max: 0.8 }] {
        let a = train_digits_augmented(enc, shift, 1);
        let b = train_digits_augmented(enc, shift, 3);
        assert_eq!(a.model, b.model, "{enc:?}");
        assert_eq!(a.history, b.history);
        let plain = train_digits_augmented(enc, Augment::default(), 1);
        assert_ne!(a.model, plain.model, "the shifts changed training");
        // Evaluation of one model with and without the augmentation set.
        let (_, test) = digits();
        let mut off = a.clone();
        off.config.augment = Augment::default();
        assert_eq!(
            a.evaluate(&test, 1).unwrap(),
            off.evaluate(&test, 1).unwrap()
        );
        // Not in checkpoints: a round trip drops it (documented).
        let bytes = checkpoint::to_bytes(&a).unwrap();
        assert_eq!(
            checkpoint::from_bytes(&bytes, "test")
                .unwrap()
                .config
                .augment,
            Augment::default()
        );
    }
}

#[test]
fn augmentation_needs_two_dimensional_input() {
    let (train, test) = digits();
    let flat = Dataset {
        shape: (1, 64),
        ..train.take(50)
    };
    let mut tc = TrainConfig::recipe(1, 1);
    tc.augment = Augment { shift: 1 };
    let m = Model::new(ModelConfig::feed_forward(64, &[], 10, 4), 1).unwrap();
    let mut t = Trainer::new(m, tc).unwrap();
    let e = t
        .run_epoch(&flat, &test.take(10), 1, &mut |_, _, _, _| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("needs 2-D input maps"), "{e}");
}

#[test]
fn conv_checkpoints_resume_and_reject_inconsistent_shapes() {
    let (train, test) = digits();
    let (train, test) = (train.take(200), test.take(90));
    let straight = train_digits("4C3-SP2-FC10", Encoding::Direct, 1, 2, 200);
    let mut first = train_digits("4C3-SP2-FC10", Encoding::Direct, 1, 1, 200);
    first.config.epochs = 2;
    let bytes = checkpoint::to_bytes(&first).unwrap();
    let mut resumed = checkpoint::from_bytes(&bytes, "conv.ckpt").unwrap();
    assert_eq!(resumed, first);
    resumed
        .run_epoch(&train, &test, 2, &mut |_, _, _, _| {})
        .unwrap();
    let strip = |t: &Trainer| {
        let mut t = t.clone();
        for m in &mut t.history {
            m.train_s = 0.0;
        }
        t
    };
    assert_eq!(strip(&resumed), strip(&straight));

    // A kernel of the wrong length, a configuration whose sizes disagree, a conv after a dense
    // layer, a missing input shape: clear errors naming the layer and the field.
    let mut bad = first.clone();
    bad.model.layers[0].w.pop();
    let mut resized = first.clone();
    resized.model.config.hidden[0]
        .conv
        .as_mut()
        .unwrap()
        .out_channels = 5;
    let mut kernel = first.clone();
    kernel.model.config.hidden[0].conv.as_mut().unwrap().kernel = [2, 2];
    kernel.model.config.hidden[0].size = 4 * 3 * 3;
    let mut flat = first.clone();
    flat.model.config.input_shape = None;
    let mut shape = first.clone();
    shape.model.config.input_shape = Some([1, 4, 16]);
    for (t, want) in [
        (
            &bad,
            "layer 1 (conv) kernel: 35 values, expected 4 x 1 x 3 x 3 = 36",
        ),
        (
            &resized,
            "hidden[0].size is 36, but the conv's output 5 x 3 x 3 has 45 neurons",
        ),
        (
            &kernel,
            "layer 1 (conv) kernel: 36 values, expected 4 x 1 x 2 x 2 = 16",
        ),
        (
            &flat,
            "hidden[0] is a conv layer but its input has no shape",
        ),
        (
            &shape,
            "hidden[0].size is 36, but the conv's output 4 x 1 x 7 has 28",
        ),
    ] {
        let bytes = checkpoint::to_bytes(t).unwrap();
        let e = checkpoint::from_bytes(&bytes, "conv.ckpt")
            .unwrap_err()
            .to_string();
        assert!(e.contains("conv.ckpt") && e.contains(want), "{want}: {e}");
    }
    // A conv layer after a dense one is refused by the configuration.
    let mut cfg = ModelConfig::feed_forward(64, &[10], 10, 4);
    cfg.input_shape = Some([1, 8, 8]);
    cfg.hidden.push(LayerConfig::conv(
        10,
        arch::parse("4C3-FC10", [1, 8, 8]).unwrap().hidden[0]
            .conv
            .unwrap(),
    ));
    let e = Model::new(cfg, 1).unwrap_err();
    assert!(e.contains("hidden[1] is a conv layer"), "{e}");
}

#[test]
fn conv_models_learn_the_digits() {
    let t = train_digits("6C3-AP2-FC10", Encoding::Direct, 2, 6, 1437);
    let acc = t.history.last().unwrap().test_acc;
    eprintln!("digits 6C3-AP2-FC10 direct, 6 epochs: {acc}");
    assert!(acc > 0.8, "{acc}");
}

/// The engine, fed the exported spec, predicts every sample of `test` as the trainer does.
fn assert_engine_agrees(t: &Trainer, test: &dyn Source) {
    let (acc, trainer_preds) = t.evaluate(test, 2).unwrap();
    let mut engine = EngineClassifier::new(&t.model, t.config.encoding).unwrap();
    let spec = engine.spec().clone();
    spec.validate().unwrap();
    assert_eq!(
        NetworkSpec::from_toml_str(&spec.to_toml_string().unwrap()).unwrap(),
        spec
    );
    let idx: Vec<usize> = (0..test.len()).collect();
    let mut engine_preds = Vec::new();
    for shard in idx.chunks(SHARD) {
        let input = engine
            .encode(test, shard, t.config.seed ^ 0xE7A1_0000_0000_0001)
            .unwrap();
        engine_preds.extend(engine.predict(&input, shard.len()).unwrap().0);
    }
    let differ = trainer_preds
        .iter()
        .zip(&engine_preds)
        .filter(|(a, b)| a != b)
        .count();
    assert_eq!(differ, 0, "{differ} of {} predictions differ", test.len());
    assert!(acc > 0.3, "the model must have learned something ({acc})");
    eprintln!(
        "{} {:?}: trainer and engine agree on {} samples (accuracy {acc:.3})",
        snn_learn::arch::describe(&t.model.config),
        t.config.encoding,
        test.len()
    );
}

#[test]
fn exported_conv_network_predicts_like_the_trainer() {
    let (_, test) = digits();
    for enc in [Encoding::Direct, Encoding::Rate { p_max: 1.0 }] {
        let t = train_digits("4C3-AP2-FC10", enc, 2, 4, 1437);
        let spec = to_network_spec(&t.model, enc).unwrap();
        assert_eq!(spec.populations[0].shape, Some([1, 8, 8]));
        assert_eq!(spec.populations[1].shape, Some([4, 3, 3]));
        match &spec.projections[0].connectivity {
            Connectivity::Conv2d {
                kernel,
                stride,
                weights,
                ..
            } => {
                // 3x3 then 2x2 average pooling: one 4x4 convolution of stride 2.
                assert_eq!((*kernel, *stride, weights.len()), ([4, 4], [2, 2], 4 * 16));
            }
            other => panic!("expected a conv2d projection, got {other:?}"),
        }
        assert_engine_agrees(&t, &test);
    }
    // Two conv layers, sum pooling, padding, dropout (identity at export), spike input.
    let t = train_digits(
        "4C3p1-SP2-D0.1-6C2-FC10",
        Encoding::Rate { p_max: 1.0 },
        2,
        3,
        1437,
    );
    assert_engine_agrees(&t, &test.take(150));
}

/// N-MNIST events through a conv network (reads `$SNN_DATA`, default `../shared/data`; skips
/// without the data).
#[test]
fn exported_conv_network_on_events_predicts_like_the_trainer() {
    let (train, test) = match snn_learn::data::load("nmnist", None) {
        Ok(snn_learn::data::Loaded::Events { train, test }) => (train, test),
        Ok(_) => unreachable!("nmnist is an event set"),
        Err(e) => {
            eprintln!("skipping: N-MNIST not available ({e})");
            return;
        }
    };
    let shape = [2, 34, 34];
    let a = arch::parse("8C5s2-AP2-FC10", shape).unwrap();
    let mut cfg = ModelConfig::feed_forward(2 * 34 * 34, &[], 10, 12);
    cfg.hidden = a.hidden;
    cfg.input_shape = Some(shape);
    cfg.beta = 0.8;
    cfg.threshold = 0.5;
    let mut tc = TrainConfig::recipe(3, 2);
    tc.lr = 1e-2;
    tc.batch_size = 64;
    tc.encoding = Encoding::Events {
        duration_us: 300_000,
    };
    let (train, test) = (
        EventSource(&train[..train.len().min(600)]),
        EventSource(&test[..test.len().min(40)]),
    );
    let mut t = Trainer::new(Model::new(cfg, 2).unwrap(), tc).unwrap();
    while !t.finished() {
        t.run_epoch(&train, &test, 2, &mut |_, _, _, _| {}).unwrap();
    }
    assert_engine_agrees(&t, &test);
}

/// The training-memory estimate comes from the shapes alone: it counts the parameters exactly,
/// grows with steps and threads, and refuses a model too large for the budget without
/// allocating it (a `16777216C3-FC10` model used to abort in `Model::new`).
#[test]
fn training_memory_is_estimated_before_allocating() {
    use snn_types::budget::MemoryBudget;
    let cfg = |s: &str, steps: usize| {
        let a = arch::parse(s, [1, 8, 8]).unwrap();
        let mut c = ModelConfig::feed_forward(64, &[], a.n_outputs, steps);
        c.hidden = a.hidden;
        c.input_shape = Some([1, 8, 8]);
        c
    };
    let small = cfg("4C3-AP2-FC10", 6);
    let m = Model::new(small.clone(), 1).unwrap();
    assert_eq!(small.n_param_values().unwrap(), m.n_params() as u64);
    let base = small.train_memory_bytes(128, 1).unwrap();
    assert!(base > 4 * m.n_params() as u64 * 4, "{base}");
    assert!(cfg("4C3-AP2-FC10", 60).train_memory_bytes(128, 1).unwrap() > base);
    assert!(small.train_memory_bytes(128, 4).unwrap() > base);
    assert!(
        small
            .check_train_memory(128, 1, &MemoryBudget::limit(1 << 30))
            .is_ok()
    );

    let huge = cfg("16777216C3-FC10", 25);
    let e = huge
        .check_train_memory(128, 1, &MemoryBudget::limit(1 << 30))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("training 16777216C3-FC10 (batch 128, 25 steps, 1 thread) needs about"),
        "{e}"
    );
    // Saturates instead of overflowing.
    let mut absurd = ModelConfig::feed_forward(1 << 24, &[1 << 24, 1 << 24], 1 << 24, 1 << 20);
    absurd.input_shape = None;
    assert!(absurd.train_memory_bytes(usize::MAX, usize::MAX).unwrap() > 1 << 50);
}

/// Evaluating a model whose tape cannot fit (a checkpoint of a few kilobytes may say a million
/// steps or conv layers of millions of neurons) is refused before allocating, not aborted.
#[test]
fn evaluation_refuses_a_tape_too_large_for_memory() {
    let (_, test) = digits();
    let test = test.take(10);
    let m = conv_model(
        "64C1-FC10",
        snn_learn::model::MAX_STEPS,
        Readout::SpikeCount,
        1,
    );
    let t = Trainer::new(m, TrainConfig::recipe(1, 1)).unwrap();
    let e = t.evaluate(&test, 1).unwrap_err().to_string();
    assert!(
        e.contains("evaluating 64C1-FC10 (1048576 steps, 1 thread) needs about"),
        "{e}"
    );
    // An ordinary model evaluates.
    let t = Trainer::new(
        conv_model("4C3-FC10", 4, Readout::SpikeCount, 1),
        TrainConfig::recipe(1, 1),
    )
    .unwrap();
    assert!(t.evaluate(&test, 1).is_ok());
}
