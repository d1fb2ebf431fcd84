//! `snn demo` end to end on the bundled digits (small settings to stay fast).

use assert_cmd::Command;

// The scratch-directory guard shared by the workspace's tests (one copy, in snn-types).
#[path = "../../snn-types/tests/common/mod.rs"]
mod common;
use common::scratch;

#[test]
fn demo_writes_the_comparison_and_the_engine_agrees() {
    let work = scratch("demo");
    let dir = work.join("out");
    let out = Command::cargo_bin("snn")
        .unwrap()
        .args([
            "demo", "--hidden", "32", "--epochs", "3", "--steps", "10", "--json", "--out",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["snn_engine"]["agreement_with_trainer"], 1.0, "{j}");
    for col in ["ann", "snn_engine", "snn_chip"] {
        let acc = j[col]["test_acc"].as_f64().unwrap();
        assert!(acc > 0.3, "{col}: {acc}");
        assert!(
            j[col]["energy_per_inference_nj"].as_f64().unwrap() > 0.0,
            "{col}"
        );
    }
    for f in [
        "comparison.md",
        "comparison.json",
        "training.json",
        "snn.toml",
        "raster.svg",
        "raster.png",
        "training.svg",
        "training.png",
        "chip_energy.svg",
        "chip_energy.png",
        "chip_cores.svg",
        "chip_cores.png",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    let md = std::fs::read_to_string(dir.join("comparison.md")).unwrap();
    assert!(md.contains("| test accuracy |") && md.contains("energy per inference"));
}

#[test]
fn demo_rejects_a_bad_architecture() {
    let out = Command::cargo_bin("snn")
        .unwrap()
        .args(["demo", "--arch", "/no/such/arch.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/arch.toml"));
    // TrueNorth's 4 axon types cannot hold trained real-valued weights: refused before training
    // (it used to train, export and then fail at the chip step).
    let dir = scratch("demo-truenorth");
    let out = Command::cargo_bin("snn")
        .unwrap()
        .args(["demo", "--arch", "truenorth", "--epochs", "1", "--out"])
        .arg(dir.join("d"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("axon_types") && err.contains("would fail after training"),
        "{err}"
    );
    assert!(!dir.join("d").exists(), "nothing written");
}

#[test]
fn demo_conv_runs_a_conv_network_through_engine_and_chip() {
    let work = scratch("demo-conv");
    let dir = work.join("out");
    let out = Command::cargo_bin("snn")
        .unwrap()
        .args([
            "demo", "--conv", "--epochs", "2", "--steps", "8", "--json", "--out",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["snn_engine"]["agreement_with_trainer"], 1.0, "{j}");
    assert!(j["snn_net"].as_str().unwrap().contains("C3p1-AP2"), "{j}");
    let spec = std::fs::read_to_string(dir.join("snn.toml")).unwrap();
    assert!(
        spec.contains("rule = \"conv2d\""),
        "the export has no conv projection"
    );
    assert!(j["snn_chip"]["cores_used"].as_u64().unwrap() >= 1);
}

/// Sizes whose training cannot fit were a panic (capacity overflow) or an abort (a failed
/// allocation of tens of GB); now an error before the output directory exists.
#[test]
fn demo_refuses_sizes_beyond_memory() {
    let dir = scratch("demo-huge");
    for (args, what) in [
        (&["--hidden", "18446744073709551615"][..], "training FC"),
        (
            &["--hidden", "100000000", "--max-memory", "4G"],
            "training FC",
        ),
        (&["--conv", "--hidden", "18446744073709551615"], "the 64-"),
        (
            &["--conv", "--steps", "100000", "--max-memory", "4G"],
            "100000 steps",
        ),
    ] {
        let out = Command::cargo_bin("snn")
            .unwrap()
            .arg("demo")
            .args(args)
            .args(["--epochs", "1", "--out"])
            .arg(dir.join("d"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains(what) && !err.contains("panicked"),
            "{args:?}: {err}"
        );
        assert!(!dir.join("d").exists(), "{args:?}: nothing written");
    }
}
