//! `snn train` and `snn eval`, run as a user would, on the bundled digits.

use assert_cmd::Command;

fn snn() -> Command {
    Command::cargo_bin("snn").expect("binary built")
}

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("snn-train-cli-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

const SMALL: &[&str] = &[
    "train",
    "--hidden",
    "64",
    "--steps",
    "8",
    "--limit",
    "300",
    "--batch-size",
    "50",
    "--lr",
    "0.005",
];

#[test]
fn train_json_checkpoint_resume_eval_and_export() {
    let ckpt = tmp("m.ckpt");
    let spec = tmp("net.json");
    let out = snn()
        .args(SMALL)
        .args(["--epochs", "2", "--json", "--out"])
        .arg(&ckpt)
        .arg("--export")
        .arg(&spec)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for k in [
        "dataset",
        "epochs",
        "test_acc",
        "train_s_per_epoch",
        "peak_rss_mb",
        "threads",
        "seed",
    ] {
        assert!(j.get(k).is_some(), "missing {k}: {j}");
    }
    assert_eq!(j["epochs"], 2);
    assert!(j["test_acc"].as_f64().unwrap() > 0.3, "{j}");
    // Resume to 3 epochs.
    let out = snn()
        .args(SMALL)
        .args(["--epochs", "3", "--json", "--resume"])
        .arg(&ckpt)
        .arg("--out")
        .arg(&ckpt)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["epochs"], 3);
    // Eval in the trainer and in the engine: the two agree on every sample.
    let out = snn()
        .args(["eval", "--engine", "--json"])
        .arg(&ckpt)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["engine"]["agreement"], 1.0, "{j}");
    assert_eq!(j["engine"]["test_acc"], j["test_acc"]);
    // The exported network is a valid spec for the simulator.
    snn().arg("validate").arg(&spec).assert().success();
}

fn fails(args: &[&str], code: i32, expect: &str) {
    let out = snn().args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(code), "{args:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(expect),
        "{args:?}: expected '{expect}' in {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_arguments_and_files_fail_cleanly() {
    // Bad flag values are usage errors (exit code 2).
    fails(&["train", "--dataset", "cifar"], 2, "--dataset cifar");
    fails(&["train", "--encoding", "morse"], 2, "--encoding morse");
    fails(
        &["train", "--surrogate", "cosine:3"],
        2,
        "invalid surrogate 'cosine:3'",
    );
    fails(&["train", "--readout", "votes"], 2, "--readout votes");
    fails(&["train", "--hidden", "0"], 2, "--hidden");
    fails(&["train", "--epochs", "x"], 2, "invalid value 'x'");
    fails(
        &["train", "--dataset", "mnist", "--data", "/no/such/dir"],
        1,
        "/no/such/dir/mnist",
    );
    let junk = tmp("junk.ckpt");
    std::fs::write(&junk, b"SNNCKPT\0 this is not a checkpoint").unwrap();
    fails(&["eval", junk.to_str().unwrap()], 1, "junk.ckpt");
    fails(
        &["train", "--resume", junk.to_str().unwrap()],
        1,
        "junk.ckpt",
    );
    fails(&["eval", "/no/such/model.ckpt"], 1, "/no/such/model.ckpt");
}
