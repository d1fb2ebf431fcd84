//! Loaders against bad input: checkpoints and STDP weight files with a valid frame but
//! inconsistent contents, datasets whose labels, counts or sizes do not fit, the N-MNIST
//! container parser, training-configuration ranges, and byte-identical checkpoints.

use serde_json::{Value, json};
use snn_learn::checkpoint;
use snn_learn::data::{self, Dataset, Idx, digits, parse_nmnist_small};
use snn_learn::model::{Model, ModelConfig, Readout};
use snn_learn::optim::OptimizerKind;
use snn_learn::stdp::diehl_cook::{DiehlCook, DiehlCookConfig};
use snn_learn::train::{Encoding, TrainConfig, TrainError, Trainer, evaluate};
use snn_types::file::{FrameKind, encode_framed};
use std::path::Path;

// The scratch-directory guard shared by the workspace's tests (one copy, in snn-types).
#[path = "../../snn-types/tests/common/mod.rs"]
mod common;
use common::scratch;

/// A 64-100-10 trainer after one short epoch (so it has history, a best model and moments).
fn trained() -> Trainer {
    let (train, test) = digits();
    let (train, test) = (train.take(128), test.take(64));
    let mut cfg = ModelConfig::feed_forward(64, &[100], 10, 4);
    cfg.readout = Readout::Membrane;
    let mut tc = TrainConfig::recipe(2, 3);
    tc.batch_size = 64;
    tc.early_stop_patience = Some(3);
    let mut t = Trainer::new(Model::new(cfg, 3).unwrap(), tc).unwrap();
    t.run_epoch(&train, &test, 1, &mut |_, _, _, _| {}).unwrap();
    t
}

/// `t` as JSON, edited by `edit`, decoded back and framed as a checkpoint with a valid CRC.
fn tampered(t: &Trainer, edit: impl Fn(&mut Value)) -> Vec<u8> {
    let mut v = serde_json::to_value(t).unwrap();
    edit(&mut v);
    let back: Trainer = serde_json::from_value(v).unwrap();
    encode_framed(FrameKind::CHECKPOINT, checkpoint::VERSION, &back).unwrap()
}

fn at<'a>(v: &'a mut Value, ptr: &str) -> &'a mut Value {
    v.pointer_mut(ptr)
        .unwrap_or_else(|| panic!("no {ptr} in the JSON"))
}

fn truncate(v: &mut Value, ptr: &str, n: usize) {
    at(v, ptr).as_array_mut().unwrap().truncate(n);
}

type Edit = Box<dyn Fn(&mut Value)>;

#[test]
fn checkpoints_with_inconsistent_contents_are_errors_naming_the_field() {
    let t = trained();
    assert!(t.best.is_some() && t.history.len() == 1);
    let cases: Vec<(Edit, &str)> = vec![
        (
            Box::new(|v| truncate(v, "/model/layers/0/w", 640)),
            "layer 1 weights: 640 values, expected 64 x 100 = 6400",
        ),
        (
            Box::new(|v| truncate(v, "/model/layers/1/w", 0)),
            "layer 2 weights: 0 values, expected 100 x 10 = 1000",
        ),
        (
            Box::new(|v| *at(v, "/model/config/hidden/0/size") = json!(50)),
            "layer 1 is 64 x 100, expected 64 x 50",
        ),
        (
            Box::new(|v| *at(v, "/model/layers/1/n_in") = json!(64)),
            "layer 2 is 64 x 10, expected 100 x 10",
        ),
        (
            Box::new(|v| *at(v, "/model/config/n_outputs") = json!(12)),
            "layer 2 is 100 x 10, expected 100 x 12",
        ),
        (
            Box::new(|v| *at(v, "/model/config/n_inputs") = json!(0)),
            "n_inputs and n_outputs must be at least 1",
        ),
        (
            Box::new(|v| *at(v, "/model/config/steps") = json!(0)),
            "steps must be at least 1",
        ),
        (
            Box::new(|v| *at(v, "/model/config/steps") = json!(1u64 << 40)),
            "steps 1099511627776 is absurd",
        ),
        (
            Box::new(|v| *at(v, "/model/config/hidden/0/size") = json!(0)),
            "hidden[0].size must be at least 1",
        ),
        (
            Box::new(|v| truncate(v, "/model/layers", 1)),
            "1 layers, expected 2",
        ),
        (
            Box::new(|v| truncate(v, "/model/layers/1/beta", 0)),
            "layer 2 beta: 0 values, expected 1",
        ),
        (
            Box::new(|v| *at(v, "/model/layers/0/threshold") = json!([1.0, 1.0])),
            "layer 1 threshold: 2 values, expected 1",
        ),
        (
            Box::new(|v| *at(v, "/model/layers/0/rec") = json!([0.0, 0.0, 0.0])),
            "layer 1 has recurrent weights but the configuration says it is not recurrent",
        ),
        (
            Box::new(|v| *at(v, "/model/config/hidden/0/recurrent") = json!(true)),
            "layer 1 has no recurrent weights",
        ),
        (
            Box::new(|v| *at(v, "/model/layers/1/spiking") = json!(true)),
            "layer 2 is spiking but the readout needs it non-spiking",
        ),
        (
            Box::new(|v| *at(v, "/model/layers/0/beta/0") = json!(3.0)),
            "layer 1 beta must be in [0, 1], got 3",
        ),
        (
            Box::new(|v| truncate(v, "/optimizer/m/0", 7)),
            "optimiser state: first-moment buffer 0: 7 values, expected 6400",
        ),
        (
            Box::new(|v| truncate(v, "/optimizer/v", 3)),
            "optimiser state: 3 second-moment buffers, expected 8",
        ),
        (
            Box::new(|v| *at(v, "/optimizer/kind/Adam/beta1") = json!(0.5)),
            "optimiser state is for Adam",
        ),
        (
            Box::new(|v| *at(v, "/config/batch_size") = json!(0)),
            "batch_size must be at least 1",
        ),
        (
            Box::new(|v| *at(v, "/config/lr") = json!(-1.0)),
            "learning rate must be finite and > 0, got -1",
        ),
        (
            Box::new(|v| *at(v, "/config/encoding") = json!({"Rate": {"p_max": 5.0}})),
            "rate encoding p_max must be in (0, 1], got 5",
        ),
        (
            Box::new(|v| *at(v, "/config/optimizer/Adam/weight_decay") = json!(-0.5)),
            "weight decay must be finite and >= 0, got -0.5",
        ),
        (
            Box::new(|v| *at(v, "/epoch") = json!(5)),
            "history has 1 epochs of metrics, expected 5",
        ),
        (
            Box::new(|v| *at(v, "/history/0/epoch") = json!(4)),
            "history entry 1 is numbered epoch 4",
        ),
        (
            Box::new(|v| *at(v, "/best/epoch") = json!(9)),
            "best model: epoch 9 is outside 1..=1",
        ),
        (
            Box::new(|v| truncate(v, "/best/model/layers/0/w", 10)),
            "best model: layer 1 weights: 10 values",
        ),
        (
            Box::new(|v| *at(v, "/best/model/config/beta") = json!(0.5)),
            "best model: its configuration differs",
        ),
    ];
    let n = cases.len();
    for (edit, expect) in cases {
        let bytes = tampered(&t, edit);
        let e = checkpoint::from_bytes(&bytes, "bad.ckpt")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("bad.ckpt") && e.contains("inconsistent checkpoint") && e.contains(expect),
            "expected '{expect}' in: {e}"
        );
    }
    assert!(n >= 25);
    // The untouched trainer still round-trips.
    let good = checkpoint::to_bytes(&t).unwrap();
    assert_eq!(checkpoint::from_bytes(&good, "ok").unwrap(), t);
}

/// Tiny deterministic generator for the byte-flipping loops.
fn lcg(state: &mut u64) -> u64 {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *state >> 33
}

#[test]
fn checkpoint_bodies_with_random_damage_never_panic() {
    let t = trained();
    let body = postcard::to_allocvec(&t).unwrap();
    let (_, test) = digits();
    let test = test.take(64);
    let mut s = 7u64;
    let mut accepted = 0;
    for _ in 0..400 {
        let mut b = body.clone();
        for _ in 0..1 + lcg(&mut s) % 4 {
            let i = lcg(&mut s) as usize % b.len();
            b[i] = lcg(&mut s) as u8;
        }
        if lcg(&mut s).is_multiple_of(5) {
            b.truncate(lcg(&mut s) as usize % b.len());
        }
        let framed = snn_types::file::frame_bytes(FrameKind::CHECKPOINT, checkpoint::VERSION, &b);
        if let Ok(back) = checkpoint::from_bytes(&framed, "fuzz.ckpt") {
            accepted += 1;
            // Whatever loads can be used: evaluation gives a result or an error (the step count
            // is bounded so that a changed one stays cheap).
            if back.model.config.steps <= 64 && back.model.config.hidden[0].size <= 200 {
                let _ = evaluate(&back.model, &test, back.config.encoding, 1, 1);
            }
        }
    }
    // Most damage lands in weight values, which stay loadable.
    assert!(accepted > 0);
}

fn dc() -> DiehlCook {
    let cfg = DiehlCookConfig {
        n_neurons: 10,
        ..DiehlCookConfig::digits()
    };
    DiehlCook::new(cfg, 64, (8, 8), 10).unwrap()
}

fn tampered_dc(m: &DiehlCook, edit: impl Fn(&mut Value)) -> Vec<u8> {
    let mut v = serde_json::to_value(m).unwrap();
    edit(&mut v);
    let back: DiehlCook = serde_json::from_value(v).unwrap();
    encode_framed(FrameKind::STDP_WEIGHTS, 3, &back).unwrap()
}

#[test]
fn stdp_weight_files_with_inconsistent_contents_are_errors() {
    let m = dc();
    let good = encode_framed(FrameKind::STDP_WEIGHTS, 3, &m).unwrap();
    assert_eq!(DiehlCook::from_bytes(&good, "w.bin").unwrap(), m);
    let cases: Vec<(Edit, &str)> = vec![
        (
            Box::new(|v| truncate(v, "/weights", 63)),
            "weights: 63 values, expected 64 inputs x 10 neurons = 640",
        ),
        (
            Box::new(|v| truncate(v, "/theta_mv", 9)),
            "theta_mv: 9 values, expected one per neuron (10)",
        ),
        (
            Box::new(|v| *at(v, "/assignments") = json!([1, 2, 3])),
            "assignments: 3 values",
        ),
        (
            Box::new(|v| *at(v, "/assignments") = json!([1, 2, 3, 4, 5, 6, 7, 8, 9, 12])),
            "assignments: neuron 9 has class 12, outside the 10 classes",
        ),
        (
            Box::new(|v| *at(v, "/n_classes") = json!(0)),
            "n_classes 0 is outside 1..=255",
        ),
        (
            Box::new(|v| *at(v, "/n_inputs") = json!(0)),
            "n_inputs 0 is outside",
        ),
        (
            Box::new(|v| *at(v, "/n_inputs") = json!(65)),
            "image shape 8 x 8 does not hold the 65 inputs",
        ),
        (
            Box::new(|v| *at(v, "/shape") = json!([7, 7])),
            "image shape 7 x 7 does not hold the 64 inputs",
        ),
        (
            Box::new(|v| *at(v, "/cfg/n_neurons") = json!(0)),
            "config: invalid parameter n_neurons",
        ),
        (
            Box::new(|v| *at(v, "/cfg/n_neurons") = json!(20)),
            "weights: 640 values, expected 64 inputs x 20 neurons = 1280",
        ),
        (
            Box::new(|v| *at(v, "/cfg/dt_ms") = json!(-0.5)),
            "config: invalid parameter dt_ms",
        ),
        (
            Box::new(|v| *at(v, "/cfg/threads") = json!(1_000_000)),
            "threads 1000000 is absurd",
        ),
        (
            Box::new(|v| *at(v, "/epochs") = json!(u32::MAX)),
            "epochs 4294967295 is absurd",
        ),
    ];
    for (edit, expect) in cases {
        let bytes = tampered_dc(&m, edit);
        let e = DiehlCook::from_bytes(&bytes, "w.bin")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("w.bin") && e.contains(expect),
            "expected '{expect}' in: {e}"
        );
    }
}

#[test]
fn stdp_weight_bytes_with_random_damage_never_panic() {
    let m = dc();
    let body = postcard::to_allocvec(&m).unwrap();
    let (_, test) = digits();
    let test = test.take(4);
    let mut s = 11u64;
    for _ in 0..400 {
        let mut b = body.clone();
        for _ in 0..1 + lcg(&mut s) % 4 {
            let i = lcg(&mut s) as usize % b.len();
            b[i] = lcg(&mut s) as u8;
        }
        let framed = snn_types::file::frame_bytes(FrameKind::STDP_WEIGHTS, 3, &b);
        if let Ok(back) = DiehlCook::from_bytes(&framed, "fuzz.bin")
            && back.config().present_ms / back.config().dt_ms <= 1000.0
        {
            let _ = back.responses(&test, &|_, _| {});
        }
    }
    // Arbitrary bytes, framed or not.
    for len in 0..64 {
        let b: Vec<u8> = (0..len).map(|_| lcg(&mut s) as u8).collect();
        assert!(DiehlCook::from_bytes(&b, "junk").is_err());
    }
}

fn idx(dims: &[u32], data: &[u8]) -> Idx {
    Idx {
        dims: dims.iter().map(|&d| d as usize).collect(),
        data: data.to_vec(),
    }
}

#[test]
fn idx_datasets_check_labels_counts_and_sizes() {
    let (xp, yp) = (Path::new("x-images"), Path::new("y-labels"));
    let images = idx(&[3, 2, 2], &[0; 12]);
    let ok = data::dataset_from_idx(&images, &idx(&[3], &[0, 9, 5]), 255.0, 10, xp, yp).unwrap();
    assert_eq!((ok.len(), ok.n_classes, ok.shape), (3, 10, (2, 2)));
    let cases: Vec<(Idx, Idx, &str)> = vec![
        (
            images.clone(),
            idx(&[3], &[0, 12, 5]),
            "y-labels: label 12 of sample 1 is outside the 10 classes",
        ),
        (
            images.clone(),
            idx(&[3], &[0, 255, 5]),
            "label 255 of sample 1",
        ),
        (
            images.clone(),
            idx(&[2], &[0, 1]),
            "y-labels: 2 labels for 3 images in x-images",
        ),
        (
            images.clone(),
            idx(&[3, 1], &[0, 1, 2]),
            "y-labels: labels must have 1 dimension",
        ),
        (idx(&[0, 2, 2], &[]), idx(&[0], &[]), "x-images: no images"),
        (
            idx(&[3, 0, 2], &[]),
            idx(&[3], &[0, 1, 2]),
            "x-images: no images",
        ),
        (
            idx(&[12], &[0; 12]),
            idx(&[3], &[0, 1, 2]),
            "x-images: images must have 3 dimensions",
        ),
    ];
    for (x, y, expect) in cases {
        let e = data::dataset_from_idx(&x, &y, 255.0, 10, xp, yp)
            .unwrap_err()
            .to_string();
        assert!(e.contains(expect), "expected '{expect}' in: {e}");
    }
}

fn write_idx(path: &Path, dims: &[u32], data: &[u8]) {
    let mut b = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        b.extend_from_slice(&d.to_be_bytes());
    }
    b.extend_from_slice(data);
    std::fs::write(path, b).unwrap();
}

#[test]
fn mnist_like_directories_name_the_bad_file() {
    let dir = scratch("loaders-mnist");
    let m = dir.join("mnist");
    std::fs::create_dir_all(&m).unwrap();
    write_idx(&m.join("train-images-idx3-ubyte"), &[2, 3, 3], &[7; 18]);
    write_idx(&m.join("train-labels-idx1-ubyte"), &[2], &[1, 2]);
    write_idx(&m.join("t10k-images-idx3-ubyte"), &[1, 3, 3], &[7; 9]);
    write_idx(&m.join("t10k-labels-idx1-ubyte"), &[1], &[4]);
    let (train, test) = data::mnist_like(&dir, "mnist").unwrap();
    assert_eq!((train.len(), test.len()), (2, 1));
    // A label beyond the 10 classes.
    write_idx(&m.join("t10k-labels-idx1-ubyte"), &[1], &[10]);
    let e = data::mnist_like(&dir, "mnist").unwrap_err().to_string();
    assert!(
        e.contains("t10k-labels-idx1-ubyte") && e.contains("label 10 of sample 0"),
        "{e}"
    );
    write_idx(&m.join("t10k-labels-idx1-ubyte"), &[1], &[4]);
    // Fewer labels than images.
    write_idx(&m.join("train-labels-idx1-ubyte"), &[1], &[1]);
    let e = data::mnist_like(&dir, "mnist").unwrap_err().to_string();
    assert!(
        e.contains("train-labels-idx1-ubyte") && e.contains("1 labels for 2 images"),
        "{e}"
    );
    write_idx(&m.join("train-labels-idx1-ubyte"), &[2], &[1, 2]);
    // Test images of another size than the training images.
    write_idx(&m.join("t10k-images-idx3-ubyte"), &[1, 2, 2], &[7; 4]);
    let e = data::mnist_like(&dir, "mnist").unwrap_err().to_string();
    assert!(
        e.contains("t10k-images-idx3-ubyte")
            && e.contains("test images are 2 x 2 but the training images are 3 x 3"),
        "{e}"
    );
}

/// A container with `samples` as `(label, split, events)`, events as `(x, y, on, t_us)`.
/// An event as `(x, y, on, t_us)`.
type Ev = (u8, u8, bool, u32);

fn container(samples: &[(u8, u8, &[Ev])]) -> Vec<u8> {
    let mut b = b"NMNS".to_vec();
    b.extend_from_slice(&1u32.to_le_bytes());
    b.extend_from_slice(&(samples.len() as u32).to_le_bytes());
    for (i, (label, split, ev)) in samples.iter().enumerate() {
        b.extend_from_slice(&(i as u32).to_le_bytes());
        b.push(*label);
        b.push(*split);
        b.extend_from_slice(&(ev.len() as u32).to_le_bytes());
        for &(x, y, on, t) in ev.iter() {
            b.extend_from_slice(&[
                x,
                y,
                ((t >> 16) as u8 & 0x7f) | ((on as u8) << 7),
                (t >> 8) as u8,
                t as u8,
            ]);
        }
    }
    b
}

#[test]
fn nmnist_container_parser_is_total() {
    let ev: &[Ev] = &[(1, 2, true, 10), (33, 33, false, 300_000)];
    let good = container(&[(3, 0, ev), (7, 1, ev)]);
    let (train, test) = parse_nmnist_small(&good, "n.bin").unwrap();
    assert_eq!((train.len(), test.len(), train[0].label), (1, 1, 3));
    assert_eq!(train[0].events[1].t_us, 300_000);
    assert!(!train[0].events[1].on && train[0].events[0].on);
    let mut padded = good.clone();
    padded.push(0);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            container(&[(10, 0, ev), (7, 1, ev)]),
            "sample 0: label 10 is outside the 10 classes",
        ),
        (
            container(&[(3, 0, ev), (7, 2, ev)]),
            "sample 1: split 2 is neither",
        ),
        (
            container(&[(3, 0, &[(34, 0, true, 0)]), (7, 1, ev)]),
            "event at (34, 0) outside",
        ),
        (
            container(&[(3, 0, ev), (7, 0, ev)]),
            "2 training and 0 test recordings",
        ),
        (container(&[(3, 0, ev)]), "0 test recordings"),
        (good[..good.len() - 1].to_vec(), "truncated in sample 1"),
        (good[..36].to_vec(), "truncated at sample 1 of 2"),
        (padded, "1 unexpected bytes after the 2 samples"),
        (
            b"NMNS\x02\0\0\0\0\0\0\0".to_vec(),
            "unsupported container version 2",
        ),
        (b"GZIP".to_vec(), "magic"),
    ];
    for (bytes, expect) in cases {
        let e = parse_nmnist_small(&bytes, "n.bin").unwrap_err().to_string();
        assert!(
            e.contains("n.bin") && e.contains(expect),
            "expected '{expect}' in: {e}"
        );
    }
    let mut s = 5u64;
    for _ in 0..2000 {
        let mut b = good.clone();
        for _ in 0..1 + lcg(&mut s) % 3 {
            let i = lcg(&mut s) as usize % b.len();
            b[i] = lcg(&mut s) as u8;
        }
        b.truncate(b.len() - (lcg(&mut s) as usize % 4));
        let _ = parse_nmnist_small(&b, "fuzz");
    }
}

fn data_with_label(l: u8) -> Dataset {
    let (train, _) = digits();
    let mut d = train.take(64);
    d.labels[5] = l;
    d.n_classes = 16;
    d
}

#[test]
fn training_and_evaluation_refuse_labels_beyond_the_model_classes() {
    let t0 = trained();
    let bad = data_with_label(12);
    let (_, test) = digits();
    let test = test.take(32);
    let mut t = t0.clone();
    let e = t
        .run_epoch(&bad, &test, 1, &mut |_, _, _, _| {})
        .unwrap_err();
    assert!(matches!(e, TrainError::Data(_)));
    let e = e.to_string();
    assert!(
        e.contains("training sample 5 has label 12, but the model has 10 classes"),
        "{e}"
    );
    assert_eq!(t, t0, "nothing was trained");
    let e = t.evaluate(&bad, 1).unwrap_err().to_string();
    assert!(e.contains("sample 5 has label 12"), "{e}");
    let e = t
        .run_epoch(&test, &bad, 1, &mut |_, _, _, _| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("test sample 5 has label 12"), "{e}");
    // An empty training set, a dataset whose arrays disagree, one of another width.
    let e = t
        .run_epoch(&test.take(0), &test, 1, &mut |_, _, _, _| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("the training set is empty"), "{e}");
    let mut short = test.clone();
    short.features.truncate(100);
    let e = t.evaluate(&short, 1).unwrap_err().to_string();
    assert!(
        e.contains("100 feature values for 32 samples of 64 features"),
        "{e}"
    );
    let mut wide = test.clone();
    wide.n_features = 32;
    wide.shape = (4, 8);
    wide.features.truncate(32 * 32);
    let e = t.evaluate(&wide, 1).unwrap_err().to_string();
    assert!(
        e.contains("32 inputs per step but the model expects 64"),
        "{e}"
    );
}

#[test]
fn training_configurations_out_of_range_are_errors() {
    let model = || Model::new(ModelConfig::feed_forward(64, &[10], 10, 4), 1).unwrap();
    let base = TrainConfig::recipe(1, 1);
    let with = |f: &dyn Fn(&mut TrainConfig)| {
        let mut c = base.clone();
        f(&mut c);
        c
    };
    let adam_wd = |wd: f32| OptimizerKind::Adam {
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: wd,
    };
    let cases: Vec<(TrainConfig, &str)> = vec![
        (with(&|c| c.lr = f32::NAN), "learning rate"),
        (with(&|c| c.lr = f32::INFINITY), "learning rate"),
        (with(&|c| c.lr = 0.0), "learning rate"),
        (with(&|c| c.lr = -1e-3), "learning rate"),
        (with(&|c| c.batch_size = 0), "batch_size"),
        (with(&|c| c.optimizer = adam_wd(-0.01)), "weight decay"),
        (with(&|c| c.optimizer = adam_wd(f32::NAN)), "weight decay"),
        (
            with(&|c| {
                c.optimizer = OptimizerKind::Sgd {
                    momentum: 1.5,
                    weight_decay: 0.0,
                }
            }),
            "momentum",
        ),
        (
            with(&|c| c.encoding = Encoding::Rate { p_max: 0.0 }),
            "p_max",
        ),
        (
            with(&|c| c.encoding = Encoding::Rate { p_max: 1.01 }),
            "p_max",
        ),
        (
            with(&|c| c.encoding = Encoding::Rate { p_max: f32::NAN }),
            "p_max",
        ),
        (
            with(&|c| c.encoding = Encoding::Ttfs { threshold: 0.0 }),
            "threshold",
        ),
        (
            with(&|c| c.encoding = Encoding::Ttfs { threshold: 1.0 }),
            "threshold",
        ),
        (
            with(&|c| c.encoding = Encoding::Events { duration_us: 0 }),
            "duration_us",
        ),
        (with(&|c| c.clip_norm = Some(-1.0)), "clip_norm"),
        (
            with(&|c| c.early_stop_patience = Some(0)),
            "early_stop_patience",
        ),
        (with(&|c| c.tbptt_window = Some(0)), "tbptt_window"),
    ];
    for (cfg, expect) in cases {
        let e = Trainer::new(model(), cfg).unwrap_err();
        assert!(matches!(e, TrainError::Config(_)));
        let e = e.to_string();
        assert!(e.contains(expect), "expected '{expect}' in: {e}");
    }
    // The edges of the ranges are accepted.
    for enc in [
        Encoding::Rate { p_max: 1.0 },
        Encoding::Ttfs { threshold: 0.05 },
    ] {
        assert!(Trainer::new(model(), with(&|c| c.encoding = enc)).is_ok());
    }
}

#[test]
fn identical_runs_write_identical_checkpoints() {
    let a = checkpoint::to_bytes(&trained()).unwrap();
    let b = checkpoint::to_bytes(&trained()).unwrap();
    assert!(a == b, "two identical runs gave different checkpoint bytes");
    let t = checkpoint::from_bytes(&a, "a.ckpt").unwrap();
    assert!(t.history.iter().all(|m| m.train_s == 0.0));
}
