//! The `[readout]` section of a spec: optional, strict parsing, round trips through TOML and
//! JSON, and validation errors that name their field.

use snn_types::{InputCoding, NetworkSpec, Readout, ReadoutRule, SpecError};

mod common;
use common::scratch;

const NET: &str = r#"
dt_ms = 1.0
[[populations]]
name = "input"
size = 4
neuron = { model = "input" }
[[populations]]
name = "output"
size = 3
neuron = { model = "lif_beta", beta = 0.9, threshold = 1.0 }
[[projections]]
source = "input"
target = "output"
connectivity = { rule = "all_to_all" }
"#;

const READOUT: &str = r#"
[readout]
population = "output"
rule = "spike_count"
window_start_ms = 0.0
window_ms = 25.0
input_shift_ms = 2.0
[readout.input]
population = "input"
duration_ms = 25.0
coding = { kind = "rate", p_max = 0.8 }
"#;

fn with_readout(readout: &str) -> NetworkSpec {
    NetworkSpec::from_toml_str(&format!("{NET}{readout}")).unwrap()
}

fn issues(spec: &NetworkSpec) -> Vec<String> {
    match spec.validate() {
        Ok(()) => Vec::new(),
        Err(e) => e.issues().iter().map(|i| i.to_string()).collect(),
    }
}

/// The only issue of `spec`, which must start with `path: `.
fn single_issue(spec: &NetworkSpec, path: &str) -> String {
    let v = issues(spec);
    assert_eq!(v.len(), 1, "expected one issue at {path}, got {v:?}");
    assert!(
        v[0].starts_with(&format!("{path}: ")),
        "expected an issue at {path}, got {v:?}"
    );
    // Readout::from_spec reports the same problem.
    let e = Readout::from_spec(spec).unwrap_err();
    assert_eq!(e.issues()[0].path, path);
    v[0].clone()
}

#[test]
fn specs_without_a_readout_still_load_and_serialise_without_one() {
    let spec = NetworkSpec::from_toml_str(NET).unwrap();
    spec.validate().unwrap();
    assert!(spec.readout.is_none());
    assert!(!spec.to_toml_string().unwrap().contains("readout"));
    assert!(!spec.to_json_string().contains("readout"));
}

#[test]
fn a_readout_parses_and_resolves() {
    let spec = with_readout(READOUT);
    spec.validate().unwrap();
    let r = spec.readout.as_ref().unwrap();
    assert_eq!(r.rule, ReadoutRule::SpikeCount);
    assert_eq!(r.input.coding, InputCoding::Rate { p_max: 0.8 });
    let ro = Readout::from_spec(&spec).unwrap();
    assert_eq!(ro.window(), 2..27);
    assert_eq!(ro.run_steps(), 27);
    assert_eq!(ro.input_steps(), 25);
    assert_eq!(ro.output_neurons(), 4..7);
    assert_eq!(ro.n_classes(), 3);
}

#[test]
fn a_readout_round_trips_through_toml_and_json() {
    for coding in [
        "{ kind = \"direct\" }",
        "{ kind = \"rate\", p_max = 0.8 }",
        "{ kind = \"latency\", threshold = 0.05 }",
        "{ kind = \"events\", duration_us = 300000 }",
    ] {
        let spec = with_readout(&READOUT.replace("{ kind = \"rate\", p_max = 0.8 }", coding));
        spec.validate().unwrap();
        let toml = spec.to_toml_string().unwrap();
        assert!(toml.contains("[readout]"), "{toml}");
        assert_eq!(NetworkSpec::from_toml_str(&toml).unwrap(), spec, "{toml}");
        let json = spec.to_json_string();
        assert_eq!(NetworkSpec::from_json_str(&json).unwrap(), spec, "{json}");
    }
    // The membrane rule with its traces.
    let spec = with_readout(&format!(
        "[[recording.state]]\npopulation = \"output\"\nneurons = [0, 1, 2]\n{}",
        READOUT.replace("spike_count", "mean_membrane")
    ));
    spec.validate().unwrap();
    let toml = spec.to_toml_string().unwrap();
    assert_eq!(NetworkSpec::from_toml_str(&toml).unwrap(), spec);
    assert_eq!(
        NetworkSpec::from_json_str(&spec.to_json_string()).unwrap(),
        spec
    );
}

#[test]
fn unknown_fields_and_rules_are_rejected_by_the_parser() {
    for bad in [
        READOUT.replace(
            "rule = \"spike_count\"",
            "rule = \"spike_count\"\nwindow = 3",
        ),
        READOUT.replace("duration_ms = 25.0", "duration_ms = 25.0\nsteps = 25"),
        READOUT.replace("p_max = 0.8", "p_max = 0.8, rate_hz = 5.0"),
        READOUT.replace("spike_count", "majority_vote"),
        READOUT.replace("\"rate\"", "\"poisson\""),
    ] {
        let e = NetworkSpec::from_toml_str(&format!("{NET}{bad}")).unwrap_err();
        assert!(matches!(e, SpecError::Parse { .. }), "{bad}: {e}");
    }
}

#[test]
fn validation_names_the_readout_field() {
    let cases: Vec<(String, &str, &str)> = vec![
        (
            READOUT.replace("population = \"output\"", "population = \"x\""),
            "readout.population",
            "'x' is not a population",
        ),
        (
            READOUT.replace("population = \"output\"", "population = \"input\""),
            "readout.population",
            "input population",
        ),
        (
            READOUT.replace("window_ms = 25.0", "window_ms = 0.0"),
            "readout.window_ms",
            "at least one step",
        ),
        (
            READOUT.replace("window_ms = 25.0", "window_ms = nan"),
            "readout.window_ms",
            "finite",
        ),
        (
            READOUT.replace("window_ms = 25.0", "window_ms = inf"),
            "readout.window_ms",
            "finite",
        ),
        (
            READOUT.replace("window_start_ms = 0.0", "window_start_ms = -1.0"),
            "readout.window_start_ms",
            ">= 0",
        ),
        (
            READOUT.replace("input_shift_ms = 2.0", "input_shift_ms = -2.0"),
            "readout.input_shift_ms",
            ">= 0",
        ),
        (
            READOUT.replace("duration_ms = 25.0", "duration_ms = 0.2"),
            "readout.input.duration_ms",
            "at least one step",
        ),
        (
            READOUT.replace("population = \"input\"", "population = \"nowhere\""),
            "readout.input.population",
            "'nowhere' is not a population",
        ),
        (
            READOUT.replace("p_max = 0.8", "p_max = 1.5"),
            "readout.input.coding.p_max",
            "[0, 1]",
        ),
        (
            READOUT.replace(
                "{ kind = \"rate\", p_max = 0.8 }",
                "{ kind = \"events\", duration_us = 0 }",
            ),
            "readout.input.coding.duration_us",
            "at least 1",
        ),
        (
            format!("[recording]\nspikes = [\"input\"]\n{READOUT}"),
            "readout.rule",
            "recording.spikes",
        ),
        (
            format!(
                "[[recording.state]]\npopulation = \"output\"\nneurons = [0, 2]\n{}",
                READOUT.replace("spike_count", "mean_membrane")
            ),
            "readout.rule",
            "neuron 1",
        ),
    ];
    for (readout, path, needle) in cases {
        let spec = with_readout(&readout);
        let msg = single_issue(&spec, path);
        assert!(msg.contains(needle), "{path}: {msg:?} lacks {needle:?}");
    }
    // The output population used as input is reported on the input's path.
    let spec = with_readout(&READOUT.replace("population = \"input\"", "population = \"output\""));
    let v = issues(&spec);
    assert!(
        v.iter()
            .any(|m| m.starts_with("readout.input.population: 'output' is not an input")),
        "{v:?}"
    );
}

#[test]
fn a_bad_readout_is_reported_with_the_file_name() {
    let dir = scratch("readout");
    let path = dir.join("bad.toml");
    let text = format!(
        "{NET}{}",
        READOUT.replace("population = \"output\"", "population = \"x\"")
    );
    std::fs::write(&path, text).unwrap();
    let e = NetworkSpec::load(&path).unwrap_err().to_string();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(e.contains("bad.toml"), "{e}");
    assert!(
        e.contains("readout.population: 'x' is not a population"),
        "{e}"
    );
}
