//! The `plasticity` table of a projection: parsing (TOML and JSON, defaults, unknown fields and
//! rules), every parameter check named by its path, and the round trip through both formats.

use snn_types::plasticity::{Bounds, PairParams, Pairing, TripletParams, WeightDependence};
use snn_types::{NetworkSpec, PlasticitySpec, SpecError};

/// 20 inputs onto 5 LIF neurons, `weight` and `plasticity` as given (TOML fragments).
fn spec(weight: &str, plasticity: &str) -> String {
    format!(
        r#"
dt_ms = 0.1
[[populations]]
name = "in"
size = 20
neuron = {{ model = "input" }}
[[populations]]
name = "out"
size = 5
neuron = {{ model = "lif_exp" }}
[[projections]]
source = "in"
target = "out"
connectivity = {{ rule = "all_to_all" }}
weight = {weight}
plasticity = {{ {plasticity} }}
"#
    )
}

fn parse(text: &str) -> NetworkSpec {
    NetworkSpec::from_toml_str(text).unwrap()
}

fn issues(text: &str) -> Vec<String> {
    match parse(text).validate() {
        Ok(()) => vec![],
        Err(e @ SpecError::Invalid { .. }) => e.issues().iter().map(|i| i.to_string()).collect(),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn unnamed_fields_keep_the_published_defaults() {
    let s = parse(&spec("0.5", r#"rule = "pair""#));
    s.validate().unwrap();
    assert_eq!(
        s.projections[0].plasticity,
        Some(PlasticitySpec::Pair(PairParams::default()))
    );
    let s = parse(&spec(
        "0.5",
        r#"rule = "triplet", pairing = "nearest", a3_plus = 0.02"#,
    ));
    let expected = TripletParams {
        pairing: Pairing::Nearest,
        a3_plus: 0.02,
        ..TripletParams::visual_cortex_minimal()
    };
    assert_eq!(
        s.projections[0].plasticity,
        Some(PlasticitySpec::Triplet(expected))
    );
    // A projection without the table learns nothing.
    let text = spec("0.5", r#"rule = "pair""#).replace("plasticity = { rule = \"pair\" }", "");
    assert_eq!(parse(&text).projections[0].plasticity, None);
}

#[test]
fn every_field_is_read() {
    let s = parse(&spec(
        "2.0",
        r#"rule = "pair", a_plus = 0.1, a_minus = 0.2, tau_plus_ms = 15.0, tau_minus_ms = 30.0,
           bounds = { w_min = 1.0, w_max = 3.0 }, dependence = { power_law = { mu = 0.4 } },
           pairing = "nearest""#,
    ));
    s.validate().unwrap();
    assert_eq!(
        s.projections[0].plasticity,
        Some(PlasticitySpec::Pair(PairParams {
            a_plus: 0.1,
            a_minus: 0.2,
            tau_plus_ms: 15.0,
            tau_minus_ms: 30.0,
            bounds: Bounds {
                w_min: 1.0,
                w_max: 3.0
            },
            dependence: WeightDependence::PowerLaw { mu: 0.4 },
            pairing: Pairing::Nearest,
        }))
    );
}

#[test]
fn unknown_fields_and_rules_are_parse_errors_that_name_them() {
    let e = NetworkSpec::from_toml_str(&spec("0.5", r#"rule = "pair", a_pluss = 0.1"#))
        .unwrap_err()
        .to_string();
    assert!(e.contains("a_pluss"), "{e}");
    let e = NetworkSpec::from_toml_str(&spec("0.5", r#"rule = "hebbian""#))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("hebbian") && e.contains("pair") && e.contains("triplet"),
        "{e}"
    );
    let e = NetworkSpec::from_toml_str(&spec("0.5", r#"a_plus = 0.1"#))
        .unwrap_err()
        .to_string();
    assert!(e.contains("rule"), "{e}");
    let e = NetworkSpec::from_toml_str(&spec("0.5", r#"rule = "pair", a_plus = "big""#))
        .unwrap_err()
        .to_string();
    assert!(e.contains("big") || e.contains("string"), "{e}");
    let e = NetworkSpec::from_toml_str(&spec("0.5", r#"rule = "pair", dependence = "linear""#))
        .unwrap_err()
        .to_string();
    assert!(e.contains("linear"), "{e}");
    // The power law without its exponent says how to write it.
    let e = NetworkSpec::from_toml_str(&spec("0.5", r#"rule = "pair", dependence = "power_law""#))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("power_law needs its exponent: dependence = { power_law = { mu = 0.5 } }"),
        "{e}"
    );
    for (form, word) in [
        (r#"{ power_law = { mu = 0.4, nu = 1.0 } }"#, "nu"),
        (r#"{ power_law = {} }"#, "mu"),
        (r#"{ power_law = { mu = "x" } }"#, "x"),
    ] {
        let text = spec("0.5", &format!(r#"rule = "pair", dependence = {form}"#));
        let e = NetworkSpec::from_toml_str(&text).unwrap_err().to_string();
        assert!(e.contains(word), "{form}: {e}");
    }
    let json = r#"{"rule": "pair", "dependence": "power_law"}"#;
    let e = serde_json::from_str::<PlasticitySpec>(json)
        .unwrap_err()
        .to_string();
    assert!(e.contains("power_law needs its exponent"), "{e}");
    let json = r#"{"rule": "pair", "dependence": {"power_law": {"mu": 0.25}}}"#;
    let PlasticitySpec::Pair(p) = serde_json::from_str::<PlasticitySpec>(json).unwrap() else {
        panic!("a pair rule")
    };
    assert_eq!(p.dependence, WeightDependence::PowerLaw { mu: 0.25 });
}

#[test]
fn parameters_out_of_range_are_named_by_their_path() {
    let got = issues(&spec(
        "0.5",
        r#"rule = "pair", a_plus = -0.1, a_minus = nan, tau_plus_ms = 0.0, tau_minus_ms = -5.0,
           dependence = { power_law = { mu = -1.0 } }"#,
    ));
    for want in [
        "projections[0].plasticity.a_plus: must be finite and >= 0, got -0.1",
        "projections[0].plasticity.a_minus: must be finite and >= 0, got NaN",
        "projections[0].plasticity.tau_plus_ms: must be finite and > 0, got 0",
        "projections[0].plasticity.tau_minus_ms: must be finite and > 0, got -5",
        "projections[0].plasticity.dependence.power_law.mu: must be finite and >= 0, got -1",
    ] {
        assert!(
            got.iter().any(|g| g.starts_with(want)),
            "{want} not in {got:#?}"
        );
    }
    let got = issues(&spec(
        "0.5",
        r#"rule = "triplet", a3_minus = -1.0, tau_y_ms = 0.0"#,
    ));
    assert!(
        got.iter()
            .any(|g| g.starts_with("projections[0].plasticity.a3_minus")),
        "{got:?}"
    );
    assert!(
        got.iter()
            .any(|g| g.starts_with("projections[0].plasticity.tau_y_ms")),
        "{got:?}"
    );
}

#[test]
fn bounds_must_be_ordered_finite_and_hold_the_initial_weights() {
    let got = issues(&spec(
        "0.5",
        r#"rule = "pair", bounds = { w_min = 1.0, w_max = 1.0 }"#,
    ));
    assert_eq!(
        got,
        vec!["projections[0].plasticity.bounds: need finite w_min < w_max, got [1, 1]"]
    );
    let got = issues(&spec(
        "0.5",
        r#"rule = "pair", bounds = { w_min = 0.0, w_max = 1e300 }"#,
    ));
    assert!(
        got[0].starts_with("projections[0].plasticity.bounds.w_max"),
        "{got:?}"
    );
    // An infinite bound is reported once, by the bounds' own check (TOML reads `inf`).
    let got = issues(&spec(
        "0.5",
        r#"rule = "pair", bounds = { w_min = 0.0, w_max = inf }"#,
    ));
    assert_eq!(
        got,
        vec!["projections[0].plasticity.bounds: need finite w_min < w_max, got [0, inf]"]
    );
    // The default bounds are [0, 1]: a weight of 20 (pA, say) would be clipped at once.
    let got = issues(&spec("20.0", r#"rule = "pair""#));
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0].contains("weight 20 lies outside the rule's bounds [0, 1]"),
        "{got:?}"
    );
    let got = issues(&spec(
        r#"{ dist = "uniform", low = 0.5, high = 2.0 }"#,
        r#"rule = "pair""#,
    ));
    assert!(got[0].contains("weights drawn from [0.5, 2]"), "{got:?}");
    // Normal weights may be clipped in their tails: accepted; not around a mean outside.
    assert!(
        issues(&spec(
            r#"{ dist = "normal", mean = 0.5, std = 0.1 }"#,
            r#"rule = "pair""#
        ))
        .is_empty()
    );
    let got = issues(&spec(
        r#"{ dist = "normal", mean = 2.0, std = 0.1 }"#,
        r#"rule = "pair""#,
    ));
    assert!(
        got[0].contains("weights drawn around a mean of 2 lie outside"),
        "{got:?}"
    );
    let got = issues(&spec(
        r#"{ dist = "truncated_normal", mean = 0.5, std = 0.1, low = -1.0 }"#,
        r#"rule = "pair""#,
    ));
    assert!(got[0].contains("truncated normal lie outside"), "{got:?}");
    // Explicit weights are checked one by one.
    let text = spec("1.0", r#"rule = "pair""#).replace(
        r#"connectivity = { rule = "all_to_all" }"#,
        r#"connectivity = { rule = "explicit", sources = [0, 1], targets = [0, 0], weights = [0.5, 1.5] }"#,
    );
    let got = issues(&text);
    assert!(got[0].contains("connectivity.weights[1] = 1.5"), "{got:?}");
}

#[test]
fn loihi_targets_cannot_learn() {
    let text = spec(
        "1.0",
        r#"rule = "pair", bounds = { w_min = 0.0, w_max = 10.0 }"#,
    )
    .replace(
        r#"neuron = { model = "lif_exp" }"#,
        r#"neuron = { model = "loihi_lif" }"#,
    );
    let got = issues(&text);
    assert!(
        got.iter().any(|g| g
            .starts_with("projections[0].plasticity: a loihi_lif target takes integer weights")),
        "{got:?}"
    );
}

#[test]
fn conv_projections_cannot_learn() {
    let text = r#"
dt_ms = 1.0
[[populations]]
name = "in"
size = 16
shape = [1, 4, 4]
neuron = { model = "input" }
[[populations]]
name = "c"
size = 4
neuron = { model = "lif_beta" }
[[projections]]
source = "in"
target = "c"
connectivity = { rule = "conv2d", out_channels = 1, kernel = 3, weights = [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1] }
plasticity = { rule = "pair" }
"#;
    let got = issues(text);
    assert!(
        got.iter()
            .any(|g| g.starts_with("projections[0].plasticity: a conv2d/pool2d projection")),
        "{got:?}"
    );
}

#[test]
fn plastic_specs_survive_toml_and_json() {
    let s = parse(&spec(
        "0.5",
        r#"rule = "triplet", pairing = "nearest", bounds = { w_min = 0.0, w_max = 2.0 }"#,
    ));
    let toml = s.to_toml_string().unwrap();
    assert!(toml.contains("rule = \"triplet\""), "{toml}");
    assert_eq!(NetworkSpec::from_toml_str(&toml).unwrap(), s);
    let json = s.to_json_string();
    assert_eq!(NetworkSpec::from_json_str(&json).unwrap(), s);
    // Without plasticity nothing is written for it.
    let mut fixed = s.clone();
    fixed.projections[0].plasticity = None;
    assert!(!fixed.to_toml_string().unwrap().contains("plasticity"));
}

#[test]
fn json_specs_take_the_same_table() {
    let mut s = parse(&spec("0.5", r#"rule = "pair""#));
    s.projections[0].plasticity = None;
    let mut v: serde_json::Value = serde_json::from_str(&s.to_json_string()).unwrap();
    v["projections"][0]["plasticity"] =
        serde_json::json!({ "rule": "pair", "a_plus": 0.25, "pairing": "nearest" });
    let json = v.to_string();
    let back = NetworkSpec::from_json_str(&json).unwrap();
    let Some(PlasticitySpec::Pair(p)) = &back.projections[0].plasticity else {
        panic!("a pair rule")
    };
    assert_eq!((p.a_plus, p.pairing), (0.25, Pairing::Nearest));
}
