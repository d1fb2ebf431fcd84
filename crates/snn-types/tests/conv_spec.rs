//! Conv and pool projections in the spec: parsing, defaults, and every shape relation that
//! `validate()` checks, each named by its path.

use snn_types::{Connectivity, NetworkSpec, PoolMode};

/// A 2 x 8 x 8 input -> 3C3 (6 x 6) -> sum pool 2 (3 x 3) network, with `extra` appended to the
/// conv projection's table and `pool` as the pool projection's connectivity.
fn spec(conv: &str, conv_extra: &str, pool: &str, hidden_shape: &str) -> String {
    format!(
        r#"
dt_ms = 1.0
[[populations]]
name = "in"
size = 128
shape = [2, 8, 8]
neuron = {{ model = "input" }}
[[populations]]
name = "c1"
size = 108
{hidden_shape}
neuron = {{ model = "lif_beta" }}
[[populations]]
name = "p1"
size = 27
neuron = {{ model = "lif_beta" }}
[[projections]]
source = "in"
target = "c1"
connectivity = {{ rule = "conv2d", {conv} }}
{conv_extra}
[[projections]]
source = "c1"
target = "p1"
connectivity = {{ rule = "pool2d", {pool} }}
weight = 0.5
"#
    )
}

fn weights(n: usize) -> String {
    let v: Vec<String> = (0..n).map(|i| format!("{}", i as f64 / 64.0)).collect();
    format!("weights = [{}]", v.join(", "))
}

fn good_conv() -> String {
    format!("out_channels = 3, kernel = 3, {}", weights(3 * 2 * 9))
}

fn errors(text: &str) -> String {
    match NetworkSpec::from_toml_str(text) {
        Err(e) => e.to_string(),
        Ok(s) => s
            .validate()
            .map(|_| String::new())
            .unwrap_or_else(|e| e.to_string()),
    }
}

#[test]
fn a_conv_network_parses_with_defaults_and_validates() {
    let s = NetworkSpec::from_toml_str(&spec(&good_conv(), "", "kernel = 2", "shape = [3, 6, 6]"))
        .unwrap();
    s.validate().unwrap();
    match &s.projections[0].connectivity {
        Connectivity::Conv2d {
            kernel,
            stride,
            padding,
            dilation,
            groups,
            in_shape,
            ..
        } => {
            assert_eq!(
                (*kernel, *stride, *padding, *dilation, *groups, *in_shape),
                ([3, 3], [1, 1], [0, 0], [1, 1], 1, None)
            );
        }
        c => panic!("parsed as {c:?}"),
    }
    match &s.projections[1].connectivity {
        Connectivity::Pool2d { mode, stride, .. } => {
            assert_eq!((*mode, *stride), (PoolMode::Sum, None))
        }
        c => panic!("parsed as {c:?}"),
    }
    let g = s.projection_geometry(1).unwrap().unwrap();
    assert_eq!(g.out_shape(), [3, 3, 3]);
    assert_eq!(g.stride(), [2, 2]);
    // A round trip through TOML and JSON keeps everything.
    let back = NetworkSpec::from_toml_str(&s.to_toml_string().unwrap()).unwrap();
    assert_eq!(back, s);
    let back = NetworkSpec::from_json_str(&s.to_json_string()).unwrap();
    assert_eq!(back, s);
}

#[test]
fn every_shape_problem_names_its_field() {
    let cases: Vec<(String, &str)> = vec![
        // Weights of the wrong length.
        (
            spec(
                &format!("out_channels = 3, kernel = 3, {}", weights(10)),
                "",
                "kernel = 2",
                "",
            ),
            "projections[0].connectivity.weights: has 10 values, expected out_channels x in_channels/groups x kh x kw = 3 x 2 x 3 x 3 = 54",
        ),
        // Stride 0.
        (
            spec(
                &format!("{}, stride = 0", good_conv()),
                "",
                "kernel = 2",
                "",
            ),
            "projections[0].connectivity: stride must be at least 1",
        ),
        // Kernel larger than the padded input.
        (
            spec(
                &format!("out_channels = 3, kernel = 9, {}", weights(3 * 2 * 81)),
                "",
                "kernel = 2",
                "",
            ),
            "larger than the padded input height",
        ),
        // Groups that do not divide the channels.
        (
            spec(
                &format!("out_channels = 3, kernel = 3, groups = 2, {}", weights(27)),
                "",
                "kernel = 2",
                "",
            ),
            "groups (2) must divide out_channels (3)",
        ),
        // Output size differs from the target's.
        (
            spec(
                &format!("out_channels = 3, kernel = 3, padding = 1, {}", weights(54)),
                "",
                "kernel = 2",
                "",
            ),
            "projections[0].connectivity: produces [3, 8, 8] = 192 neurons but target population 'c1' has 108",
        ),
        // The target's declared shape differs from the output.
        (
            spec(&good_conv(), "", "kernel = 2", "shape = [3, 4, 9]"),
            "produces [3, 6, 6] but target population 'c1' has shape [3, 4, 9]",
        ),
        // A population whose shape does not hold its size.
        (
            spec(&good_conv(), "", "kernel = 2", "shape = [3, 6, 5]"),
            "populations[1].shape: [3, 6, 5] holds 90 neurons but size is 108",
        ),
        // The pool's input shape is missing (c1 has no shape).
        (
            spec(&good_conv(), "", "kernel = 2", ""),
            "projections[1].connectivity: needs in_shape, or a shape on source population 'c1'",
        ),
        // An explicit in_shape that disagrees with the source's shape.
        (
            spec(
                &format!("{}, in_shape = [1, 8, 16]", good_conv()),
                "",
                "kernel = 2, in_shape = [3, 6, 6]",
                "",
            ),
            "in_shape [1, 8, 16] differs from the shape [2, 8, 8] of source population 'in'",
        ),
        // A random delay.
        (
            spec(
                &good_conv(),
                "delay_ms = { low = 1.0, high = 2.0 }",
                "kernel = 2, in_shape = [3, 6, 6]",
                "",
            ),
            "projections[0].delay_ms: a conv2d projection needs a constant delay",
        ),
        // A weight on a conv projection.
        (
            spec(
                &good_conv(),
                "weight = 2.0",
                "kernel = 2, in_shape = [3, 6, 6]",
                "",
            ),
            "projections[0].weight: a conv2d projection takes its weights from connectivity.weights",
        ),
        // A non-finite kernel weight.
        (
            spec(
                &format!(
                    "out_channels = 3, kernel = 3, weights = [{}nan]",
                    "0.0, ".repeat(53)
                ),
                "",
                "kernel = 2, in_shape = [3, 6, 6]",
                "",
            ),
            "projections[0].connectivity.weights[53]: must be a finite number",
        ),
        // Parse errors: a negative stride and a triple.
        (
            spec(
                &format!("{}, stride = -1", good_conv()),
                "",
                "kernel = 2",
                "",
            ),
            "-1 is negative",
        ),
        (
            spec(
                &format!("{}, stride = [1, 1, 1]", good_conv()),
                "",
                "kernel = 2",
                "",
            ),
            "a pair has two values, got more",
        ),
    ];
    for (text, want) in cases {
        let got = errors(&text);
        assert!(got.contains(want), "expected '{want}' in:\n{got}");
    }
}

#[test]
fn a_conv_onto_its_own_source_is_refused() {
    let text = r#"
dt_ms = 1.0
[[populations]]
name = "a"
size = 16
shape = [1, 4, 4]
neuron = { model = "lif_beta" }
[[projections]]
source = "a"
target = "a"
connectivity = { rule = "conv2d", out_channels = 1, kernel = 1, weights = [1.0] }
"#;
    assert!(errors(text).contains("conv2d from 'a' onto itself is not supported"));
}

/// A malformed pair field (`kernel`, `stride`, `padding`, `dilation`) is a parse error that
/// names the field: inside the tagged `connectivity` table TOML only points at the table header.
#[test]
fn a_malformed_pair_names_its_field() {
    let w = weights(3 * 2 * 9);
    for (conv, field, words) in [
        (
            format!("out_channels = 3, kernel = -3, {w}"),
            "kernel",
            "-3 is negative",
        ),
        (
            format!("out_channels = 3, kernel = \"3\", {w}"),
            "kernel",
            "string",
        ),
        (
            format!("out_channels = 3, kernel = 3.0, {w}"),
            "kernel",
            "floating point",
        ),
        (
            format!("out_channels = 3, kernel = [1, 2, 3], {w}"),
            "kernel",
            "got more",
        ),
        (
            format!("out_channels = 3, kernel = [], {w}"),
            "kernel",
            "got none",
        ),
        (
            format!("out_channels = 3, kernel = [3, \"x\"], {w}"),
            "kernel",
            "string",
        ),
        (
            format!("out_channels = 3, kernel = 4294967296, {w}"),
            "kernel",
            "too large",
        ),
        (
            format!("{}, stride = [1, -1]", good_conv()),
            "stride",
            "-1 is negative",
        ),
        (
            format!("{}, padding = [1, 2.5]", good_conv()),
            "padding",
            "floating point",
        ),
        (
            format!("{}, dilation = [2]", good_conv()),
            "dilation",
            "got one",
        ),
    ] {
        let e = errors(&spec(&conv, "", "kernel = 2", ""));
        assert!(
            e.contains(&format!("`{field}`")) && e.contains(words),
            "{conv}: {e}"
        );
    }
    // The pool's optional stride too.
    let e = errors(&spec(&good_conv(), "", "kernel = 2, stride = -2", ""));
    assert!(e.contains("`stride`: -2 is negative"), "{e}");
}

/// A padding of 2^31 or more makes the output longer than `u32`; it used to wrap to a small,
/// plausible length (here 8 x 8), so the spec validated with a wrong shape and no synapses.
#[test]
fn a_padding_beyond_u32_is_refused_not_wrapped() {
    let text = r#"
dt_ms = 1.0
[[populations]]
name = "in"
size = 64
shape = [1, 8, 8]
neuron = { model = "input" }
[[populations]]
name = "c1"
size = 64
shape = [1, 8, 8]
neuron = { model = "lif_beta" }
[[projections]]
source = "in"
target = "c1"
connectivity = { rule = "RULE", PARAMS padding = 2147483648 }
"#;
    for (rule, params) in [
        ("conv2d", "out_channels = 1, kernel = 1, weights = [1.0],"),
        ("pool2d", "kernel = 1,"),
    ] {
        let e = errors(&text.replace("RULE", rule).replace("PARAMS", params));
        assert!(
            e.contains("projections[0].connectivity: the output height is 4294967304"),
            "{rule}: {e}"
        );
    }
    let g =
        snn_types::conv::ConvGeometry::new([1, 8, 8], 1, [1, 1], [1, 1], [u32::MAX, 0], [1, 1], 1);
    assert!(g.unwrap_err().contains("output height"));
}

/// Weights into `loihi_lif` must be integers: a conv kernel names its first bad entry, an average
/// pool says what the division gives, and a NaN delay is reported once.
#[test]
fn loihi_weights_and_bad_delays_are_named_where_they_are() {
    let loihi = |conv: &str, pool: &str, extra: &str| {
        spec(conv, extra, pool, "").replace(
            "size = 108\n\nneuron = { model = \"lif_beta\" }",
            "size = 108\n\nneuron = { model = \"loihi_lif\" }",
        )
    };
    let mut w: Vec<String> = (0..54).map(|i| format!("{i}")).collect();
    w[7] = "2.5".into();
    let conv = format!("out_channels = 3, kernel = 3, weights = [{}]", w.join(", "));
    let e = errors(&loihi(&conv, "kernel = 2", ""));
    assert!(
        e.contains("projections[0].connectivity.weights[7]: 2.5 is not an integer"),
        "{e}"
    );
    assert!(!e.contains("projections[0].weight"), "{e}");

    let avg = spec(
        &good_conv(),
        "",
        "mode = \"average\", kernel = 2",
        "shape = [3, 6, 6]",
    )
    .replace(
        "size = 27\nneuron = { model = \"lif_beta\" }",
        "size = 27\nneuron = { model = \"loihi_lif\" }",
    );
    let e = errors(&avg.replace("weight = 0.5", "weight = 3"));
    assert!(
        e.contains("projections[1].weight: an average pool gives each source weight / (kh x kw) = 3 / 4 = 0.75"),
        "{e}"
    );
    let e = errors(&avg.replace("weight = 0.5", "weight = 8"));
    assert!(e.is_empty(), "{e}");

    let e = errors(&spec(&good_conv(), "delay_ms = nan", "kernel = 2", ""));
    assert_eq!(e.matches("delay_ms").count(), 1, "{e}");
}
