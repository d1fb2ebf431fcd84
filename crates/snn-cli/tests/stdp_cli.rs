//! `snn stdp`, run as a user would.

use assert_cmd::Command;

// The scratch-directory guard shared by the workspace's tests (one copy, in snn-types).
#[path = "../../snn-types/tests/common/mod.rs"]
mod common;
use common::scratch;

fn snn() -> Command {
    Command::cargo_bin("snn").expect("binary built")
}

#[test]
fn small_digits_run_with_json_checkpoint_and_plot() {
    let work = scratch("stdp-small_digits_run_with");
    let (ckpt, svg) = (work.join("w.ckpt"), work.join("w.svg"));
    let out = snn()
        .args([
            "stdp",
            "--dataset",
            "digits",
            "--neurons",
            "20",
            "--train-limit",
            "200",
        ])
        .args(["--test-limit", "100", "--json", "--out"])
        .arg(&ckpt)
        .arg("--plot-weights")
        .arg(&svg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in ["dataset", "neurons", "epochs", "test_acc", "train_s"] {
        assert!(j.get(key).is_some(), "missing {key} in {j}");
    }
    assert_eq!(j["dataset"], "digits");
    assert_eq!(j["neurons"], 20);
    assert_eq!(j["epochs"], 1);
    let acc = j["test_acc"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&acc));
    assert!(std::fs::read_to_string(&svg).unwrap().starts_with("<svg"));
    // Reload and evaluate only: same accuracy (same frozen pass, same seeds).
    let out = snn()
        .args([
            "stdp",
            "--dataset",
            "digits",
            "--test-limit",
            "100",
            "--json",
            "--epochs",
            "0",
        ])
        .arg("--load")
        .arg(&ckpt)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let k: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(k["test_acc"], j["test_acc"]);
}

fn fails_cleanly(args: &[&str], code: i32, needle: &str) {
    let out = snn().args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(code), "{args:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains(needle), "{args:?}: {err}");
    if code == 1 {
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        assert!(err.starts_with("error: "), "{err}");
    }
}

#[test]
fn bad_arguments_fail_with_one_line_errors() {
    let work = scratch("stdp-bad_arguments_fail_with");
    fails_cleanly(&["stdp", "--dataset", "cifar"], 2, "cifar");
    fails_cleanly(&["stdp", "--neurons", "abc"], 2, "abc");
    fails_cleanly(&["stdp", "--neurons", "0"], 2, "--neurons");
    fails_cleanly(&["stdp", "--threads", "0"], 2, "--threads");
    fails_cleanly(&["stdp", "--epochs", "0"], 2, "--epochs");
    fails_cleanly(&["stdp", "--plot-weights", "w.pdf"], 2, ".svg or .png");
    fails_cleanly(
        &["stdp", "--dataset", "mnist", "--data", "/nonexistent/dir"],
        1,
        "error:",
    );
    let bogus = work.join("bogus.ckpt");
    std::fs::write(&bogus, b"not a checkpoint").unwrap();
    fails_cleanly(&["stdp", "--load", bogus.to_str().unwrap()], 1, "magic");
    fails_cleanly(&["stdp", "--load", "/nonexistent.ckpt"], 1, "nonexistent");
}

#[test]
fn inconsistent_weight_files_and_conflicting_seeds_fail_cleanly() {
    let work = scratch("stdp-inconsistent_weight_files_and");
    use snn_learn::stdp::diehl_cook::{DiehlCook, DiehlCookConfig};
    use snn_types::file::{FrameKind, encode_framed};
    let good = work.join("seeded.ckpt");
    let cfg = DiehlCookConfig {
        n_neurons: 5,
        seed: 3,
        ..DiehlCookConfig::digits()
    };
    let m = DiehlCook::new(cfg, 64, (8, 8), 10).unwrap();
    m.save(&good).unwrap();
    let g = good.to_str().unwrap();
    fails_cleanly(
        &["stdp", "--load", g, "--seed", "4"],
        2,
        "--seed 4 differs from the seed of",
    );
    // The network's body with another neuron count than its weights (a valid checksum).
    let mut v = serde_json::to_value(&m).unwrap();
    v["cfg"]["n_neurons"] = serde_json::json!(6);
    let bad: DiehlCook = serde_json::from_value(v).unwrap();
    let p = work.join("inconsistent.ckpt");
    std::fs::write(&p, encode_framed(FrameKind::STDP_WEIGHTS, 3, &bad).unwrap()).unwrap();
    fails_cleanly(
        &["stdp", "--load", p.to_str().unwrap(), "--epochs", "0"],
        1,
        "inconsistent.ckpt: inconsistent weight file: weights: 320 values, expected 64 inputs x 6 neurons = 384",
    );
}

/// Found by trying the command carelessly: threshold flags of `-1`, NaN or `1e300` were refused
/// only after the data was loaded, with exit 1 and the library's field name (or, `1e300`,
/// accepted: every neuron fired on every step); `--threads 100000` wrote a weight file that
/// `--load` refused; `--load FILE` without `--epochs` trained a whole epoch (the help's
/// "evaluate saved weights, no training").
#[test]
fn careless_flags_are_usage_errors_and_load_only_evaluates() {
    let work = scratch("stdp-careless_flags_are_usage");
    for (flag, v) in [
        ("--theta-plus-mv", "-1"),
        ("--theta-plus-mv", "NaN"),
        ("--theta-plus-mv", "inf"),
        ("--theta-plus-mv", "1e300"),
        ("--theta-rest-offset-mv", "1e300"),
        ("--theta-rest-offset-mv", "-0.5"),
    ] {
        let arg = format!("{flag}={v}");
        fails_cleanly(&["stdp", "--neurons", "3", &arg], 2, flag);
    }
    fails_cleanly(
        &["stdp", "--threads", "100000"],
        2,
        "--threads must be in 1..=4096",
    );
    fails_cleanly(&["stdp", "--integration", "rk4"], 2, "exponential-euler");
    // Refused before training (was: exit 1 after it, the rename onto `fields.svg/` failing).
    let slash = format!("{}/", work.join("fields.svg").display());
    fails_cleanly(&["stdp", "--plot-weights", &slash], 2, "not a file path");
    // `1e300` named as written, not in 301 digits.
    let out = snn()
        .args(["stdp", "--theta-rest-offset-mv=1e300"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("got 1e300"));

    use snn_learn::stdp::diehl_cook::{DiehlCook, DiehlCookConfig};
    let p = work.join("evaluate-only.ckpt");
    let cfg = DiehlCookConfig {
        n_neurons: 4,
        ..DiehlCookConfig::digits()
    };
    DiehlCook::new(cfg, 64, (8, 8), 10)
        .unwrap()
        .save(&p)
        .unwrap();
    let out = snn()
        .args([
            "stdp",
            "--test-limit",
            "5",
            "--train-limit",
            "20",
            "--json",
            "--load",
        ])
        .arg(&p)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["epochs"], 0, "{j}");
    assert_eq!(j["presentations"], 0, "{j}");
    // An explicit --epochs still trains further.
    let out = snn()
        .args([
            "stdp",
            "--test-limit",
            "5",
            "--train-limit",
            "5",
            "--epochs",
            "1",
            "--json",
        ])
        .arg("--load")
        .arg(&p)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["epochs"], 1, "{j}");
}

/// The Padé scheme by default; `--integration euler` trains with forward Euler (the paper
/// code's scheme), says so in the summary, and the file keeps it; with `--load` the file fixes
/// it.
#[test]
fn integration_is_chosen_reported_and_saved() {
    use snn_learn::stdp::diehl_cook::DiehlCook;
    use snn_types::CondIntegration;
    let work = scratch("stdp-integration_is_chosen");
    let out = snn()
        .args([
            "stdp",
            "--neurons",
            "10",
            "--train-limit",
            "20",
            "--test-limit",
            "10",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["integration"], "pade", "{j}");
    let p = work.join("euler.ckpt");
    let out = snn()
        .args([
            "stdp",
            "--neurons",
            "10",
            "--train-limit",
            "30",
            "--test-limit",
            "10",
            "--integration",
            "euler",
            "--json",
            "--out",
        ])
        .arg(&p)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["integration"], "euler", "{j}");
    assert_eq!(
        DiehlCook::load(&p).unwrap().config().integration,
        CondIntegration::Euler
    );
    fails_cleanly(
        &[
            "stdp",
            "--load",
            p.to_str().unwrap(),
            "--integration",
            "exponential-euler",
        ],
        2,
        "cannot be combined with --load",
    );
}
