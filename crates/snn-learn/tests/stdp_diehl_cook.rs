//! The Diehl & Cook (2015) classifier: learning on the bundled digits (runs in CI), checkpoints,
//! determinism, bad input, and MNIST (skipped without data).

use std::time::Instant;

use snn_learn::stdp::diehl_cook::{DiehlCook, DiehlCookConfig};
use snn_types::CondIntegration;

// The scratch-directory guard shared by the workspace's tests (one copy, in snn-types).
#[path = "../../snn-types/tests/common/mod.rs"]
mod common;
use common::scratch;

fn quiet(_: usize, _: usize) {}

#[test]
fn learns_the_bundled_digits_well_above_chance() {
    let (train, test) = snn_learn::data::digits();
    let t = Instant::now();
    let mut m = DiehlCook::new(DiehlCookConfig::digits(), 64, (8, 8), 10).unwrap();
    let stats = m.train_epoch(&train, &quiet).unwrap();
    m.label(&train, &quiet).unwrap();
    let acc = m.accuracy(&test, &quiet).unwrap();
    eprintln!(
        "digits: 100 neurons, 1 epoch: test accuracy {:.3} in {:.2} s ({stats:?})",
        acc,
        t.elapsed().as_secs_f64()
    );
    // Chance is 0.10.
    assert!(acc > 0.45, "test accuracy {acc}");
}

fn small() -> (DiehlCook, snn_learn::data::Dataset) {
    let (train, _) = snn_learn::data::digits();
    let train = train.take(60);
    let cfg = DiehlCookConfig {
        n_neurons: 12,
        ..DiehlCookConfig::digits()
    };
    let mut m = DiehlCook::new(cfg, 64, (8, 8), 10).unwrap();
    m.train_epoch(&train, &quiet).unwrap();
    m.label(&train, &quiet).unwrap();
    (m, train)
}

#[test]
fn training_is_deterministic_and_frozen_passes_do_not_depend_on_threads() {
    let (a, data) = small();
    let (b, _) = small();
    assert_eq!(a, b);
    let dir = scratch("stdp-deterministic");
    let one = {
        let p = dir.join("m.ckpt");
        a.save(&p).unwrap();
        DiehlCook::load(&p).unwrap()
    };
    assert_eq!(one, a);
    let r2 = a.responses(&data, &quiet).unwrap();
    let mut other = a.clone();
    // Same model, other thread counts: identical counts.
    for t in [1usize, 3] {
        other.set_threads(t).unwrap();
        assert_eq!(other.responses(&data, &quiet).unwrap(), r2, "{t} threads");
    }
    // Normalisation: every neuron's incoming weights sum to norm_sum after training.
    let n = a.n_neurons();
    for j in 0..n {
        let s: f64 = (0..64).map(|i| a.weights()[i * n + j] as f64).sum();
        assert!((s - 30.0).abs() < 1e-3, "neuron {j}: {s}");
    }
    assert!(a.weights().iter().all(|&w| (0.0..=1.0).contains(&w)));
}

#[test]
fn weight_files_of_the_previous_format_still_load() {
    // Format version 2 bodies have no `integration` (they load with exponential Euler, how
    // they were trained), version 1 bodies no `theta_rest_offset_mv` either (it loads at 0).
    // Build them: a network with exponential Euler and the offset at 0, minus the integration's
    // byte, then minus the offset's 8 bytes (each found by changing the field in an untrained
    // network).
    let with = |x: f64, integration| DiehlCookConfig {
        n_neurons: 12,
        theta_rest_offset_mv: x,
        integration,
        ..DiehlCookConfig::digits()
    };
    let with_offset = |x: f64| with(x, CondIntegration::ExponentialEuler);
    let (train, _) = snn_learn::data::digits();
    let train = train.take(60);
    let mut m = DiehlCook::new(with_offset(0.0), 64, (8, 8), 10).unwrap();
    m.train_epoch(&train, &quiet).unwrap();
    m.label(&train, &quiet).unwrap();
    let a =
        postcard::to_stdvec(&DiehlCook::new(with_offset(0.0), 64, (8, 8), 10).unwrap()).unwrap();
    let b = postcard::to_stdvec(
        &DiehlCook::new(
            with_offset(f64::from_bits(0x4001_0101_0101_0101)),
            64,
            (8, 8),
            10,
        )
        .unwrap(),
    )
    .unwrap();
    let at = a.iter().zip(&b).position(|(x, y)| x != y).unwrap();
    let c = postcard::to_stdvec(
        &DiehlCook::new(with(0.0, CondIntegration::Euler), 64, (8, 8), 10).unwrap(),
    )
    .unwrap();
    let ai = a.iter().zip(&c).position(|(x, y)| x != y).unwrap();
    assert!(ai > at + 8);
    let v3 = postcard::to_stdvec(&m).unwrap();
    assert_eq!(v3[ai], 0, "exponential Euler is variant 0");
    let v2: Vec<u8> = v3[..ai].iter().chain(&v3[ai + 1..]).copied().collect();
    assert_eq!(&v2[at..at + 8], &[0u8; 8]);
    let v1: Vec<u8> = v2[..at].iter().chain(&v2[at + 8..]).copied().collect();
    let dir = scratch("stdp");
    let framed = snn_types::file::frame_bytes(snn_types::file::FrameKind::STDP_WEIGHTS, 2, &v2);
    let p2 = dir.join("v2.ckpt");
    std::fs::write(&p2, &framed).unwrap();
    assert_eq!(DiehlCook::load(&p2).unwrap(), m);
    // The framed format version 1 loads too.
    let framed = snn_types::file::frame_bytes(snn_types::file::FrameKind::STDP_WEIGHTS, 1, &v1);
    let p1 = dir.join("v1.ckpt");
    std::fs::write(&p1, &framed).unwrap();
    assert_eq!(DiehlCook::load(&p1).unwrap(), m);
    // The format before the shared frame: `SNNSTDPW`, version 1 (u32 LE), payload length
    // (u64 LE), FNV-1a 64 of the payload (u64 LE), postcard payload; built byte by byte.
    let payload = v1;
    let mut fnv = 0xcbf2_9ce4_8422_2325u64;
    for &b in &payload {
        fnv = (fnv ^ b as u64).wrapping_mul(0x100_0000_01b3);
    }
    let mut old = b"SNNSTDPW".to_vec();
    old.extend_from_slice(&1u32.to_le_bytes());
    old.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    old.extend_from_slice(&fnv.to_le_bytes());
    old.extend_from_slice(&payload);
    let p = dir.join("old.ckpt");
    std::fs::write(&p, &old).unwrap();
    let back = DiehlCook::load(&p).unwrap();
    assert_eq!(back.weights(), m.weights());
    assert_eq!(back, m, "the whole network survives");
    // A corrupt old file is still a clear error.
    let n = old.len();
    old[n - 1] ^= 1;
    std::fs::write(&p, &old).unwrap();
    let e = DiehlCook::load(&p).unwrap_err().to_string();
    assert!(
        e.contains("old.ckpt") && e.contains("checksum mismatch"),
        "{e}"
    );
    // A training checkpoint given as weights names both kinds.
    snn_types::file::write_framed(&p, snn_types::file::FrameKind::CHECKPOINT, 1, &1u8).unwrap();
    let e = DiehlCook::load(&p).unwrap_err().to_string();
    assert!(
        e.ends_with("old.ckpt: is a training checkpoint, expected an STDP weight file"),
        "{e}"
    );
}

#[test]
fn checkpoints_reject_corruption_and_fields_are_plot_data() {
    let (m, _) = small();
    let dir = scratch("stdp");
    let p = dir.join("w.ckpt");
    m.save(&p).unwrap();
    let good = std::fs::read(&p).unwrap();
    assert_eq!(&good[..12], b"SNNFRAMESTDP");
    // Flip a payload byte, truncate, wrong magic: clear errors, no panic.
    let mut bad = good.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0xff;
    std::fs::write(&p, &bad).unwrap();
    let e = DiehlCook::load(&p).unwrap_err().to_string();
    assert!(e.contains("checksum"), "{e}");
    std::fs::write(&p, &good[..good.len() / 2]).unwrap();
    assert!(
        DiehlCook::load(&p)
            .unwrap_err()
            .to_string()
            .contains("truncated")
    );
    std::fs::write(&p, b"hello").unwrap();
    assert!(
        DiehlCook::load(&p)
            .unwrap_err()
            .to_string()
            .contains("not an snn file")
    );
    let e = DiehlCook::load(&dir.join("missing"))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("cannot read ") && e.contains("missing"),
        "{e}"
    );
    // Receptive fields as plot data: one field per neuron, intensities in [0, 1], the largest 1.
    let f = snn_learn::stdp::plot::receptive_fields(&m).unwrap();
    assert_eq!((f.rows, f.cols, f.fields.len()), (8, 8, m.n_neurons()));
    assert!(f.grid_cols * f.grid_rows >= m.n_neurons());
    assert!(f.fields.iter().all(|x| x.len() == 64));
    let top = f.fields.iter().flatten().cloned().fold(0f32, f32::max);
    assert!((top - 1.0).abs() < 1e-6 && f.max_weight > 0.0, "{top}");
    // Scaled by the reciprocal of the largest weight: equal to the quotient within an ulp.
    let want = (m.receptive_field(3)[5] / f.max_weight).max(0.0);
    assert!(
        (f.fields[3][5] - want).abs() <= 2.0 * f32::EPSILON,
        "{} vs {want}",
        f.fields[3][5]
    );
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let (train, _) = snn_learn::data::digits();
    let bad = DiehlCookConfig {
        dt_ms: 0.0,
        ..DiehlCookConfig::digits()
    };
    assert!(DiehlCook::new(bad, 64, (8, 8), 10).is_err());
    let zero = DiehlCookConfig {
        n_neurons: 0,
        ..DiehlCookConfig::digits()
    };
    assert!(DiehlCook::new(zero, 64, (8, 8), 10).is_err());
    let mut m = DiehlCook::new(DiehlCookConfig::digits(), 784, (28, 28), 10).unwrap();
    assert!(m.train_epoch(&train.take(3), &quiet).is_err()); // 64 features for 784 inputs
    let m = DiehlCook::new(DiehlCookConfig::digits(), 64, (8, 8), 10).unwrap();
    assert!(m.predict(&train.take(3), &quiet).is_err()); // not labelled
}

/// A thread count a weight file may not hold was accepted by `set_threads` (`snn stdp --threads
/// 100000 --out w.ckpt` wrote a file that `--load` then refused); threshold parameters of
/// `1e300` mV were accepted and made every neuron fire on every step.
#[test]
fn saved_networks_load_again_and_thresholds_are_bounded() {
    let mut m = DiehlCook::new(
        DiehlCookConfig {
            n_neurons: 4,
            ..DiehlCookConfig::digits()
        },
        64,
        (8, 8),
        10,
    )
    .unwrap();
    let max = snn_learn::stdp::diehl_cook::MAX_THREADS;
    let err = m.set_threads(100_000).unwrap_err().to_string();
    assert!(
        err.contains("threads") && err.contains(&max.to_string()),
        "{err}"
    );
    m.set_threads(max).unwrap();
    let dir = scratch("stdp");
    let p = dir.join("w.ckpt");
    m.save(&p).unwrap();
    assert_eq!(DiehlCook::load(&p).unwrap().config().threads, max);
    let many = DiehlCookConfig {
        threads: max + 1,
        ..DiehlCookConfig::digits()
    };
    assert!(DiehlCook::new(many, 64, (8, 8), 10).is_err());
    for (plus, offset, name) in [
        (1e300, 20.0, "theta_plus_mv"),
        (0.05, 1e300, "theta_rest_offset_mv"),
        (0.05, f64::INFINITY, "theta_rest_offset_mv"),
    ] {
        let cfg = DiehlCookConfig {
            theta_plus_mv: plus,
            theta_rest_offset_mv: offset,
            ..DiehlCookConfig::digits()
        };
        let err = DiehlCook::new(cfg, 64, (8, 8), 10).unwrap_err().to_string();
        assert!(err.contains(name), "{err}");
    }
}

/// The network the classifier runs is an ordinary engine spec: input, `lif_cond_exp`
/// excitatory neurons with the adaptive threshold (theta relaxing toward `-offset`) and Brian's
/// input order, inhibitory partners; all-to-all input, one-to-one excitation, inhibition of
/// every other excitatory neuron.
#[test]
fn the_network_is_an_engine_spec() {
    use snn_learn::stdp::diehl_cook::network_spec;
    use snn_types::{InputOrder, NeuronModel};
    let cfg = DiehlCookConfig {
        n_neurons: 7,
        theta_rest_offset_mv: 20.0,
        ..DiehlCookConfig::default()
    };
    let spec = network_spec(&cfg, 64).unwrap();
    spec.validate().unwrap();
    let net = snn_core::Network::build(&spec).unwrap();
    let sizes: Vec<u32> = net.populations().iter().map(|p| p.size).collect();
    assert_eq!(sizes, vec![64, 7, 7]);
    let syn: Vec<usize> = net.projections().iter().map(|p| p.n_synapses()).collect();
    assert_eq!(syn, vec![64 * 7, 7, 7 * 6]);
    let NeuronModel::LifCondExp(exc) = &spec.populations[1].neuron else {
        panic!("exc must be lif_cond_exp")
    };
    assert_eq!(exc.input_order, InputOrder::Brian);
    let a = exc.adaptive_threshold.expect("adaptive threshold");
    assert_eq!(
        (a.theta_plus_mv, a.theta_rest_mv),
        (cfg.theta_plus_mv, -20.0)
    );
    assert_eq!(
        exc.c_m_pf / exc.g_l_ns,
        cfg.exc.tau_m_ms,
        "tau_m = C_m / g_L"
    );
    // A bad configuration is refused before anything is built.
    let bad = DiehlCookConfig {
        exc_spike_block_ms: 50.0,
        ..cfg
    };
    let e = network_spec(&bad, 64).unwrap_err().to_string();
    assert!(e.contains("exc_spike_block_ms"), "{e}");
}
