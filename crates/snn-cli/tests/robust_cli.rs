//! Hardening of the command line: broken pipes, exit codes of bad flags, `snn chip`'s steps,
//! weight bits and dropped input spikes.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use assert_cmd::Command;

// The scratch-directory guard shared by the workspace's tests (one copy, in snn-types).
#[path = "../../snn-types/tests/common/mod.rs"]
mod common;
use common::scratch;

fn snn() -> Command {
    Command::cargo_bin("snn").unwrap()
}

fn tmp(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn examples(name: &str) -> String {
    format!("{}/../../examples/{name}", env!("CARGO_MANIFEST_DIR"))
}

const NET: &str = r#"
dt_ms = 1.0
seed = 3
[[populations]]
name = "in"
size = 20
neuron = { model = "input" }
[[populations]]
name = "out"
size = 100
neuron = { model = "loihi_lif" }
[[projections]]
source = "in"
target = "out"
connectivity = { rule = "all_to_all" }
weight = 40
[[stimuli]]
kind = "poisson"
target = "in"
rate_hz = 100.0
"#;

/// Runs `snn args` with stdout a pipe that is closed before the command writes anything, so
/// every write fails with EPIPE. Returns (exit code, stderr).
fn with_closed_stdout(args: &[&str]) -> (Option<i32>, String) {
    let bin = assert_cmd::cargo::cargo_bin("snn");
    let mut child = std::process::Command::new(bin)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (child.wait().unwrap().code(), err)
}

#[test]
fn a_reader_that_goes_away_is_a_quiet_exit_141() {
    let work = scratch("robust-a_reader_that_goes");
    let net = tmp(&work, "pipe.toml", &format!("duration_ms = 20.0\n{NET}"));
    let net = net.to_str().unwrap();
    let cuba = examples("cuba.toml");
    let cases: Vec<Vec<&str>> = vec![
        vec!["chip", "--fit", net, "--json"],
        vec!["chip", "--fit", net],
        vec!["chip", net, "--json"],
        vec!["chip", net],
        vec!["chip", "sweep", net, "--vary", "core.compartments=64,128"],
        vec!["chip", net, "--json", "--probe", "out"],
        vec!["inspect", &cuba],
        vec!["inspect", &cuba, "--json"],
        vec!["validate", &cuba],
        vec!["encode"],
        vec!["encode", "--json"],
        vec!["simulate", "--neurons", "50", "--duration-ms", "5"],
        vec![
            "simulate",
            "--neurons",
            "50",
            "--duration-ms",
            "5",
            "--json",
        ],
    ];
    for args in cases {
        let (code, err) = with_closed_stdout(&args);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(err, "", "{args:?}: must be quiet");
        // 141 when the write met the closed pipe; 0 only if the output was written before the
        // pipe was closed (a race the scheduler may win on a busy machine).
        assert!(matches!(code, Some(141) | Some(0)), "{args:?}: {code:?}");
    }
}

#[test]
fn reading_only_the_first_bytes_is_quiet_too() {
    let work = scratch("robust-reading_only_the_first");
    // A long output (every output spike as JSON) read for a few bytes only.
    let net = tmp(&work, "long.toml", &format!("duration_ms = 2000.0\n{NET}"));
    let bin = assert_cmd::cargo::cargo_bin("snn");
    let mut child = std::process::Command::new(bin)
        .args(["chip", net.to_str().unwrap(), "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut head = [0u8; 16];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut head)
        .unwrap();
    drop(child.stdout.take());
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let code = child.wait().unwrap().code();
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err, "", "must be quiet");
    // Megabytes of output cannot fit the pipe's buffer: the write must meet the closed pipe.
    assert_eq!(code, Some(141), "{err}");
}

fn exit_code(args: &[&str]) -> (i32, String) {
    let out = snn().args(args).output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_flag_values_exit_with_2_and_name_the_flag() {
    let work = scratch("robust-bad_flag_values_exit");
    let net = tmp(&work, "flags.toml", &format!("duration_ms = 20.0\n{NET}"));
    let net = net.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["simulate", "--threads", "0"], "--threads"),
        (vec!["simulate", "--neurons", "0"], "--neurons"),
        (
            vec!["simulate", "--neurons", "10", "--duration-ms=-5"],
            "--duration-ms",
        ),
        (
            vec!["simulate", "--neurons", "10", "--duration-ms", "nan"],
            "--duration-ms",
        ),
        (
            vec!["simulate", "--neurons", "10", "--duration-ms", "1e300"],
            "--duration-ms",
        ),
        (
            vec!["simulate", "--neurons", "10", "--plot", "x.txt"],
            "--plot",
        ),
        (vec!["encode", "--steps", "0"], "--steps"),
        (vec!["encode", "--max-rate-hz=-3"], "--max-rate-hz"),
        // A negative number after a space reaches the option's own check too.
        (vec!["encode", "--max-rate-hz", "-3"], "--max-rate-hz"),
        (
            vec!["simulate", "--neurons", "10", "--duration-ms", "-5"],
            "--duration-ms",
        ),
        (vec!["train", "--lr", "-1"], "--lr"),
        (vec!["stdp", "--neurons", "-4"], "--neurons"),
        (vec!["encode", "--max-rate-hz", "nan"], "--max-rate-hz"),
        (vec!["encode", "--max-rate-hz", "5000"], "--max-rate-hz"),
        (vec!["encode", "--dt-ms", "0"], "--dt-ms"),
        (
            vec!["encode", "--scheme", "ttfs", "--threshold", "2"],
            "--threshold",
        ),
        (
            vec!["encode", "--scheme", "ttfs", "--threshold", "1e300"],
            "--threshold",
        ),
        (
            vec!["encode", "--scheme", "ttfs", "--steps", "1"],
            "--steps",
        ),
        (
            vec!["encode", "--scheme", "delta", "--threshold", "0"],
            "--threshold",
        ),
        (
            vec!["encode", "--scheme", "population", "--beta=-1"],
            "--beta",
        ),
        (
            vec![
                "encode",
                "--scheme",
                "population",
                "--neurons-per-feature",
                "1",
            ],
            "--neurons-per-feature",
        ),
        (vec!["encode", "--min", "5", "--max", "1"], "--min"),
        (vec!["encode", "--digit-index", "99999"], "--digit-index"),
        (vec!["encode", "--plot", "x.txt"], "--plot"),
        (vec!["chip", net, "--weight-bits", "99"], "--weight-bits"),
        (vec!["chip", net, "--weight-bits", "0"], "--weight-bits"),
        (vec!["chip", net, "--steps", "0"], "--steps"),
        (vec!["chip", net, "--noc", "warp"], "--noc"),
        (vec!["train", "--threads", "0"], "--threads"),
        (vec!["train", "--steps", "0"], "--steps"),
        (vec!["train", "--batch-size", "0"], "--batch-size"),
        (vec!["train", "--lr=-1"], "--lr"),
        (vec!["train", "--beta", "2"], "--beta"),
        (vec!["train", "--hidden", "0"], "--hidden"),
        (vec!["train", "--readout", "vote"], "--readout"),
        (vec!["train", "--encoding", "morse"], "--encoding"),
        (vec!["train", "--surrogate", "nope"], "--surrogate"),
        (vec!["eval", "x.ckpt", "--threads", "0"], "--threads"),
        (vec!["stdp", "--threads", "0"], "--threads"),
        (vec!["stdp", "--neurons", "0"], "--neurons"),
        (vec!["demo", "--threads", "0"], "--threads"),
        (vec!["inspect"], "FILE"),
        (vec!["validate"], "SPEC"),
    ];
    for (args, flag) in cases {
        let (code, err) = exit_code(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(flag), "{args:?} must name {flag}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn runtime_failures_exit_with_1() {
    let work = scratch("robust-runtime_failures_exit_with");
    let bad = tmp(&work, "bad.toml", "dt_ms = 0.0\npopulations = []\n");
    for args in [
        vec!["validate", bad.to_str().unwrap()],
        vec!["inspect", "/nonexistent/x.toml"],
        vec!["chip", "/nonexistent/x.toml", "--steps", "5"],
    ] {
        let (code, err) = exit_code(&args);
        assert_eq!(code, 1, "{args:?}: {err}");
    }
}

#[test]
fn chip_steps_come_from_duration_or_must_be_given() {
    let work = scratch("robust-chip_steps_come_from");
    let no_duration = tmp(&work, "nodur.toml", NET);
    let (code, err) = exit_code(&["chip", no_duration.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--steps") && err.contains("duration_ms"),
        "{err}"
    );
    // --fit needs no steps.
    snn()
        .args(["chip", "--fit", no_duration.to_str().unwrap()])
        .assert()
        .success();
    let with = tmp(&work, "dur.toml", &format!("duration_ms = 30.0\n{NET}"));
    let out = snn()
        .args(["chip", with.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["steps"], 30);
}

#[test]
fn chip_warns_about_input_spikes_beyond_the_run() {
    let work = scratch("robust-chip_warns_about_input");
    let net = tmp(&work, "warn.toml", NET);
    let input = tmp(&work, "in.csv", "step,neuron\n1,0\n9,1\n10,2\n500,3\n");
    let out = snn()
        .args([
            "chip",
            net.to_str().unwrap(),
            "--steps",
            "10",
            "--input",
            input.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning") && err.contains("2 of 4") && err.contains("--steps"),
        "{err}"
    );
    // All inside the run: no warning.
    let out = snn()
        .args([
            "chip",
            net.to_str().unwrap(),
            "--steps",
            "600",
            "--input",
            input.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("warning"));
}

/// A negative number for an option that takes none says so (clap alone says "invalid digit found
/// in string").
#[test]
fn negative_counts_say_what_is_wrong() {
    for (args, flag) in [
        (vec!["simulate", "--threads", "-1"], "--threads"),
        (vec!["stdp", "--train-limit", "-3"], "--train-limit"),
        (vec!["train", "--epochs", "-2"], "--epochs"),
    ] {
        let out = snn().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(flag) && err.contains("must not be negative"),
            "{args:?}: {err}"
        );
    }
}

/// `-inf` and `-nan` after a space reach the option's own check, as `=-inf` does (clap alone
/// read them as short flags: "unexpected argument '-i' found").
#[test]
fn non_finite_values_after_a_space_reach_the_option_check() {
    for (args, expect) in [
        (
            vec!["simulate", "--network", "cuba", "--duration-ms", "-inf"],
            "--duration-ms",
        ),
        (
            vec!["simulate", "--network", "cuba", "--duration-ms", "-NaN"],
            "--duration-ms",
        ),
        (vec!["stdp", "--theta-plus-mv", "-Infinity"], "theta-plus"),
    ] {
        let out = snn().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(expect) && !err.contains("unexpected argument"),
            "{args:?}: {err}"
        );
    }
}
