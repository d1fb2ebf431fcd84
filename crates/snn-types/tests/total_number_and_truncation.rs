//! The `fixed_total_number` rule and the `truncated_normal` distribution: parsing, round trips
//! and validation errors that name the field.

use snn_types::{Connectivity, Distribution, NetworkSpec, ValueSpec};

fn spec(projection: &str) -> String {
    format!(
        r#"dt_ms = 0.1
[[populations]]
name = "a"
size = 10
neuron = {{ model = "lif_exp" }}
[[populations]]
name = "b"
size = 5
neuron = {{ model = "lif_exp" }}
[[projections]]
source = "a"
target = "b"
{projection}
"#
    )
}

fn problems(projection: &str) -> Vec<String> {
    let s = NetworkSpec::from_toml_str(&spec(projection)).unwrap();
    match s.validate() {
        Ok(()) => Vec::new(),
        Err(e) => e
            .issues()
            .iter()
            .map(|i| format!("{}: {}", i.path, i.message))
            .collect(),
    }
}

#[test]
fn parses_and_round_trips() {
    let text = spec(
        r#"connectivity = { rule = "fixed_total_number", n = 40 }
weight = { dist = "truncated_normal", mean = 87.8, std = 8.78, low = 0.0 }
delay_ms = { dist = "truncated_normal", mean = 1.5, std = 0.75, low = 0.1 }"#,
    );
    let s = NetworkSpec::from_toml_str(&text).unwrap();
    s.validate().unwrap();
    let p = &s.projections[0];
    assert_eq!(p.connectivity, Connectivity::FixedTotalNumber { n: 40 });
    assert_eq!(
        p.weight,
        ValueSpec::Random(Distribution::TruncatedNormal {
            mean: 87.8,
            std: 8.78,
            low: Some(0.0),
            high: None
        })
    );
    let back = NetworkSpec::from_toml_str(&s.to_toml_string().unwrap()).unwrap();
    assert_eq!(back, s);
    let json = NetworkSpec::from_json_str(&s.to_json_string()).unwrap();
    assert_eq!(json, s);
}

#[test]
fn bad_values_name_the_field() {
    let p = problems(
        r#"connectivity = { rule = "fixed_total_number", n = 4 }
weight = { dist = "truncated_normal", mean = 1.0, std = -1.0 }"#,
    );
    assert!(p.iter().any(|m| m.contains("weight.std")), "{p:?}");
    let p = problems(
        r#"connectivity = { rule = "fixed_total_number", n = 4 }
weight = { dist = "truncated_normal", mean = 1.0, std = 1.0, low = 2.0, high = 1.0 }"#,
    );
    assert!(
        p.iter()
            .any(|m| m.contains("weight") && m.contains("greater than high")),
        "{p:?}"
    );
    let p = problems(
        r#"connectivity = { rule = "fixed_total_number", n = 4 }
weight = { dist = "truncated_normal", mean = 0.0, std = 1.0, low = 50.0 }"#,
    );
    assert!(p.iter().any(|m| m.contains("standard deviations")), "{p:?}");
    let p = problems(
        r#"connectivity = { rule = "fixed_total_number", n = 4 }
delay_ms = { dist = "truncated_normal", mean = 1.0, std = 0.5, low = 0.01 }"#,
    );
    assert!(
        p.iter()
            .any(|m| m.contains("delay_ms.low") && m.contains("half of dt")),
        "{p:?}"
    );
    let ok = problems(
        r#"connectivity = { rule = "fixed_total_number", n = 4 }
delay_ms = { dist = "truncated_normal", mean = 1.0, std = 0.5, low = 0.05 }"#,
    );
    assert!(ok.is_empty(), "{ok:?}");
    let p = problems(r#"connectivity = { rule = "fixed_total_number", n = 5000000000 }"#);
    assert!(p.iter().any(|m| m.contains("connectivity.n")), "{p:?}");
    let e = NetworkSpec::from_toml_str(&spec(
        r#"connectivity = { rule = "fixed_total_number", n = 4 }
weight = { dist = "truncated_normal", std = 1.0 }"#,
    ))
    .unwrap_err()
    .to_string();
    assert!(e.contains("weight") && e.contains("`mean`"), "{e}");
}

#[test]
fn an_empty_population_cannot_hold_synapses() {
    let text = spec(r#"connectivity = { rule = "fixed_total_number", n = 3 }"#)
        .replace("size = 5", "size = 0");
    let s = NetworkSpec::from_toml_str(&text).unwrap();
    let e = s.validate().unwrap_err().to_string();
    assert!(e.contains("connectivity.n"), "{e}");
}
