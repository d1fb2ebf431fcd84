//! `snn nir import|export|inspect` end to end, and `.nir` files where a spec is expected.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

// The scratch-directory guard shared by the workspace's tests (one copy, in snn-types).
#[path = "../../snn-types/tests/common/mod.rs"]
mod common;
use common::scratch;

fn snn() -> Command {
    Command::cargo_bin("snn").expect("binary built")
}

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../snn-nir/tests/data")
        .join(rel)
}

fn run(args: &[&str]) -> (bool, String, String) {
    let out = snn().args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn import_the_snntorch_network_with_its_options() {
    let work = scratch("nir-import_the_snntorch_network");
    let out = work.join("mlp.toml");
    let nir = data("snntorch/digits_mlp.nir");
    let (ok, stdout, stderr) = run(&[
        "nir",
        "import",
        nir.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--dt-ms",
        "0.1",
        "--reset",
        "subtract-delayed",
    ]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("3 populations, 106 neurons"), "{stdout}");
    let spec = snn_types::NetworkSpec::load(&out).unwrap();
    assert_eq!(spec.dt_ms, 0.1);
    // The default dt (1 ms) is longer than snnTorch's tau: a clear error naming the node.
    let (ok, _, stderr) = run(&["validate", nir.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        stderr.contains("node '1' (LIF): dt = 1 ms is longer than tau"),
        "{stderr}"
    );
    // The input is never overwritten.
    let (ok, _, stderr) = run(&[
        "nir",
        "import",
        nir.to_str().unwrap(),
        "--out",
        nir.to_str().unwrap(),
    ]);
    assert!(!ok && stderr.contains("input"), "{stderr}");
}

#[test]
fn export_then_use_the_nir_file_as_a_spec() {
    let work = scratch("nir-export_then_use_the");
    let conv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/conv_small.toml");
    let out = work.join("conv_small.nir");
    let (ok, stdout, stderr) = run(&[
        "nir",
        "export",
        conv.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("note: stimuli[0] (poisson)"), "{stdout}");
    let (ok, stdout, stderr) = run(&["nir", "inspect", out.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("Conv2d") && stdout.contains("SumPool2d"),
        "{stdout}"
    );
    assert!(stdout.contains("in -> in_to_c1"), "{stdout}");
    for cmd in ["validate", "inspect"] {
        let (ok, stdout, stderr) = run(&[cmd, out.to_str().unwrap()]);
        assert!(ok, "{cmd}: {stderr}");
        assert!(
            stdout.contains("conv2d") || stdout.contains("valid"),
            "{cmd}: {stdout}"
        );
    }
    let (ok, stdout, stderr) = run(&["simulate", out.to_str().unwrap(), "--duration-ms", "20"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("neurons          426"), "{stdout}");
    // A truncated file is an error, not a crash.
    let bytes = std::fs::read(&out).unwrap();
    let bad = work.join("truncated.nir");
    std::fs::write(&bad, &bytes[..bytes.len() / 3]).unwrap();
    let (ok, _, stderr) = run(&["nir", "inspect", bad.to_str().unwrap()]);
    assert!(!ok && stderr.contains("truncated.nir"), "{stderr}");
}

/// Output names and options that were accepted and then written or applied wrongly: `import
/// --out net.yaml` (TOML in it), `--out net.nir` (TOML in a .nir name, which every command then
/// failed to read as HDF5), `export --out net.toml` (HDF5 in a .toml name), `--steps 0` (written
/// as a one-step readout), `--dt-ms=-1` (exit 1 after reading the file), `--dt-ms 1e300` (the
/// error printed 301 digits). `.JSON` writes JSON.
#[test]
fn output_names_steps_and_dt_are_checked_before_any_work() {
    let work = scratch("nir-output_names_steps_and_dt");
    let conv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/conv_small.toml");
    let nir = work.join("conv.nir");
    let (ok, _, stderr) = run(&[
        "nir",
        "export",
        conv.to_str().unwrap(),
        "--out",
        nir.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    let nir = nir.to_str().unwrap();
    let at = |name: &str| work.join(name).to_str().unwrap().to_string();
    for (args, what) in [
        (
            vec!["nir", "import", nir, "--out", &at("net.yaml")],
            "must end in .toml or .json",
        ),
        (
            vec!["nir", "import", nir, "--out", &at("net.nir")],
            "name it .toml or .json",
        ),
        (
            vec![
                "nir",
                "export",
                conv.to_str().unwrap(),
                "--out",
                &at("net.toml"),
            ],
            "must end in .nir",
        ),
        (
            vec!["nir", "import", nir, "--out", &at("a.toml"), "--steps", "0"],
            "--steps must be at least 1",
        ),
        (
            vec!["nir", "import", nir, "--out", &at("a.toml"), "--dt-ms=-1"],
            "--dt-ms: must be > 0",
        ),
    ] {
        let out = snn().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(what), "{args:?}: {err}");
    }
    let (ok, _, stderr) = run(&[
        "nir",
        "import",
        nir,
        "--out",
        &at("a.toml"),
        "--dt-ms",
        "1e300",
    ]);
    assert!(!ok && stderr.contains("dt = 1e300 ms"), "{stderr}");
    assert!(stderr.len() < 300, "{stderr}");
    let (ok, _, stderr) = run(&["nir", "import", nir, "--out", &at("net.JSON")]);
    assert!(ok, "{stderr}");
    let text = std::fs::read_to_string(work.join("net.JSON")).unwrap();
    assert!(text.trim_start().starts_with('{'), "{text}");
    // Nothing else was written.
    let mut names: Vec<String> = std::fs::read_dir(&work)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["conv.nir", "net.JSON"]);
}
