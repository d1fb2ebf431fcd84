//! Spec errors that used to pass silently or with an unhelpful message.

use snn_types::{MAX_STEPS, NetworkSpec, SpecError};

fn parse_err(toml: &str) -> String {
    NetworkSpec::from_toml_str(toml).unwrap_err().to_string()
}

fn issues(toml: &str) -> Vec<String> {
    let spec = NetworkSpec::from_toml_str(toml).unwrap();
    match spec.validate() {
        Ok(()) => vec![],
        Err(e @ SpecError::Invalid { .. }) => e.issues().iter().map(|i| i.to_string()).collect(),
        Err(e) => panic!("{e}"),
    }
}

const POP: &str = r#"
[[populations]]
name = "p"
size = 4
neuron = { model = "lif_exp" }
"#;

#[test]
fn the_input_model_refuses_fields() {
    let e = parse_err(
        "dt_ms = 0.1\n[[populations]]\nname = \"a\"\nsize = 3\nneuron = { model = \"input\", bogus = 1 }\n",
    );
    assert!(
        e.contains("unknown field `bogus`") && e.contains("input"),
        "{e}"
    );
    // Without fields it still parses, in TOML and JSON.
    NetworkSpec::from_toml_str(
        "dt_ms = 0.1\n[[populations]]\nname = \"a\"\nsize = 3\nneuron = { model = \"input\" }\n",
    )
    .unwrap();
    let j = r#"{"dt_ms": 0.1, "populations": [{"name": "a", "size": 3, "neuron": {"model": "input"}}]}"#;
    NetworkSpec::from_json_str(j).unwrap();
    let j = r#"{"dt_ms": 0.1, "populations": [{"name": "a", "size": 3, "neuron": {"model": "input", "x": 1}}]}"#;
    assert!(
        NetworkSpec::from_json_str(j)
            .unwrap_err()
            .to_string()
            .contains("`x`")
    );
}

/// JSON parse errors name the field's path, not only serde_json's line and column.
#[test]
fn json_errors_name_the_field_path() {
    let j = "{\"dt_ms\": 0.1, \"populations\": [\n  {\"name\": \"a\", \"size\": 3, \"neuron\": {\"model\": \"input\"}},\n  {\"name\": \"b\", \"size\": 2, \"neuron\": {\"model\": \"lif_exp\", \"tau_m_ms\": \"ten\"}}\n]}";
    let e = NetworkSpec::from_json_str(j).unwrap_err().to_string();
    // A population holds a tagged value (`neuron`), so serde reads it whole before its fields:
    // the error names the population (and serde's message the value).
    assert!(e.contains("(in `populations[1]`)"), "{e}");
    assert!(e.contains("line 3"), "{e}");
    let j = "{\"dt_ms\": 0.1, \"populations\": [{\"name\": \"a\", \"size\": 3, \"neuron\": {\"model\": \"input\"}}],\n \"projections\": [{\"source\": \"a\", \"target\": \"a\", \"weight\": 1.0, \"delay_ms\": [1]}]}";
    let e = NetworkSpec::from_json_str(j).unwrap_err().to_string();
    assert!(e.contains("(in `projections[0].delay_ms`)"), "{e}");
    let j = r#"{"dt_ms": "x", "populations": []}"#;
    let e = NetworkSpec::from_json_str(j).unwrap_err().to_string();
    assert!(e.contains("(in `dt_ms`)"), "{e}");
    // A key with an escaped quote and brackets inside strings do not confuse the path.
    let j = r#"{"dt_ms": 0.1, "populations": [{"name": "a[\"{", "size": -1, "neuron": {"model": "input"}}]}"#;
    let e = NetworkSpec::from_json_str(j).unwrap_err().to_string();
    assert!(e.contains("(in `populations[0].size`)"), "{e}");
}

#[test]
fn value_specs_name_the_field_and_what_was_expected() {
    let e = parse_err(&format!(
        "dt_ms = 0.1\n{POP}v_init = {{ mean = 1.0, sd = 2.0 }}\n"
    ));
    assert!(
        e.contains("v_init: unknown field `sd`, expected `mean` and `std` (normal) or `low` and `high` (uniform), or a number"),
        "{e}"
    );
    let proj = |w: &str| {
        format!(
            "dt_ms = 0.1\n{POP}[[projections]]\nsource = \"p\"\ntarget = \"p\"\nconnectivity = {{ rule = \"all_to_all\" }}\n{w}\n"
        )
    };
    for (text, want) in [
        (
            "weight = { dist = \"normal\", mean = 1.0 }",
            "weight: a normal distribution needs `std`",
        ),
        (
            "weight = { dist = \"gamma\", k = 1.0 }",
            "weight: unknown field `k`",
        ),
        (
            "weight = { dist = \"gamma\" }",
            "weight.dist: unknown distribution",
        ),
        ("weight = { low = 0.0, mean = 1.0 }", "weight:"),
        ("weight = \"heavy\"", "weight"),
        (
            "delay_ms = { low = 1.0, hi = 2.0 }",
            "delay_ms: unknown field `hi`",
        ),
        (
            "weight = { dist = \"uniform\", low = 0.0, high = \"x\" }",
            "weight.high: expected a number",
        ),
    ] {
        let e = parse_err(&proj(text));
        assert!(e.contains(want), "{text}: {e}");
        assert!(!e.contains("untagged"), "{text}: {e}");
    }
    // Every accepted form still parses; `dist` may be left out when the fields say it.
    for ok in [
        "weight = 2",
        "weight = -1.5",
        "weight = { dist = \"uniform\", low = 0.0, high = 1.0 }",
        "weight = { low = 0.0, high = 1.0 }",
        "weight = { mean = 1.0, std = 0.1 }",
        "delay_ms = { dist = \"normal\", mean = 1.0, std = 0.1 }",
    ] {
        NetworkSpec::from_toml_str(&proj(ok)).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    // Round trip through both formats.
    let spec = NetworkSpec::from_toml_str(&proj("weight = { mean = 1.0, std = 0.1 }")).unwrap();
    assert_eq!(
        NetworkSpec::from_json_str(&spec.to_json_string()).unwrap(),
        spec
    );
    assert_eq!(
        NetworkSpec::from_toml_str(&spec.to_toml_string().unwrap()).unwrap(),
        spec
    );
}

#[test]
fn recordings_that_would_never_be_written_are_errors() {
    let text = format!(
        r#"dt_ms = 0.1
{POP}
[[populations]]
name = "d"
size = 2
neuron = {{ model = "lif_delta" }}
[[populations]]
name = "i"
size = 2
neuron = {{ model = "input" }}
[recording]
rates = ["p", "p"]
state = [
  {{ population = "d", neurons = [0], variable = "i_syn_ex" }},
  {{ population = "p", neurons = [0], variable = "u" }},
  {{ population = "i", neurons = [0] }},
  {{ population = "p", neurons = [] }},
  {{ population = "p", neurons = [1], variable = "i_syn_in" }},
  {{ population = "p", neurons = [2, 1, 2], variable = "v" }},
]
"#
    );
    let got = issues(&text);
    let want = [
        "recording.rates[1]",
        "recording.state[0].variable: a lif_delta neuron has no `i_syn_ex`",
        "recording.state[1].variable: a lif_exp neuron has no `u`",
        "recording.state[2].variable: an input population has no state",
        "recording.state[3].neurons",
        "recording.state[5].neurons[2]: neuron 2 is listed twice",
    ];
    assert_eq!(got.len(), want.len(), "{got:#?}");
    for w in want {
        assert!(
            got.iter().any(|g| g.starts_with(w)),
            "{w} missing from {got:#?}"
        );
    }
}

#[test]
fn one_to_one_onto_itself_without_autapses_is_an_error() {
    let base = format!(
        "dt_ms = 0.1\n{POP}[[projections]]\nsource = \"p\"\ntarget = \"p\"\nconnectivity = {{ rule = \"one_to_one\" }}\n"
    );
    let got = issues(&base);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].starts_with("projections[0].connectivity") && got[0].contains("allow_autapses"));
    assert!(issues(&format!("{base}allow_autapses = true\n")).is_empty());
}

#[test]
fn times_are_bounded_with_the_specs_own_field_names() {
    let spec = |head: &str| format!("{head}\n{POP}");
    for (head, field) in [
        ("dt_ms = 0.0", "dt_ms"),
        ("dt_ms = -0.1", "dt_ms"),
        ("dt_ms = nan", "dt_ms"),
        ("dt_ms = inf", "dt_ms"),
        ("dt_ms = 1e-12", "dt_ms"),
        ("dt_ms = 0.1\nduration_ms = 0.0", "duration_ms"),
        ("dt_ms = 0.1\nduration_ms = -1.0", "duration_ms"),
        ("dt_ms = 0.1\nduration_ms = inf", "duration_ms"),
        ("dt_ms = 0.1\nduration_ms = 1e300", "duration_ms"),
        ("dt_ms = 1.0\nduration_ms = 0.2", "duration_ms"),
    ] {
        let got = issues(&spec(head));
        assert_eq!(got.len(), 1, "{head}: {got:?}");
        assert!(got[0].starts_with(&format!("{field}:")), "{head}: {got:?}");
        assert!(!got[0].contains("--"), "no flag in a spec error: {got:?}");
    }
    // The largest run accepted, and one step more.
    let max = MAX_STEPS as f64;
    assert!(issues(&spec(&format!("dt_ms = 1.0\nduration_ms = {max}"))).is_empty());
    assert_eq!(
        issues(&spec(&format!("dt_ms = 1.0\nduration_ms = {}", max * 2.0))).len(),
        1
    );
    // Stimulus times too.
    let stim = format!(
        "dt_ms = 1.0\n{POP}[[stimuli]]\nkind = \"current\"\ntarget = \"p\"\namplitude = 1.0\nstart_ms = 1e300\n"
    );
    let got = issues(&stim);
    assert!(
        got.len() == 1 && got[0].starts_with("stimuli[0].start_ms"),
        "{got:?}"
    );
}

/// `theta_rest_mv = -1e308, theta_init_mv = 1e308` with a fast decay made `theta` NaN (the
/// difference overflowed to infinity, times a decay of 0); `1e308` anywhere now is refused with
/// its path, while `nan`/`inf` keep their "finite" message and a `theta` trace stays valid.
#[test]
fn adaptive_threshold_values_are_bounded() {
    let spec = |at: &str| {
        format!(
            r#"dt_ms = 0.5
[[populations]]
name = "e"
size = 2
neuron = {{ model = "lif_cond_exp", input_order = "brian", adaptive_threshold = {{ {at} }} }}
[recording]
state = [{{ population = "e", neurons = [0], variable = "theta" }}]
"#
        )
    };
    assert!(issues(&spec("theta_rest_mv = -20.0, theta_plus_mv = 0.05")).is_empty());
    assert!(issues(&spec("theta_rest_mv = -1e6, theta_init_mv = 1e6")).is_empty());
    let path = "populations[0].neuron.adaptive_threshold";
    for (at, field, msg) in [
        ("theta_rest_mv = nan", "theta_rest_mv", "finite"),
        ("theta_rest_mv = inf", "theta_rest_mv", "finite"),
        ("theta_rest_mv = 1e308", "theta_rest_mv", "out of range"),
        ("theta_rest_mv = -1e308", "theta_rest_mv", "out of range"),
        ("theta_init_mv = 1e308", "theta_init_mv", "out of range"),
        ("theta_plus_mv = 1e308", "theta_plus_mv", "out of range"),
        ("theta_plus_mv = -1.0", "theta_plus_mv", ">= 0"),
    ] {
        let got = issues(&spec(at));
        assert_eq!(got.len(), 1, "{at}: {got:#?}");
        assert!(
            got[0].starts_with(&format!("{path}.{field}")) && got[0].contains(msg),
            "{at}: {got:#?}"
        );
    }
    for (order, msg) in [
        ("\"Brian\"", "expected `nest` or `brian`"),
        ("1", "invalid type"),
    ] {
        let err = parse_err(&spec("theta_plus_mv = 1.0").replace("\"brian\"", order));
        assert!(err.contains(msg), "{order}: {err}");
    }
}

/// A tiny or huge number in a refused field was printed in full: `duration_ms = 1e-300` gave an
/// error of 300 digits, `dt_ms = 1e300` one of 300 zeros. They are now written in scientific
/// notation, while ordinary values keep their plain form. Also the article before a model:
/// "an adex neuron", not "a adex neuron".
#[test]
fn extreme_numbers_in_errors_stay_short() {
    let spec = |head: &str, neuron: &str| {
        format!(
            "{head}\n[[populations]]\nname = \"p\"\nsize = 2\nneuron = {{ model = \"{neuron}\" }}\n"
        )
    };
    for (head, neuron, field, want) in [
        (
            "dt_ms = 0.1\nduration_ms = 1e-300",
            "lif_exp",
            "duration_ms",
            "1e-300 ms",
        ),
        (
            "dt_ms = 0.1\nduration_ms = -1e-300",
            "lif_exp",
            "duration_ms",
            "got -1e-300",
        ),
        (
            "dt_ms = 1e300\nduration_ms = 10.0",
            "lif_exp",
            "duration_ms",
            "dt = 1e300 ms",
        ),
        ("dt_ms = 1e-300", "lif_exp", "dt_ms", "1e-300 ms"),
        ("dt_ms = -1e-300", "lif_exp", "dt_ms", "got -1e-300"),
        (
            "dt_ms = 0.1\nduration_ms = 0.01",
            "lif_exp",
            "duration_ms",
            "0.01 ms",
        ),
    ] {
        let got = issues(&spec(head, neuron));
        assert_eq!(got.len(), 1, "{head}: {got:?}");
        assert!(
            got[0].starts_with(&format!("{field}:")) && got[0].contains(want),
            "{head}: {got:?}"
        );
        assert!(got[0].len() < 160, "{head}: {got:?}");
    }
    // Neuron parameters through the shared checks.
    let text = "dt_ms = 0.1\n[[populations]]\nname = \"p\"\nsize = 2\n\
                neuron = { model = \"lif_cond_exp\", c_m_pf = -1e-300, t_ref_ms = -1e-300 }\n";
    let got = issues(text);
    assert_eq!(got.len(), 2, "{got:#?}");
    assert!(
        got.iter()
            .any(|g| g == "populations[0].neuron.c_m_pf: must be > 0, got -1e-300"),
        "{got:#?}"
    );
    assert!(
        got.iter()
            .any(|g| g == "populations[0].neuron.t_ref_ms: must be >= 0, got -1e-300"),
        "{got:#?}"
    );
    // Articles.
    let text = "dt_ms = 0.1\n[[populations]]\nname = \"p\"\nsize = 2\nneuron = { model = \"adex\" }\n\
                [recording]\nstate = [{ population = \"p\", neurons = [0], variable = \"theta\" }]\n";
    let got = issues(text);
    assert_eq!(
        got,
        ["recording.state[0].variable: an adex neuron has no `theta`; it has `v`, `u`"],
    );
}

/// Finite but absurd magnitudes that used to pass validation and then silently broke a run
/// (a careless-user pass, session 10): weights near `f32::MAX` overflowed the engine's input
/// buffers and silenced a conductance neuron, `e_l_mv = 1e308` overflowed its sums, and a
/// stimulus whose window ends before it starts did nothing. Each is refused with its path.
#[test]
fn absurd_weights_potentials_currents_and_windows_are_refused() {
    let proj = |w: &str| {
        format!(
            "dt_ms = 0.1\n{POP}[[projections]]\nsource = \"p\"\ntarget = \"p\"\nconnectivity = {{ rule = \"all_to_all\" }}\n{w}\n"
        )
    };
    assert!(issues(&proj("weight = 1e9")).is_empty());
    assert!(
        issues(&proj(
            "weight = { dist = \"normal\", mean = 1.0, std = 1e6 }"
        ))
        .is_empty()
    );
    for w in [
        "weight = 1e38",
        "weight = -3e38",
        "weight = { dist = \"uniform\", low = 0.0, high = 1e12 }",
        "weight = { dist = \"normal\", mean = 1.0, std = 1e9 }",
    ] {
        let got = issues(&proj(w));
        assert!(
            got.len() == 1
                && got[0].starts_with("projections[0].weight")
                && got[0].contains("must be within"),
            "{w}: {got:#?}"
        );
    }
    let explicit = format!(
        "dt_ms = 0.1\n{POP}[[projections]]\nsource = \"p\"\ntarget = \"p\"\nconnectivity = {{ rule = \"explicit\", sources = [0, 1], targets = [2, 3], weights = [1.0, 1e38] }}\n"
    );
    let got = issues(&explicit);
    assert!(
        got.len() == 1 && got[0].starts_with("projections[0].connectivity.weights[1]"),
        "{got:#?}"
    );
    let neuron = |fields: &str| {
        format!(
            "dt_ms = 0.1\n[[populations]]\nname = \"p\"\nsize = 2\nneuron = {{ model = \"lif_cond_exp\", {fields} }}\n"
        )
    };
    for (fields, path) in [
        ("e_l_mv = 1e308", "e_l_mv"),
        ("e_ex_mv = 1e308", "e_ex_mv"),
        ("i_e_pa = 1e300", "i_e_pa"),
    ] {
        let got = issues(&neuron(fields));
        assert!(
            got.iter()
                .any(|g| g.starts_with(&format!("populations[0].neuron.{path}"))
                    && g.contains("must be within")),
            "{fields}: {got:#?}"
        );
    }
    let stim = |window: &str| {
        format!(
            "dt_ms = 0.1\n{POP}[[stimuli]]\nkind = \"poisson\"\ntarget = \"p\"\nrate_hz = 100.0\nweight = 6.0\n{window}\n"
        )
    };
    assert!(issues(&stim("start_ms = 10.0\nstop_ms = 50.0")).is_empty());
    for window in [
        "start_ms = 60.0\nstop_ms = 50.0",
        "start_ms = 50.0\nstop_ms = 50.0",
    ] {
        let got = issues(&stim(window));
        assert!(
            got.len() == 1 && got[0].starts_with("stimuli[0].stop_ms") && got[0].contains("after"),
            "{window}: {got:#?}"
        );
    }
    let got = issues(&stim("weight = 1e38").replace("weight = 6.0\n", ""));
    assert!(
        got.len() == 1 && got[0].starts_with("stimuli[0].weight"),
        "{got:#?}"
    );
}
