//! Diehl & Cook on MNIST (reads `$SNN_DATA`, default `../shared/data`; skips without the data).
//!
//! The full runs are `#[ignore]`d (minutes in release mode):
//! `SNN_DATA=/work/shared/data SNN_STDP_NEURONS=400 cargo test --release -p snn-learn --test stdp_mnist -- --ignored --nocapture`

use std::time::Instant;

use snn_learn::data::{Dataset, data_dir, mnist_like};
use snn_learn::stdp::diehl_cook::{DiehlCook, DiehlCookConfig};

fn mnist() -> Option<(Dataset, Dataset)> {
    let dir = data_dir(None).ok()?;
    match mnist_like(&dir, "mnist") {
        Ok(d) => Some(d),
        Err(e) => {
            eprintln!("skipping: MNIST not available ({e})");
            None
        }
    }
}

fn quiet(_: usize, _: usize) {}

#[test]
fn a_small_mnist_subset_learns() {
    let Some((train, test)) = mnist() else { return };
    let (train, test) = (train.take(1000), test.take(500));
    let cfg = DiehlCookConfig {
        n_neurons: 50,
        ..DiehlCookConfig::default()
    };
    let mut m = DiehlCook::new(cfg, 784, (28, 28), 10).unwrap();
    m.train_epoch(&train, &quiet).unwrap();
    m.label(&train, &quiet).unwrap();
    let acc = m.accuracy(&test, &quiet).unwrap();
    eprintln!("MNIST 1000 images, 50 neurons: test accuracy {acc:.3}");
    assert!(acc > 0.4, "{acc}");
}

#[test]
#[ignore = "minutes: run in release mode"]
fn mnist_full_epoch() {
    let Some((train, test)) = mnist() else { return };
    let env = |k: &str, d: usize| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let n = env("SNN_STDP_NEURONS", 100);
    let epochs = env("SNN_STDP_EPOCHS", 1);
    let train = train.take(env("SNN_STDP_TRAIN", 60_000));
    let envf = |k: &str, d: f64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let base = DiehlCookConfig::default();
    let cfg = DiehlCookConfig {
        n_neurons: n,
        theta_plus_mv: envf("SNN_STDP_THETA_PLUS", base.theta_plus_mv),
        theta_rest_offset_mv: envf("SNN_STDP_THETA_OFFSET", base.theta_rest_offset_mv),
        max_boosts: env("SNN_STDP_MAX_BOOSTS", base.max_boosts as usize) as u32,
        ..base
    };
    eprintln!("config: {cfg:?}");
    let mut m = DiehlCook::new(cfg, 784, (28, 28), 10).unwrap();
    let report = |what: &'static str| {
        let t = Instant::now();
        move |d: usize, total: usize| {
            if d.is_multiple_of(5000) || d == total {
                eprintln!("{what}: {d}/{total} ({:.0} s)", t.elapsed().as_secs_f64());
            }
        }
    };
    let t = Instant::now();
    for _ in 0..epochs {
        let s = m.train_epoch(&train, &report("train")).unwrap();
        eprintln!("epoch done: {s:?}");
    }
    let train_s = t.elapsed().as_secs_f64();
    m.label(&train, &report("label")).unwrap();
    let label_s = t.elapsed().as_secs_f64() - train_s;
    let acc = m.accuracy(&test, &report("test")).unwrap();
    let total_s = t.elapsed().as_secs_f64();
    eprintln!(
        "RESULT neurons={n} epochs={epochs} train_images={} test_acc={acc:.4} train_s={train_s:.1} label_s={label_s:.1} total_s={total_s:.1}",
        train.len()
    );
    if let Ok(p) = std::env::var("SNN_STDP_SAVE") {
        m.save(std::path::Path::new(&p)).unwrap();
    }
}
