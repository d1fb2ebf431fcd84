//! `snn inspect` end to end: specs, checkpoints, chip reports and bad files.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

// The scratch-directory guard shared by the workspace's tests (one copy, in snn-types).
#[path = "../../snn-types/tests/common/mod.rs"]
mod common;
use common::scratch;

fn snn() -> Command {
    Command::cargo_bin("snn").expect("binary built")
}

fn cuba() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/cuba.toml")
}

fn ok_stdout(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn inspect_json(file: &Path) -> Value {
    let out = snn()
        .arg("inspect")
        .arg(file)
        .arg("--json")
        .output()
        .unwrap();
    let s = ok_stdout(&out);
    assert_eq!(
        s.trim().lines().count(),
        1,
        "one JSON object on one line: {s}"
    );
    serde_json::from_str(s.trim()).unwrap()
}

/// Asserts exit code 1 and exactly one stderr line `error: FILE: ...`; returns the line.
fn one_error_line(file: &Path) -> String {
    let out = snn().arg("inspect").arg(file).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stdout.is_empty());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    let prefix = format!("error: {}: ", file.display());
    assert!(err.starts_with(&prefix), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn spec_human_summary() {
    let out = snn().arg("inspect").arg(cuba()).output().unwrap();
    let s = ok_stdout(&out);
    assert!(s.contains("network spec"), "{s}");
    assert!(s.contains("cuba"), "{s}");
    assert!(
        s.contains("exc") && s.contains("inh") && s.contains("lif_exp"),
        "{s}"
    );
    assert!(s.contains("3200") && s.contains("800"), "{s}");
    assert!(s.contains("fixed_probability"), "{s}");
    assert!(s.contains("dt               0.1 ms"), "{s}");
    assert!(s.contains("seed             1"), "{s}");
}

#[test]
fn spec_json_summary_counts_synapses() {
    let j = inspect_json(&cuba());
    assert_eq!(j["kind"], "network_spec");
    assert_eq!(j["name"], "cuba");
    assert_eq!(j["dt_ms"], 0.1);
    assert_eq!(j["seed"], 1);
    assert_eq!(j["neurons"], 4000);
    let pops = j["populations"].as_array().unwrap();
    assert_eq!(pops.len(), 2);
    assert_eq!(pops[0]["name"], "exc");
    assert_eq!(pops[0]["model"], "lif_exp");
    assert_eq!(pops[0]["size"], 3200);
    let projs = j["projections"].as_array().unwrap();
    assert_eq!(projs.len(), 4);
    let total: u64 = projs.iter().map(|p| p["synapses"].as_u64().unwrap()).sum();
    assert_eq!(total, j["synapses"].as_u64().unwrap());
    // p = 0.02 of 4000 x 4000 pairs: about 320k synapses.
    assert!((290_000..350_000).contains(&total), "{total}");
    assert!(projs.iter().all(|p| p["rule"] == "fixed_probability"));
    assert_eq!(j["recording"]["spikes"], Value::Null);
}

#[test]
fn json_spec_is_detected_from_its_content() {
    let work = scratch("inspect-json_spec_is_detected");
    // The same spec as JSON, under a name without extension.
    let text = std::fs::read_to_string(cuba()).unwrap();
    let spec = snn_types::NetworkSpec::from_toml_str(&text).unwrap();
    let p = work.join("cuba-spec");
    std::fs::write(&p, spec.to_json_string()).unwrap();
    let j = inspect_json(&p);
    assert_eq!(j["kind"], "network_spec");
    assert_eq!(j["neurons"], 4000);
}

#[test]
fn checkpoint_summary_human_and_json() {
    let work = scratch("inspect-checkpoint_summary_human_and");
    let ckpt = work.join("m.ckpt");
    let out = snn()
        .args([
            "train", "--hidden", "32", "--steps", "5", "--limit", "100", "--epochs", "1", "--out",
        ])
        .arg(&ckpt)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let s = ok_stdout(&snn().arg("inspect").arg(&ckpt).output().unwrap());
    assert!(s.contains("checkpoint"), "{s}");
    assert!(s.contains("digits"), "{s}");
    assert!(s.contains("64-32-10"), "{s}");
    assert!(s.contains("last epoch       1:"), "{s}");

    let j = inspect_json(&ckpt);
    assert_eq!(j["kind"], "checkpoint");
    assert_eq!(j["dataset"], "digits");
    assert_eq!(j["shape"], "64-32-10");
    assert_eq!(j["steps"], 5);
    assert_eq!(j["epochs_done"], 1);
    assert_eq!(j["layers"].as_array().unwrap().len(), 2);
    assert_eq!(j["optimizer"], "Adam");
    assert!(j["encoding"].is_string());
    assert_eq!(j["last_epoch"]["epoch"], 1);
    assert!(j["last_epoch"]["test_acc"].is_number());

    // A truncated checkpoint is reported, not decoded.
    let bytes = std::fs::read(&ckpt).unwrap();
    let cut = work.join("cut.ckpt");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let err = one_error_line(&cut);
    assert!(err.contains("truncated"), "{err}");
}

#[test]
fn chip_report_top_level_numbers() {
    let work = scratch("inspect-chip_report_top_level");
    let report = serde_json::json!({
        "arch": "loihi", "network": "ff", "noc": "cycle", "steps": 15, "dt_ms": 1.0,
        "cores_used": 3, "tiles_used": 1, "total_time_ns": 1234.5, "mean_power_mw": 2.5,
        "energy": {"synaptic_pj": 1.0, "neuron_pj": 2.0, "network_pj": 0.5, "static_pj": 3.0, "total_pj": 6.5},
        "counts": {"synaptic_ops": 42}, "cores": [{"core": 0}, {"core": 1}, {"core": 2}],
    });
    let p = work.join("report.json");
    std::fs::write(&p, serde_json::to_string_pretty(&report).unwrap()).unwrap();
    let j = inspect_json(&p);
    assert_eq!(j["kind"], "chip_report");
    assert_eq!(j["arch"], "loihi");
    assert_eq!(j["cores_used"], 3);
    assert_eq!(j["total_time_ns"], 1234.5);
    assert_eq!(j["energy_total_pj"], 6.5);
    assert_eq!(j["synaptic_ops"], 42);
    let s = ok_stdout(&snn().arg("inspect").arg(&p).output().unwrap());
    assert!(
        s.contains("chip report") && s.contains("total_time_ns") && s.contains("1234.5"),
        "{s}"
    );
}

/// A small feed-forward network for the chip model.
const FF: &str = r#"
name = "ff"
dt_ms = 1.0
seed = 3
[[populations]]
name = "in"
size = 20
neuron = { model = "input" }
[[populations]]
name = "h"
size = 40
neuron = { model = "lif_beta", beta = 0.9, threshold = 1.0 }
[[projections]]
source = "in"
target = "h"
connectivity = { rule = "fixed_probability", p = 0.3 }
weight = { dist = "uniform", low = 0.0, high = 0.4 }
[[stimuli]]
kind = "poisson"
target = "in"
rate_hz = 100.0
"#;

#[test]
fn real_chip_report_is_recognised() {
    let work = scratch("inspect-real_chip_report_is");
    let net = work.join("ff.toml");
    std::fs::write(&net, FF).unwrap();
    let out = snn()
        .args(["chip", "--arch", "loihi", "--json", "--steps", "10"])
        .arg(&net)
        .output()
        .unwrap();
    let report = ok_stdout(&out);
    let p = work.join("chip-report.json");
    std::fs::write(&p, report).unwrap();
    let j = inspect_json(&p);
    assert_eq!(j["kind"], "chip_report");
    assert_eq!(j["steps"], 10);
    assert!(
        j["total_time_ns"].is_number() && j["energy_total_pj"].is_number(),
        "{j}"
    );
    // And the spec itself, with its stimulus.
    let j = inspect_json(&net);
    assert_eq!(j["stimuli"][0]["kind"], "poisson");
    assert_eq!(j["stimuli"][0]["target"], "in");
    assert_eq!(j["populations"][0]["model"], "input");
}

#[test]
fn garbage_file_is_one_error_line() {
    let work = scratch("inspect-garbage_file_is_one");
    let p = work.join("garbage.bin");
    std::fs::write(&p, [0u8, 159, 146, 150, 1, 2, 3, 255]).unwrap();
    let err = one_error_line(&p);
    assert!(err.contains("not a recognised file"), "{err}");

    let p = work.join("garbage.toml");
    std::fs::write(&p, "this is = not [ a spec\n\n").unwrap();
    one_error_line(&p);

    let p = work.join("garbage.txt");
    std::fs::write(&p, "hello world\n").unwrap();
    let err = one_error_line(&p);
    assert!(err.contains("not a recognised file"), "{err}");

    let p = work.join("other.json");
    std::fs::write(&p, "{\"a\": 1}").unwrap();
    let err = one_error_line(&p);
    assert!(err.contains("neither a network spec"), "{err}");

    let p = work.join("broken.json");
    std::fs::write(&p, "{\"populations\": [").unwrap();
    one_error_line(&p);

    // A spec that parses but is invalid: the problem is named with its path.
    let p = work.join("invalid.toml");
    std::fs::write(
        &p,
        "dt_ms = 0.1\n[[populations]]\nname = \"a\"\nsize = 3\nneuron = { model = \"input\" }\n[[projections]]\nsource = \"a\"\ntarget = \"b\"\nconnectivity = { rule = \"all_to_all\" }\nweight = 1.0\n",
    )
    .unwrap();
    let err = one_error_line(&p);
    assert!(err.contains("projections[0]"), "{err}");
}

#[test]
fn missing_file_is_one_error_line() {
    let work = scratch("inspect-missing_file_is_one");
    let p = work.join("does-not-exist.toml");
    let err = one_error_line(&p);
    assert!(err.contains("cannot read"), "{err}");
}
