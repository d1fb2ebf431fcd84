//! Surrogate-gradient training: accuracy on the bundled digits, determinism across threads,
//! bit-identical resume, checkpoint errors, gradients, and equivalence with the engine.

use snn_learn::checkpoint;
use snn_learn::data::{Dataset, digits};
use snn_learn::export::{EngineClassifier, input_coding, to_network_spec};
use snn_learn::model::{Grads, Input, LayerConfig, Model, ModelConfig, Readout, Tape};
use snn_learn::optim::OptimizerKind;
use snn_learn::train::{Encoding, SHARD, Source, TrainConfig, Trainer, evaluate};
use snn_types::{NetworkSpec, ReadoutRule};

// The scratch-directory guard shared by the workspace's tests (one copy, in snn-types).
#[path = "../../snn-types/tests/common/mod.rs"]
mod common;
use common::scratch;

fn digits_recipe(epochs: usize, seed: u64) -> Trainer {
    let mut cfg = ModelConfig::feed_forward(64, &[1000], 10, 25);
    cfg.readout = Readout::Membrane;
    let mut tc = TrainConfig::recipe(epochs, seed);
    tc.optimizer = OptimizerKind::Adam {
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.01,
    };
    Trainer::new(Model::new(cfg, seed).unwrap(), tc).unwrap()
}

/// The target: 64-1000-10 LIF, beta 0.95, 25 steps, direct input, Adam 5e-4 (with
/// decoupled weight decay 0.01), batch 128, the fixed 80/20 split: at least 98% test accuracy.
#[test]
fn digits_recipe_reaches_98_percent() {
    let (train, test) = digits();
    let mut t = digits_recipe(30, 1);
    while !t.finished() {
        t.run_epoch(&train, &test, 2, &mut |_, _, _, _| {}).unwrap();
    }
    let acc = t.history.last().unwrap().test_acc;
    eprintln!("digits test accuracy after 30 epochs: {acc:.4}");
    assert!(acc >= 0.98, "test accuracy {acc}");
}

fn small(seed: u64, readout: Readout, recurrent: bool) -> Model {
    let mut cfg = ModelConfig::feed_forward(64, &[80], 10, 12);
    cfg.readout = readout;
    cfg.hidden[0].recurrent = recurrent;
    Model::new(cfg, seed).unwrap()
}

fn train_small(
    model: Model,
    enc: Encoding,
    epochs: usize,
    threads: usize,
    data: &Dataset,
) -> Trainer {
    let mut tc = TrainConfig::recipe(epochs, 5);
    tc.lr = 5e-3;
    tc.batch_size = 100;
    tc.encoding = enc;
    let mut t = Trainer::new(model, tc).unwrap();
    while !t.finished() {
        t.run_epoch(data, data, threads, &mut |_, _, _, _| {})
            .unwrap();
    }
    t
}

#[test]
fn weights_do_not_depend_on_the_thread_count() {
    let (train, _) = digits();
    let data = train.take(300);
    let a = train_small(
        small(3, Readout::SpikeCount, true),
        Encoding::Rate { p_max: 0.5 },
        2,
        1,
        &data,
    );
    for threads in [2, 3] {
        let b = train_small(
            small(3, Readout::SpikeCount, true),
            Encoding::Rate { p_max: 0.5 },
            2,
            threads,
            &data,
        );
        assert_eq!(a.model, b.model, "{threads} threads");
        assert_eq!(
            a.history.iter().map(|m| m.train_loss).collect::<Vec<_>>(),
            b.history.iter().map(|m| m.train_loss).collect::<Vec<_>>()
        );
    }
}

#[test]
fn resuming_from_a_checkpoint_is_bit_identical() {
    let (train, test) = digits();
    let (train, test) = (train.take(400), test.take(100));
    let mut tc = TrainConfig::recipe(3, 9);
    tc.batch_size = 64;
    tc.encoding = Encoding::Rate { p_max: 0.6 };
    tc.early_stop_patience = Some(5);
    let fresh = || Trainer::new(small(9, Readout::Membrane, false), tc.clone()).unwrap();
    let mut straight = fresh();
    while !straight.finished() {
        straight
            .run_epoch(&train, &test, 1, &mut |_, _, _, _| {})
            .unwrap();
    }
    let dir = scratch("ckpt");
    let path = dir.join("model.ckpt");
    let mut first = fresh();
    for _ in 0..2 {
        first
            .run_epoch(&train, &test, 2, &mut |_, _, _, _| {})
            .unwrap();
    }
    checkpoint::save(&first, &path).unwrap();
    drop(first);
    let mut resumed = checkpoint::load(&path).unwrap();
    assert_eq!(resumed.epoch, 2);
    while !resumed.finished() {
        resumed
            .run_epoch(&train, &test, 1, &mut |_, _, _, _| {})
            .unwrap();
    }
    // Everything that describes the run is equal except wall times.
    let strip = |t: &Trainer| {
        let mut t = t.clone();
        for m in &mut t.history {
            m.train_s = 0.0;
        }
        t
    };
    assert_eq!(strip(&resumed), strip(&straight));
}

/// The trainer whose version-1 body (written by the release before conv layers) is
/// `tests/data/checkpoint-v1-body.bin`.
fn v1_fixture_trainer() -> Trainer {
    let mut cfg = ModelConfig::feed_forward(4, &[3], 2, 5);
    cfg.hidden[0].recurrent = true;
    cfg.readout = Readout::Membrane;
    Trainer::new(Model::new(cfg, 7).unwrap(), TrainConfig::recipe(2, 7)).unwrap()
}

#[test]
fn checkpoints_of_format_version_1_still_load() {
    let t = v1_fixture_trainer();
    let payload = include_bytes!("data/checkpoint-v1-body.bin");
    let framed = snn_types::file::frame_bytes(checkpoint::KIND, 1, payload);
    assert_eq!(checkpoint::from_bytes(&framed, "v1.ckpt").unwrap(), t);
}

#[test]
fn checkpoints_of_the_previous_format_still_load() {
    let t = v1_fixture_trainer();
    // The format before the shared frame: `SNNCKPT\0`, version 1 (u32 LE), payload length
    // (u64 LE), CRC-32 of the payload (u32 LE, computed here with flate2 as the old writer
    // did), postcard payload (a version-1 body, written by that release); built byte by byte.
    let payload = include_bytes!("data/checkpoint-v1-body.bin").to_vec();
    let mut crc = flate2::Crc::new();
    crc.update(&payload);
    let mut old = b"SNNCKPT\0".to_vec();
    old.extend_from_slice(&1u32.to_le_bytes());
    old.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    old.extend_from_slice(&crc.sum().to_le_bytes());
    old.extend_from_slice(&payload);
    assert!(checkpoint::is_checkpoint(&old));
    assert_eq!(checkpoint::from_bytes(&old, "old.ckpt").unwrap(), t);
    let dir = scratch("ckpt-legacy");
    let p = dir.join("old.ckpt");
    std::fs::write(&p, &old).unwrap();
    assert_eq!(checkpoint::load(&p).unwrap(), t);
    // Saving it again writes the current format.
    checkpoint::save(&t, &p).unwrap();
    assert_eq!(&std::fs::read(&p).unwrap()[..12], b"SNNFRAMECKPT");
    assert_eq!(checkpoint::load(&p).unwrap(), t);
    // Broken old files are clear errors.
    let n = old.len();
    let mut bad = old.clone();
    bad[n - 1] ^= 1;
    let e = checkpoint::from_bytes(&bad, "old.ckpt")
        .unwrap_err()
        .to_string();
    assert!(e.contains("old.ckpt: corrupt: checksum mismatch"), "{e}");
    let e = checkpoint::from_bytes(&old[..n - 1], "old.ckpt")
        .unwrap_err()
        .to_string();
    assert!(e.contains("old.ckpt: truncated or padded"), "{e}");
}

#[test]
fn bad_checkpoints_are_clear_errors() {
    let t = Trainer::new(
        small(1, Readout::SpikeCount, false),
        TrainConfig::recipe(1, 1),
    )
    .unwrap();
    let good = checkpoint::to_bytes(&t).unwrap();
    assert_eq!(checkpoint::from_bytes(&good, "ok").unwrap(), t);
    assert!(checkpoint::is_checkpoint(&good));
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (good[..10].to_vec(), "truncated: 10 bytes"),
        (
            good[..good.len() - 5].to_vec(),
            "truncated: the header announces",
        ),
        (
            {
                let mut b = good.clone();
                b[0] = b'X';
                b
            },
            "not an snn file",
        ),
        (
            {
                let mut b = good.clone();
                b[8..12].copy_from_slice(b"STDP");
                b
            },
            "is an STDP weight file, expected a training checkpoint",
        ),
        (
            snn_types::file::encode_framed(snn_types::file::FrameKind::CHECKPOINT, 9, &t).unwrap(),
            "format version 9 was written by a newer version of snn",
        ),
        (
            {
                let mut b = good.clone();
                let n = b.len();
                b[n - 3] ^= 0x40;
                b
            },
            "corrupt: checksum mismatch",
        ),
    ];
    for (bytes, expect) in cases {
        let e = checkpoint::from_bytes(&bytes, "m.ckpt")
            .unwrap_err()
            .to_string();
        assert!(e.contains("m.ckpt") && e.contains(expect), "{expect}: {e}");
    }
    let e = checkpoint::load(std::path::Path::new("/no/such/m.ckpt"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("/no/such/m.ckpt"), "{e}");
}

/// The loss of a model with only a (smooth) leaky-integrator readout, for finite differences.
fn readout_loss(m: &Model, x: &[f32], labels: &[u8]) -> f64 {
    let mut tape = Tape::default();
    let mut g = Grads::zeros(m);
    m.forward_backward(
        &Input::Static(x.to_vec()),
        labels,
        labels.len(),
        &mut tape,
        &mut g,
        None,
    )
    .loss_sum
        / labels.len() as f64
}

#[test]
fn analytic_gradients_match_finite_differences_on_a_smooth_model() {
    // No hidden layer and a membrane readout: the loss is a smooth function of W and beta.
    let mut cfg = ModelConfig::feed_forward(6, &[], 4, 7);
    cfg.readout = Readout::Membrane;
    cfg.learn_beta = true;
    cfg.beta = 0.8;
    let m = Model::new(cfg, 2).unwrap();
    let x: Vec<f32> = (0..3 * 6).map(|i| ((i * 7 % 11) as f32) / 11.0).collect();
    let labels = [1u8, 3, 0];
    let mut tape = Tape::default();
    let mut g = Grads::zeros(&m);
    m.forward_backward(
        &Input::Static(x.clone()),
        &labels,
        3,
        &mut tape,
        &mut g,
        None,
    );
    let h = 1e-3f32;
    for (i, &analytic) in g.layers[0][0].iter().enumerate() {
        let (mut p, mut q) = (m.clone(), m.clone());
        p.layers[0].w[i] += h;
        q.layers[0].w[i] -= h;
        let fd = (readout_loss(&p, &x, &labels) - readout_loss(&q, &x, &labels)) / (2.0 * h as f64);
        assert!(
            (fd - analytic as f64).abs() < 2e-3,
            "dW[{i}]: analytic {analytic} vs finite difference {fd}"
        );
    }
    let (mut p, mut q) = (m.clone(), m.clone());
    p.layers[0].beta[0] += h;
    q.layers[0].beta[0] -= h;
    let fd = (readout_loss(&p, &x, &labels) - readout_loss(&q, &x, &labels)) / (2.0 * h as f64);
    let analytic = g.layers[0][2][0] as f64;
    assert!(
        (fd - analytic).abs() < 2e-3 * fd.abs().max(1.0),
        "dbeta: analytic {analytic} vs {fd}"
    );
}

/// Engine predictions, read with the exported spec's readout, equal the trainer's forward pass
/// for every test sample.
fn assert_engine_agrees(t: &Trainer, test: &Dataset) {
    let (acc, trainer_preds) = t.evaluate(test, 2).unwrap();
    let mut engine = EngineClassifier::new(&t.model, t.config.encoding).unwrap();
    // The readout the spec carries describes the trainer's pipeline.
    let spec = engine.spec().clone();
    spec.validate().unwrap();
    let r = spec
        .readout
        .as_ref()
        .expect("exported specs carry a readout");
    assert_eq!(r.population, "output");
    assert_eq!(r.input.coding, input_coding(t.config.encoding));
    assert_eq!(r.window_ms, t.model.config.steps as f64);
    let spiking_in = !matches!(t.config.encoding, Encoding::Direct);
    let nl = t.model.layers.len();
    assert_eq!(
        r.input_shift_ms,
        (if spiking_in { nl } else { nl - 1 }) as f64
    );
    let rule = if t.model.config.readout == Readout::Membrane {
        ReadoutRule::MeanMembrane
    } else {
        ReadoutRule::SpikeCount
    };
    assert_eq!(r.rule, rule);
    assert_eq!(
        NetworkSpec::from_toml_str(&spec.to_toml_string().unwrap()).unwrap(),
        spec
    );
    let idx: Vec<usize> = (0..test.len()).collect();
    let mut engine_preds = Vec::new();
    let mut events = 0;
    for shard in idx.chunks(SHARD) {
        // The evaluation's input of this shard (same seed as `evaluate`), coded as the readout
        // says; it is the trainer's own input.
        let seed = t.config.seed ^ 0xE7A1_0000_0000_0001;
        let input = engine.encode(test, shard, seed).unwrap();
        assert_eq!(
            input,
            test.input(shard, t.model.config.steps, t.config.encoding, seed)
                .unwrap()
        );
        let (p, e) = engine.predict(&input, shard.len()).unwrap();
        engine_preds.extend(p);
        events += e;
    }
    assert!(events > 0);
    let differ = trainer_preds
        .iter()
        .zip(&engine_preds)
        .filter(|(a, b)| a != b)
        .count();
    assert_eq!(
        differ,
        0,
        "{differ} of {} predictions differ (trainer accuracy {acc})",
        test.len()
    );
    assert!(acc > 0.3, "the model must have learned something ({acc})");
}

#[test]
fn exported_network_predicts_like_the_trainer_direct_input() {
    let (train, test) = digits();
    let t = train_small(
        small(4, Readout::SpikeCount, false),
        Encoding::Direct,
        4,
        2,
        &train.take(600),
    );
    assert_engine_agrees(&t, &test);
    let spec = to_network_spec(&t.model, Encoding::Direct).unwrap();
    assert_eq!(spec.populations.len(), 3);
    spec.validate().unwrap();
}

#[test]
fn exported_network_predicts_like_the_trainer_spike_input_recurrent_membrane() {
    let (train, test) = digits();
    let t = train_small(
        small(6, Readout::Membrane, true),
        Encoding::Rate { p_max: 1.0 },
        4,
        2,
        &train.take(600),
    );
    assert_engine_agrees(&t, &test.take(120));
    let t = train_small(
        small(7, Readout::SpikeCount, false),
        Encoding::Ttfs { threshold: 0.05 },
        4,
        2,
        &train.take(600),
    );
    assert_engine_agrees(&t, &test.take(120));
}

#[test]
fn synaptic_layers_are_refused_by_export() {
    let mut cfg = ModelConfig::feed_forward(8, &[4], 2, 5);
    cfg.hidden[0] = LayerConfig {
        alpha: Some(0.9),
        ..LayerConfig::lif(4)
    };
    let m = Model::new(cfg, 1).unwrap();
    assert!(
        to_network_spec(&m, Encoding::Direct)
            .unwrap_err()
            .to_string()
            .contains("synaptic")
    );
    // It still trains: a forward/backward pass runs and produces finite gradients.
    let mut tape = Tape::default();
    let mut g = Grads::zeros(&m);
    m.forward_backward(
        &Input::Static(vec![0.5; 16]),
        &[0, 1],
        2,
        &mut tape,
        &mut g,
        Some(2),
    );
    assert!(g.layers.iter().flatten().flatten().all(|x| x.is_finite()));
}

#[test]
fn evaluation_is_consistent_with_training_accuracy_bounds() {
    let (train, _) = digits();
    let data = train.take(200);
    let m = small(1, Readout::SpikeCount, false);
    let (acc, preds) = evaluate(&m, &data, Encoding::Direct, 0, 1).unwrap();
    assert_eq!(preds.len(), 200);
    assert!((0.0..=1.0).contains(&acc));
}
