//! `snn train` and `snn eval`, run as a user would, on the bundled digits.

use assert_cmd::Command;

// The scratch-directory guard shared by the workspace's tests (one copy, in snn-types).
#[path = "../../snn-types/tests/common/mod.rs"]
mod common;
use common::scratch;

fn snn() -> Command {
    Command::cargo_bin("snn").expect("binary built")
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
    let work = scratch("train-train_json_checkpoint_resume");
    let ckpt = work.join("m.ckpt");
    let spec = work.join("net.json");
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
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("--limit is not stored"),
        "--limit given again: no note"
    );
    // Resuming without --limit trains on every sample, and says so.
    let out = snn()
        .args(["train", "--epochs", "3", "--json", "--resume"])
        .arg(&ckpt)
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("training on all 1437 digits training samples")
            && err.contains("--limit is not stored in checkpoints"),
        "{err}"
    );
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
    let work = scratch("train-bad_arguments_and_files");
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
    // A repeated --hidden built two layers; layers are comma-separated.
    fails(
        &["train", "--hidden", "10", "--hidden", "20"],
        2,
        "cannot be used multiple times",
    );
    // Numbers beyond f32's range became `inf` and were reported as `inf`.
    for flag in ["--beta", "--lr", "--weight-decay"] {
        fails(
            &["train", flag, "1e308"],
            2,
            "'1e308' is beyond the range of a 32-bit float",
        );
    }
    fails(&["train", "--epochs", "x"], 2, "invalid value 'x'");
    fails(
        &["train", "--dataset", "mnist", "--data", "/no/such/dir"],
        1,
        "/no/such/dir/mnist",
    );
    let junk = work.join("junk.ckpt");
    std::fs::write(&junk, b"SNNCKPT\0 this is not a checkpoint").unwrap();
    fails(&["eval", junk.to_str().unwrap()], 1, "junk.ckpt");
    fails(
        &["train", "--resume", junk.to_str().unwrap()],
        1,
        "junk.ckpt",
    );
    fails(&["eval", "/no/such/model.ckpt"], 1, "/no/such/model.ckpt");
}

/// A small run of `epochs` epochs writing `out` (and `metrics` when given).
fn small_run(epochs: &str, out: &std::path::Path, extra: &[&str]) -> std::process::Output {
    snn()
        .args(SMALL)
        .args(["--epochs", epochs, "--json", "--out"])
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn checkpoints_with_inconsistent_contents_fail_cleanly_everywhere() {
    let work = scratch("train-checkpoints_with_inconsistent_contents");
    use snn_learn::train::Trainer;
    use snn_types::file::{FrameKind, encode_framed};
    let good = work.join("good.ckpt");
    let out = small_run("1", &good, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t = snn_learn::checkpoint::load(&good).unwrap();
    type Edit = Box<dyn Fn(&mut Trainer)>;
    let edits: Vec<(&str, Edit, &str)> = vec![
        (
            "short.ckpt",
            Box::new(|t| t.model.layers[0].w.truncate(640)),
            "layer 1 weights: 640 values, expected 64 x 64 = 4096",
        ),
        (
            "sizes.ckpt",
            Box::new(|t| t.model.config.hidden[0].size = 100),
            "layer 1 is 64 x 64, expected 64 x 100",
        ),
        (
            "outputs.ckpt",
            Box::new(|t| t.model.config.n_outputs = 3),
            "expected 64 x 3",
        ),
        (
            "steps.ckpt",
            Box::new(|t| t.model.config.steps = 0),
            "steps must be at least 1",
        ),
    ];
    for (name, edit, expect) in edits {
        let mut bad = t.clone();
        edit(&mut bad);
        let p = work.join(name);
        std::fs::write(
            &p,
            encode_framed(FrameKind::CHECKPOINT, snn_learn::checkpoint::VERSION, &bad).unwrap(),
        )
        .unwrap();
        let ps = p.to_str().unwrap();
        for args in [
            vec!["eval", ps],
            vec!["eval", "--engine", ps],
            vec!["train", "--resume", ps],
            vec!["inspect", ps],
        ] {
            let out = snn().args(&args).output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
            assert!(
                err.contains(name) && err.contains(expect),
                "{args:?}: {err}"
            );
            assert!(!err.contains("panicked"), "{err}");
        }
    }
}

#[test]
fn resume_refuses_flags_that_differ_from_the_checkpoint() {
    let work = scratch("train-resume_refuses_flags_that");
    let ckpt = work.join("resume.ckpt");
    let out = small_run("1", &ckpt, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let c = ckpt.to_str().unwrap();
    let out = snn()
        .args([
            "train", "--resume", c, "--epochs", "2", "--hidden", "32", "--lr", "0.1",
        ])
        .args([
            "--steps",
            "9",
            "--encoding",
            "rate",
            "--seed",
            "4",
            "--batch-size",
            "7",
        ])
        .args([
            "--weight-decay",
            "0",
            "--beta",
            "0.5",
            "--readout",
            "count",
            "--cosine",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    for want in [
        "--hidden 32 (the checkpoint has 64)",
        "--lr 0.1 (the checkpoint has 0.005)",
        "--steps 9 (the checkpoint has 8)",
        "--encoding rate (the checkpoint has Direct)",
        "--seed 4 (the checkpoint has 1)",
        "--batch-size 7 (the checkpoint has 50)",
        "--weight-decay 0 (the checkpoint has 0.01)",
        "--beta 0.5 (the checkpoint has 0.95)",
        "--readout count (the checkpoint has membrane)",
        "--cosine",
    ] {
        assert!(err.contains(want), "expected '{want}' in {err}");
    }
    // Without the flags (or with equal values) the run continues.
    let out = snn()
        .args([
            "train", "--resume", c, "--epochs", "2", "--json", "--lr", "0.005", "--limit", "300",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (j["epochs"].as_u64(), j["dataset"].as_str()),
        (Some(2), Some("digits"))
    );
}

#[test]
fn nonsense_training_flags_are_usage_errors() {
    for (args, expect) in [
        (&["train", "--limit", "0"][..], "--limit 0"),
        (&["train", "--epochs", "0"], "--epochs 0"),
        (&["train", "--lr", "0"], "--lr 0"),
        (&["train", "--lr=-0.1"], "--lr -0.1"),
        (&["train", "--lr", "NaN"], "--lr NaN"),
        (&["train", "--lr", "inf"], "--lr inf"),
        (&["train", "--weight-decay=-0.01"], "--weight-decay -0.01"),
        (
            &["train", "--batch-size", "0"],
            "batch_size must be at least 1",
        ),
        (&["train", "--early-stop", "0"], "early_stop_patience"),
        (&["train", "--beta", "1.5"], "beta must be in [0, 1]"),
        (&["train", "--steps", "0"], "steps must be at least 1"),
        (
            &["train", "--augment", "flip"],
            "--augment: unknown augmentation `flip`",
        ),
    ] {
        fails(args, 2, expect);
    }
}

#[test]
fn metrics_lines_match_the_checkpoint_after_an_interruption() {
    let work = scratch("train-metrics_lines_match_the");
    let ckpt = work.join("metrics.ckpt");
    let metrics = work.join("metrics.jsonl");
    std::fs::remove_file(&metrics).ok();
    let m = metrics.to_str().unwrap();
    let out = small_run("2", &ckpt, &["--metrics", m]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let epochs = |p: &std::path::Path| -> Vec<u64> {
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["epoch"]
                    .as_u64()
                    .unwrap()
            })
            .collect()
    };
    assert_eq!(epochs(&metrics), [1, 2]);
    let resume = |to: &str| {
        let out = snn()
            .args(SMALL)
            .args(["--epochs", to, "--json", "--resume"])
            .arg(&ckpt)
            .arg("--out")
            .arg(&ckpt)
            .args(["--metrics", m])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    // Interrupted after appending epoch 3's metrics but before its checkpoint: dropped.
    let mut text = std::fs::read_to_string(&metrics).unwrap();
    text.push_str("{\"epoch\":3,\"train_loss\":9.0}\n");
    std::fs::write(&metrics, &text).unwrap();
    resume("3");
    assert_eq!(epochs(&metrics), [1, 2, 3]);
    // Interrupted after saving epoch 3's checkpoint but before its metrics line: filled in.
    let text = std::fs::read_to_string(&metrics).unwrap();
    let cut: Vec<&str> = text.lines().take(2).collect();
    std::fs::write(&metrics, cut.join("\n") + "\n").unwrap();
    resume("4");
    assert_eq!(epochs(&metrics), [1, 2, 3, 4]);
}

#[test]
fn identical_runs_write_byte_identical_checkpoints() {
    let work = scratch("train-identical_runs_write_byte");
    let (a, b) = (work.join("same-a.ckpt"), work.join("same-b.ckpt"));
    for p in [&a, &b] {
        let out = small_run("1", p, &["--threads", "2"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(
        std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(),
        "two identical runs wrote different checkpoints"
    );
}

#[test]
fn conv_architectures_train_resume_export_and_refuse_bad_strings() {
    let work = scratch("train-conv_architectures_train_resume");
    let ckpt = work.join("conv.ckpt");
    let spec = work.join("conv.toml");
    let args = [
        "train",
        "--arch",
        "4C3-AP2-FC10",
        "--steps",
        "6",
        "--limit",
        "300",
        "--batch-size",
        "50",
        "--lr",
        "0.01",
        "--readout",
        "count",
    ];
    let out = snn()
        .args(args)
        .args(["--epochs", "1", "--json", "--out"])
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
    assert_eq!(j["arch"], "4C3-AP2-FC10", "{j}");
    let text = std::fs::read_to_string(&spec).unwrap();
    assert!(text.contains("conv2d") && text.contains("shape"), "{text}");
    snn().arg("validate").arg(&spec).assert().success();
    let c = ckpt.to_str().unwrap();
    // The same --arch resumes; another is a usage error naming the checkpoint's.
    snn()
        .args([
            "train",
            "--resume",
            c,
            "--epochs",
            "2",
            "--arch",
            "4C3-AP2-FC10",
            "--json",
        ])
        .assert()
        .success();
    fails(
        &[
            "train",
            "--resume",
            c,
            "--epochs",
            "3",
            "--arch",
            "4C3-SP2-FC10",
        ],
        2,
        "--arch 4C3-SP2-FC10 (the checkpoint has 4C3-AP2-FC10)",
    );
    let out = snn()
        .args(["eval", c, "--engine", "--json"])
        .output()
        .unwrap();
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["engine"]["agreement"], 1.0, "{j}");
    // Bad strings are usage errors naming the token.
    fails(&["train", "--arch", "12C5-MP2-FC10"], 2, "`MP2`");
    fails(
        &["train", "--arch", "12C5-MP2-FC10"],
        2,
        "use average (AP2)",
    );
    fails(&["train", "--arch", "4C3-AP2-7FC10"], 2, "`7FC10`");
    fails(&["train", "--arch", "4C3-Q2-FC10"], 2, "`Q2`");
    fails(&["train", "--arch", "4C3-FC12"], 2, "FC12 must have 10");
    fails(
        &["train", "--arch", "4C3-FC10", "--hidden", "10"],
        2,
        "cannot be used with",
    );
}

/// A model too large for memory is refused before anything is allocated (it used to abort in
/// `Model::new` with `memory allocation of ... failed`, or swallow the machine), naming the
/// architecture; `--max-memory` sets the limit. Exit code 1, no checkpoint written.
#[test]
fn models_too_large_for_memory_are_refused_before_allocating() {
    let work = scratch("train-models_too_large_for");
    for arch in ["16777216C3-FC10", "4C3-FC16777216-FC10"] {
        fails(
            &["train", "--arch", arch, "--limit", "1", "--epochs", "1"],
            1,
            &format!("training {arch} (batch 128, 25 steps, 1 thread) needs about"),
        );
    }
    fails(
        &[
            "train",
            "--hidden",
            "100000000",
            "--limit",
            "1",
            "--epochs",
            "1",
        ],
        1,
        "training FC100000000-FC10",
    );
    let ckpt = work.join("too-big.ckpt");
    fails(
        &[
            "train",
            "--arch",
            "1000C3-FC10",
            "--max-memory",
            "100M",
            "--out",
            ckpt.to_str().unwrap(),
        ],
        1,
        "the limit is 100 MiB (set by --max-memory)",
    );
    assert!(!ckpt.exists());
    fails(&["train", "--max-memory", "lots"], 2, "invalid size 'lots'");
}

/// `--hidden` with a conv checkpoint is a conflict even when the sizes match the conv layer's
/// neurons (it used to pass silently as "the same" model); the message gives the architecture.
#[test]
fn resume_of_a_conv_checkpoint_refuses_hidden_and_inspect_names_the_arch() {
    let work = scratch("train-resume_of_a_conv");
    let ckpt = work.join("conv-hidden.ckpt");
    snn()
        .args([
            "train",
            "--arch",
            "4C3-SP2-FC10",
            "--steps",
            "2",
            "--limit",
            "20",
            "--epochs",
            "1",
            "--out",
        ])
        .arg(&ckpt)
        .assert()
        .success();
    let c = ckpt.to_str().unwrap();
    for hidden in ["36", "20"] {
        fails(
            &["train", "--resume", c, "--epochs", "2", "--hidden", hidden],
            2,
            &format!(
                "--hidden {hidden} (the checkpoint has the conv architecture 4C3-SP2-FC10; give it as --arch"
            ),
        );
    }
    let out = snn().arg("inspect").arg(&ckpt).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("model            64-4C3-SP2-FC10 = 64-36-10 (2 layers"),
        "{text}"
    );
}

#[test]
fn augmented_training_reports_the_augmentation() {
    let work = scratch("train-augmented_training_reports_the");
    let out = work.join("augment.ckpt");
    let o = small_run("1", &out, &["--augment", "shift:1"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["augment"], "shift:1");
    let o = small_run("1", &work.join("no-augment.ckpt"), &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["augment"], "none");
}

/// `--export` wrote TOML whatever the name: into `net.yaml`, into `net.nir` (which every command
/// then read as HDF5 and refused) and into `net.JSON`. Now refused before training, and `.JSON`
/// is JSON.
#[test]
fn export_names_must_say_toml_or_json() {
    let work = scratch("train-export_names_must_say_toml_or_json");
    for name in ["net.yaml", "net.nir", "net"] {
        let out = snn()
            .args(SMALL)
            .args(["--epochs", "1", "--export"])
            .arg(work.join(name))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{name}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--export") && err.contains(".json"), "{err}");
        assert!(out.stdout.is_empty(), "trained anyway: {out:?}");
    }
    let spec = work.join("net.JSON");
    let out = snn()
        .args(SMALL)
        .args(["--epochs", "1", "--export"])
        .arg(&spec)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = std::fs::read_to_string(&spec).unwrap();
    assert!(text.trim_start().starts_with('{'), "{text}");
}

/// A shift that can move a whole sample off the image is refused before training (shift:100 on
/// the 8x8 digits used to train on silence without a word); a shift below the image size runs.
#[test]
fn augment_shifts_beyond_the_image_are_refused() {
    for shift in ["shift:8", "shift:100"] {
        let out = snn()
            .args(SMALL)
            .args(["--epochs", "1", "--augment", shift])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{shift}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("--augment") && err.contains("8x8") && err.contains("below 8"),
            "{err}"
        );
        assert!(out.stdout.is_empty(), "trained anyway: {out:?}");
    }
    let out = snn()
        .args(SMALL)
        .args(["--epochs", "1", "--augment", "shift:7"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

/// `--out` replaces a checkpoint (continuing a run) but never another file: a spec given as
/// `--out` by mistake used to be overwritten with a binary checkpoint (careless-user pass,
/// session 10). And a model that fits the machine but not the process's address-space limit
/// (`ulimit -v`) is refused before allocating instead of aborting ("memory allocation failed").
#[test]
fn out_replaces_only_checkpoints_and_ulimit_counts_as_memory() {
    let work = scratch("train-out_replaces_only_checkpoints");
    let spec = work.join("net.toml");
    std::fs::write(&spec, "dt_ms = 0.1\n").unwrap();
    let out = snn()
        .args(SMALL)
        .args(["--epochs", "1", "--out"])
        .arg(&spec)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--out") && err.contains("not a training checkpoint"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&spec).unwrap(), "dt_ms = 0.1\n");
    let ckpt = work.join("a.ckpt");
    for _ in 0..2 {
        let out = snn()
            .args(SMALL)
            .args(["--epochs", "1", "--out"])
            .arg(&ckpt)
            .output()
            .unwrap();
        assert!(out.status.success(), "a checkpoint is replaced: {out:?}");
    }
    if cfg!(target_os = "linux") {
        let bin = assert_cmd::cargo::cargo_bin("snn");
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "ulimit -v 3000000 && exec '{}' train --arch 12C5p140-FC10 --limit 200 --steps 5 --epochs 1",
                bin.display()
            ))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("address-space limit (ulimit -v)"), "{err}");
    }
}

/// A learning rate far too large used to train on silently, save a checkpoint of NaN weights
/// and fail only at `--export`; the run now stops in the epoch that diverged, saying so, and
/// writes no checkpoint.
#[test]
fn a_diverging_run_stops_and_saves_nothing() {
    let work = scratch("train-a_diverging_run_stops");
    let ckpt = work.join("big.ckpt");
    let out = snn()
        .args([
            "train", "--epochs", "2", "--limit", "200", "--steps", "5", "--hidden", "16",
        ])
        .args(["--lr", "1e30", "--out"])
        .arg(&ckpt)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("training diverged in epoch 1") && err.contains("lower the learning rate"),
        "{err}"
    );
    assert!(!ckpt.exists());
}

/// A fresh run starts its `--metrics` file anew (its lines used to follow an earlier run's, so
/// one file mixed several runs' epoch 1, 2, ...); lines that are not metrics are kept.
#[test]
fn a_fresh_run_starts_its_metrics_anew() {
    let work = scratch("train-a_fresh_run_starts_its_metrics");
    let m = work.join("m.jsonl");
    std::fs::write(&m, "# my notes\n").unwrap();
    for _ in 0..2 {
        let out = snn()
            .args(SMALL)
            .args(["--epochs", "2", "--metrics"])
            .arg(&m)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    }
    let text = std::fs::read_to_string(&m).unwrap();
    let epochs: Vec<&str> = text.lines().filter(|l| l.starts_with('{')).collect();
    assert_eq!(epochs.len(), 2, "{text}");
    assert!(
        epochs[0].contains("\"epoch\":1") && epochs[1].contains("\"epoch\":2"),
        "{text}"
    );
    assert!(text.contains("# my notes"), "{text}");
}

/// `eval` reads only the test split: a data directory with MNIST's two `t10k` files is enough
/// (it used to need the training files too). A directory named like an IDX file is said to be
/// one. Reads `$SNN_DATA` (default `../shared/data` beside the repository); skips without it.
#[test]
fn eval_reads_only_the_test_split() {
    let data = std::env::var_os("SNN_DATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
        });
    let mnist = data.join("mnist");
    if !mnist.join("t10k-images-idx3-ubyte.gz").is_file() {
        eprintln!("skipping: no MNIST under {}", data.display());
        return;
    }
    let work = scratch("train-eval-test-split");
    let ckpt = work.join("m.ckpt");
    let out = snn()
        .args(["train", "--dataset", "mnist", "--data"])
        .arg(&data)
        .args([
            "--limit", "64", "--epochs", "1", "--hidden", "8", "--steps", "4", "--out",
        ])
        .arg(&ckpt)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let only_test = work.join("data");
    std::fs::create_dir_all(only_test.join("mnist")).unwrap();
    for f in ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"] {
        std::fs::copy(mnist.join(f), only_test.join("mnist").join(f)).unwrap();
    }
    let out = snn()
        .arg("eval")
        .arg(&ckpt)
        .arg("--data")
        .arg(&only_test)
        .arg("--json")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(j["test_acc"].as_f64().is_some(), "{j}");
    // Training needs the training files: a directory in their place is named as such.
    std::fs::create_dir_all(only_test.join("mnist/train-images-idx3-ubyte.gz")).unwrap();
    fails(
        &[
            "train",
            "--dataset",
            "mnist",
            "--data",
            only_test.to_str().unwrap(),
            "--epochs",
            "1",
        ],
        1,
        "train-images-idx3-ubyte.gz: a directory, not the IDX file",
    );
}
