//! Malformed files and graphs are clear errors naming what and where; nothing panics.

use std::collections::BTreeMap;
use std::path::Path;

use snn_nir::hdf::{H5Value, write_tree};
use snn_nir::{ImportOptions, import_graph, read_bytes};

fn mlp_bytes() -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/snntorch/digits_mlp.nir"))
        .unwrap()
}

fn s(v: &str) -> H5Value {
    H5Value::string(v)
}

fn f(shape: Vec<usize>, data: Vec<f64>) -> H5Value {
    H5Value::floats(shape, data)
}

fn group(items: Vec<(&str, H5Value)>) -> H5Value {
    H5Value::Group(items.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// A file with the given nodes and edges.
fn file(nodes: Vec<(&str, H5Value)>, edges: &[(&str, &str)]) -> Vec<u8> {
    let mut data = Vec::new();
    for (a, b) in edges {
        data.push(a.to_string());
        data.push(b.to_string());
    }
    let mut root = BTreeMap::new();
    root.insert("version".to_string(), s("1.0.8"));
    root.insert(
        "node".to_string(),
        group(vec![
            ("type", s("NIRGraph")),
            ("nodes", group(nodes)),
            (
                "edges",
                H5Value::Str {
                    shape: vec![edges.len(), 2],
                    data,
                },
            ),
        ]),
    );
    write_tree(&root).unwrap()
}

fn input(n: i64) -> H5Value {
    group(vec![
        ("type", s("Input")),
        ("shape", H5Value::ints(vec![n])),
    ])
}

fn output(n: i64) -> H5Value {
    group(vec![
        ("type", s("Output")),
        ("shape", H5Value::ints(vec![n])),
    ])
}

fn lif(n: usize, tau: f64) -> H5Value {
    group(vec![
        ("type", s("LIF")),
        ("tau", f(vec![n], vec![tau; n])),
        ("r", f(vec![n], vec![1.0; n])),
        ("v_leak", f(vec![n], vec![0.0; n])),
        ("v_threshold", f(vec![n], vec![1.0; n])),
    ])
}

fn linear(o: usize, i: usize) -> H5Value {
    group(vec![
        ("type", s("Linear")),
        ("weight", f(vec![o, i], vec![0.5; o * i])),
    ])
}

fn import(bytes: Vec<u8>) -> String {
    match read_bytes(bytes) {
        Err(e) => e.to_string(),
        Ok(g) => match import_graph(&g, &ImportOptions::default()) {
            Err(e) => e.to_string(),
            Ok(_) => "imported".into(),
        },
    }
}

#[test]
fn truncated_and_corrupt_files_are_errors() {
    let full = mlp_bytes();
    assert!(import(Vec::new()).contains("no HDF5 signature"));
    assert!(import(b"not hdf5 at all".to_vec()).contains("no HDF5 signature"));
    // Truncated at many lengths, and with bytes flipped: an error or (rarely) a readable file,
    // never a panic.
    let mut errors = 0;
    for cut in (0..full.len()).step_by(997) {
        if read_bytes(full[..cut].to_vec()).is_err() {
            errors += 1;
        }
    }
    assert!(errors > 50, "{errors}");
    for at in (0..full.len()).step_by(211) {
        let mut b = full.clone();
        b[at] ^= 0x5a;
        let _ = import(b);
    }
}

#[test]
fn layout_errors_name_the_hdf5_path() {
    // Unknown node type.
    let e = import(file(
        vec![
            ("input", input(2)),
            ("x", group(vec![("type", s("Sigmoid"))])),
            ("output", output(2)),
        ],
        &[("input", "x"), ("x", "output")],
    ));
    assert!(
        e.contains("/node/nodes/x/type: unknown node type \"Sigmoid\""),
        "{e}"
    );
    // Missing parameter.
    let e = import(file(
        vec![("input", input(2)), ("l", group(vec![("type", s("LIF"))]))],
        &[("input", "l")],
    ));
    assert!(e.contains("/node/nodes/l/tau: missing"), "{e}");
    // NaN parameter.
    let mut bad = lif(2, 0.01);
    if let H5Value::Group(g) = &mut bad {
        g.insert("tau".into(), f(vec![2], vec![0.01, f64::NAN]));
    }
    let e = import(file(
        vec![("input", input(2)), ("l", bad)],
        &[("input", "l")],
    ));
    assert!(e.contains("/node/nodes/l/tau: holds NaN"), "{e}");
    // Unexpected parameter.
    let mut extra = lif(2, 0.01);
    if let H5Value::Group(g) = &mut extra {
        g.insert("bogus".into(), f(vec![1], vec![1.0]));
    }
    let e = import(file(
        vec![("input", input(2)), ("l", extra)],
        &[("input", "l")],
    ));
    assert!(
        e.contains("/node/nodes/l/bogus: unexpected parameter of a LIF node"),
        "{e}"
    );
    // No version, no node group.
    let mut root = BTreeMap::new();
    root.insert("x".to_string(), s("y"));
    assert!(import(write_tree(&root).unwrap()).contains("/version: missing"));
}

#[test]
fn graph_errors_name_the_nodes() {
    // Edge to a missing node.
    let e = import(file(
        vec![("input", input(2)), ("l", lif(2, 0.01))],
        &[("input", "l"), ("l", "ghost")],
    ));
    assert!(
        e.contains("names node 'ghost', which does not exist"),
        "{e}"
    );
    // Wrong shapes along an edge.
    let e = import(file(
        vec![
            ("input", input(3)),
            ("w", linear(2, 4)),
            ("l", lif(2, 0.01)),
        ],
        &[("input", "w"), ("w", "l")],
    ));
    assert!(
        e.contains("node 'w' (Linear): weight has 4 columns but its input has 3"),
        "{e}"
    );
    let e = import(file(
        vec![
            ("input", input(3)),
            ("w", linear(2, 3)),
            ("l", lif(5, 0.01)),
        ],
        &[("input", "w"), ("w", "l")],
    ));
    assert!(
        e.contains("node 'l' (LIF)") && e.contains("its input has 2"),
        "{e}"
    );
    let e = import(file(
        vec![
            ("input", input(2)),
            ("l", lif(2, 0.01)),
            ("output", output(3)),
        ],
        &[("input", "l"), ("l", "output")],
    ));
    assert!(
        e.contains("node 'output' (Output): its shape [3.0] holds 3 values but it receives 2"),
        "{e}"
    );
    // A cycle of linear nodes (no neuron in it) is an algebraic loop.
    let e = import(file(
        vec![
            ("input", input(2)),
            ("a", linear(2, 2)),
            ("b", linear(2, 2)),
            ("l", lif(2, 0.01)),
        ],
        &[("input", "a"), ("a", "b"), ("b", "a"), ("b", "l")],
    ));
    assert!(e.contains("passes no neuron node"), "{e}");
    // A cycle through a neuron is a recurrent projection: fine.
    let ok = import(file(
        vec![
            ("input", input(2)),
            ("a", linear(2, 2)),
            ("l", lif(2, 0.01)),
            ("output", output(2)),
        ],
        &[("input", "l"), ("l", "a"), ("a", "l"), ("l", "output")],
    ));
    assert_eq!(ok, "imported");
    // No input.
    let e = import(file(vec![("l", lif(2, 0.01))], &[]));
    assert!(
        e.contains("not reachable from an Input") || e.contains("no Input"),
        "{e}"
    );
    // Euler with dt longer than tau.
    let e = import(file(
        vec![("input", input(2)), ("l", lif(2, 1e-4))],
        &[("input", "l")],
    ));
    assert!(
        e.contains("node 'l' (LIF): dt = 1 ms is longer than tau"),
        "{e}"
    );
}

#[test]
fn snntorch_rleaky_inlined_subgraph_imports_as_a_recurrent_projection() {
    // What nirtorch writes for `Linear -> RLeaky`: the RLeaky subgraph's nodes in the top graph
    // with dotted names, its Input and Output nodes between them.
    let spec = import_graph(
        &read_bytes(file(
            vec![
                ("input", input(2)),
                ("0", linear(3, 2)),
                ("1.input", input(3)),
                ("1.lif", lif(3, 0.01)),
                ("1.w_rec", linear(3, 3)),
                ("1.output", output(3)),
                ("output", output(3)),
            ],
            &[
                ("input", "0"),
                ("0", "1.input"),
                ("1.input", "1.lif"),
                ("1.lif", "1.w_rec"),
                ("1.w_rec", "1.lif"),
                ("1.lif", "1.output"),
                ("1.output", "output"),
            ],
        ))
        .unwrap(),
        &ImportOptions {
            dt_ms: Some(0.1),
            ..ImportOptions::default()
        },
    )
    .unwrap();
    let names: Vec<&str> = spec.populations.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["input", "1.lif"]);
    assert_eq!(spec.projections.len(), 2);
    assert_eq!(spec.projections[1].source, spec.projections[1].target);
    assert_eq!(spec.readout.as_ref().unwrap().population, "1.lif");
}

/// An endless special file is read up to the limit and refused with an error naming it, not
/// read until memory runs out.
#[cfg(unix)]
#[test]
fn an_endless_file_is_refused_at_the_limit() {
    let e = snn_nir::read_file(Path::new("/dev/zero"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("/dev/zero") && e.contains("larger than 1024 MiB"),
        "{e}"
    );
}
