//! `snn simulate` on specs with plastic projections, as a user runs it: the summary, weight
//! snapshots and the learned spec, the same files on any thread count, and the errors of
//! options that cannot apply.

use assert_cmd::Command;

// The scratch-directory guard shared by the workspace's tests (one copy, in snn-types).
#[path = "../../snn-types/tests/common/mod.rs"]
mod common;
use common::scratch;

fn snn() -> Command {
    Command::cargo_bin("snn").expect("binary built")
}

fn repo(rel: &str) -> String {
    format!("{}/../../{rel}", env!("CARGO_MANIFEST_DIR"))
}

/// Inputs onto a small LIF layer; the input projection and a recurrent one both plastic.
const TWO_PLASTIC: &str = r#"
dt_ms = 0.1
seed = 5
[[populations]]
name = "in"
size = 80
neuron = { model = "input" }
[[populations]]
name = "out"
size = 10
neuron = { model = "lif_exp" }
[[projections]]
name = "ff"
source = "in"
target = "out"
connectivity = { rule = "fixed_probability", p = 0.5 }
weight = { dist = "uniform", low = 20.0, high = 60.0 }
plasticity = { rule = "pair", a_plus = 1.0, a_minus = 1.05, bounds = { w_min = 0.0, w_max = 80.0 } }
[[projections]]
name = "rec/weird name"
source = "out"
target = "out"
connectivity = { rule = "all_to_all" }
weight = 5.0
delay_ms = 1.0
plasticity = { rule = "triplet", bounds = { w_min = 0.0, w_max = 10.0 } }
[[stimuli]]
kind = "poisson"
target = "in"
rate_hz = 30.0
"#;

fn ok(args: &[&str]) -> std::process::Output {
    let out = snn().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn fails(args: &[&str], expect: &str) {
    let out = snn().args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{args:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(expect),
        "{args:?}: expected '{expect}' in: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn song2000_learns_and_writes_its_weights_and_learned_spec() {
    let dir = scratch("plastic-song");
    let (w, learned) = (dir.join("w.whst"), dir.join("learned.toml"));
    let out = ok(&[
        "simulate",
        &repo("examples/song2000.toml"),
        "--duration-ms",
        "3000",
        "--save-weights",
        w.to_str().unwrap(),
        "--weights-every-ms",
        "1000",
        "--learned-spec",
        learned.to_str().unwrap(),
        "--json",
    ]);
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let p = &j["plasticity"][0];
    assert_eq!(p["after"]["name"], "input_synapses");
    assert_eq!(p["after"]["rule"], "pair");
    assert_eq!(p["after"]["synapses"], 1000);
    assert_ne!(
        p["before"]["mean"], p["after"]["mean"],
        "the weights learned"
    );
    assert_eq!(j["save_weights"][0], w.to_str().unwrap());

    // Snapshots at 0, 1, 2 and 3 s; the last one is what the learned spec holds.
    let out = ok(&["inspect", w.to_str().unwrap(), "--json"]);
    let h: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(h["kind"], "weight_history");
    let steps: Vec<u64> = h["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_u64().unwrap())
        .collect();
    assert_eq!(steps, vec![0, 10_000, 20_000, 30_000]);
    assert_eq!(h["snapshots"][3]["mean"], p["after"]["mean"]);
    let out = ok(&["inspect", learned.to_str().unwrap(), "--json"]);
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["kind"], "network_spec");
    let text = std::fs::read_to_string(&learned).unwrap();
    assert!(
        !text.contains("plasticity") && text.contains("explicit"),
        "learned spec"
    );
    // It simulates with the weights held fixed.
    let out = ok(&[
        "simulate",
        learned.to_str().unwrap(),
        "--duration-ms",
        "100",
        "--json",
    ]);
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["plasticity"], serde_json::json!([]));
}

#[test]
fn several_plastic_projections_write_one_file_each_the_same_on_any_thread_count() {
    let dir = scratch("plastic-two");
    let spec = dir.join("net.toml");
    std::fs::write(&spec, TWO_PLASTIC).unwrap();
    let mut files = Vec::new();
    for threads in ["1", "2"] {
        let w = dir.join(format!("w{threads}.whst"));
        let learned = dir.join(format!("l{threads}.json"));
        let out = ok(&[
            "simulate",
            spec.to_str().unwrap(),
            "--duration-ms",
            "500",
            "--threads",
            threads,
            "--save-weights",
            w.to_str().unwrap(),
            "--learned-spec",
            learned.to_str().unwrap(),
        ]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(text.contains("learning         ff (pair STDP"), "{text}");
        assert!(
            text.contains("learning         rec/weird name (triplet STDP"),
            "{text}"
        );
        let ff = dir.join(format!("w{threads}.ff.whst"));
        let rec = dir.join(format!("w{threads}.rec_weird_name.whst"));
        assert!(text.contains(ff.to_str().unwrap()), "{text}");
        assert!(!w.exists(), "one file per projection, not {}", w.display());
        files.push([
            std::fs::read(ff).unwrap(),
            std::fs::read(rec).unwrap(),
            std::fs::read(learned).unwrap(),
        ]);
    }
    assert!(
        files[0] == files[1],
        "1 and 2 threads wrote different files"
    );
    // No temporary files are left beside the outputs.
    for e in std::fs::read_dir(&dir).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.starts_with('.'), "left behind: {name}");
    }
}

#[test]
fn learning_options_that_cannot_apply_are_usage_errors() {
    let dir = scratch("plastic-errors");
    let spec = dir.join("net.toml");
    std::fs::write(&spec, TWO_PLASTIC).unwrap();
    let spec = spec.to_str().unwrap();
    let w = dir.join("w.whst");
    let w = w.to_str().unwrap();
    fails(
        &["simulate", &repo("examples/cuba.toml"), "--save-weights", w],
        "--save-weights: the network has no plastic projection",
    );
    fails(
        &["simulate", "--learned-spec", "l.toml"],
        "--learned-spec: the network has no plastic projection",
    );
    fails(
        &["simulate", spec, "--dry-run-ranks", "2"],
        "projection 'ff' is plastic: learning runs in one process",
    );
    fails(
        &[
            "simulate",
            spec,
            "--save-weights",
            w,
            "--weights-every-ms",
            "0.01",
        ],
        "--weights-every-ms 0.01: shorter than one step of dt = 0.1 ms",
    );
    fails(
        &[
            "simulate",
            spec,
            "--save-weights",
            w,
            "--weights-every-ms",
            "-5",
        ],
        "--weights-every-ms -5",
    );
    fails(
        &["simulate", spec, "--learned-spec", "learned.txt"],
        "--learned-spec learned.txt: the file name must end in .toml or .json",
    );
    // Snapshots that do not fit the memory budget are refused before the run (exit code 1, as
    // every memory refusal).
    let out = snn()
        .args([
            "simulate",
            spec,
            "--duration-ms",
            "100000",
            "--save-weights",
            w,
            "--weights-every-ms",
            "0.1",
            "--max-memory",
            "10M",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("learning needs about") && err.contains("1000001 weight snapshots"),
        "{err}"
    );
    assert!(!std::path::Path::new(w).exists());
    // A per-projection weight file may not be another output.
    let raster = dir.join("w.ff.whst");
    fails(
        &[
            "simulate",
            spec,
            "--save-weights",
            w,
            "--raster",
            raster.to_str().unwrap(),
        ],
        "same file as --raster",
    );
    assert!(!raster.exists());
}

#[test]
fn the_chip_model_refuses_a_plastic_spec_and_nir_export_notes_it() {
    let dir = scratch("plastic-chip");
    let spec = dir.join("net.toml");
    std::fs::write(&spec, TWO_PLASTIC).unwrap();
    let out = snn()
        .args(["chip", spec.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "projections[0].plasticity: a pair STDP rule; the chip model runs fixed weights"
        ),
        "{err}"
    );
    // NIR's CubaLIF has no refractory period, and NIR no random weights: the same network
    // without them.
    std::fs::write(
        &spec,
        TWO_PLASTIC
            .replace(
                r#"model = "lif_exp" }"#,
                r#"model = "lif_exp", t_ref_ms = 0.0 }"#,
            )
            .replace(r#"{ dist = "uniform", low = 20.0, high = 60.0 }"#, "40.0")
            .replace(
                r#"{ rule = "fixed_probability", p = 0.5 }"#,
                r#"{ rule = "all_to_all" }"#,
            ),
    )
    .unwrap();
    let nir = dir.join("net.nir");
    let out = ok(&[
        "nir",
        "export",
        spec.to_str().unwrap(),
        "--out",
        nir.to_str().unwrap(),
    ]);
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("the pair STDP rule is not exported (NIR has no learning rules)"),
        "{text}"
    );
    // The learned network (one delay per projection) exports, and maps onto the chip model.
    let learned = dir.join("learned.toml");
    ok(&[
        "simulate",
        spec.to_str().unwrap(),
        "--duration-ms",
        "300",
        "--learned-spec",
        learned.to_str().unwrap(),
    ]);
    let nir = dir.join("learned.nir");
    ok(&[
        "nir",
        "export",
        learned.to_str().unwrap(),
        "--out",
        nir.to_str().unwrap(),
    ]);
    ok(&["chip", learned.to_str().unwrap(), "--steps", "50"]);
}

#[test]
fn a_plastic_projection_without_synapses_is_reported_as_such() {
    let dir = scratch("plastic-empty");
    let spec = dir.join("net.toml");
    std::fs::write(
        &spec,
        TWO_PLASTIC.replace(
            r#"{ rule = "fixed_probability", p = 0.5 }"#,
            r#"{ rule = "fixed_probability", p = 0.0 }"#,
        ),
    )
    .unwrap();
    let (w, learned) = (dir.join("w.whst"), dir.join("l.toml"));
    let out = ok(&[
        "simulate",
        spec.to_str().unwrap(),
        "--duration-ms",
        "50",
        "--save-weights",
        w.to_str().unwrap(),
        "--learned-spec",
        learned.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.contains("learning         ff (pair STDP): no synapses"),
        "{text}"
    );
    let out = ok(&["inspect", dir.join("w.ff.whst").to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.contains("no synapses") && !text.contains("mean"),
        "{text}"
    );
    // The learned spec keeps the projection's own delay, no empty list.
    let l = std::fs::read_to_string(&learned).unwrap();
    assert!(!l.contains("delays_ms = []"), "{l}");
    ok(&["validate", learned.to_str().unwrap()]);
}
