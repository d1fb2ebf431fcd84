//! Every golden node file (`tests/data/nodes/*.nir`, written by Python's `nir.write` with
//! `make_golden.py`) is read and compared with its JSON sidecar, then imported.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use snn_nir::hdf::{H5Value, read_tree};
use snn_nir::{Discretisation, ImportOptions, NirError, import_file, read_file};
use snn_types::{Connectivity, NeuronModel, ResetMode};

fn nodes_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/nodes")
}

fn golden_files() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(nodes_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "nir"))
        .collect();
    v.sort();
    v
}

fn group(v: &H5Value) -> &BTreeMap<String, H5Value> {
    match v {
        H5Value::Group(g) => g,
        other => panic!("expected a group, got {}", other.kind()),
    }
}

/// Compares one sidecar graph (`{type, nodes, edges}`) with the HDF5 group.
fn compare_graph(want: &Value, got: &BTreeMap<String, H5Value>, at: &str) {
    assert_eq!(got["type"].as_str(), Some("NIRGraph"), "{at}/type");
    let H5Value::Str { shape, data } = &got["edges"] else {
        panic!("{at}/edges is not strings")
    };
    let edges: Vec<(String, String)> = want["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e[0].as_str().unwrap().into(), e[1].as_str().unwrap().into()))
        .collect();
    assert_eq!(shape, &vec![edges.len(), 2], "{at}/edges shape");
    let got_edges: Vec<(String, String)> = data
        .chunks(2)
        .map(|c| (c[0].clone(), c[1].clone()))
        .collect();
    assert_eq!(got_edges, edges, "{at}/edges");
    let want_nodes = want["nodes"].as_object().unwrap();
    let got_nodes = group(&got["nodes"]);
    assert_eq!(
        got_nodes.keys().collect::<Vec<_>>(),
        want_nodes.keys().collect::<Vec<_>>(),
        "{at}/nodes"
    );
    for (name, w) in want_nodes {
        let g = group(&got_nodes[name]);
        let here = format!("{at}/nodes/{name}");
        let ty = w["type"].as_str().unwrap();
        assert_eq!(g["type"].as_str(), Some(ty), "{here}/type");
        if ty == "NIRGraph" {
            compare_graph(w, g, &here);
            continue;
        }
        let params = w["params"].as_object().unwrap();
        let mut got_keys: Vec<&String> = g.keys().filter(|k| *k != "type").collect();
        got_keys.sort();
        assert_eq!(got_keys, params.keys().collect::<Vec<_>>(), "{here} params");
        for (p, spec) in params {
            let v = &g[p];
            let shape: Vec<usize> = spec["shape"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_u64().unwrap() as usize)
                .collect();
            assert_eq!(v.shape().unwrap(), shape.as_slice(), "{here}/{p} shape");
            match spec["kind"].as_str().unwrap() {
                "float" => {
                    let H5Value::Float { data, .. } = v else {
                        panic!("{here}/{p}: {}", v.kind())
                    };
                    let want: Vec<f64> = spec["values"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|x| x.as_f64().unwrap())
                        .collect();
                    assert_eq!(data, &want, "{here}/{p}");
                }
                "int" => {
                    let H5Value::Int { data, .. } = v else {
                        panic!("{here}/{p}: {}", v.kind())
                    };
                    let want: Vec<i64> = spec["values"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|x| x.as_i64().unwrap())
                        .collect();
                    assert_eq!(data, &want, "{here}/{p}");
                }
                "string" => {
                    let H5Value::Str { data, .. } = v else {
                        panic!("{here}/{p}: {}", v.kind())
                    };
                    let want: Vec<String> = spec["values"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|x| x.as_str().unwrap().to_string())
                        .collect();
                    assert_eq!(data, &want, "{here}/{p}");
                }
                k => panic!("{here}/{p}: unknown kind {k}"),
            }
        }
    }
}

#[test]
fn every_golden_node_file_matches_its_sidecar() {
    let files = golden_files();
    assert!(files.len() >= 22, "{} golden files", files.len());
    for f in files {
        let sidecar: Value =
            serde_json::from_str(&std::fs::read_to_string(f.with_extension("json")).unwrap())
                .unwrap();
        let tree = read_tree(std::fs::read(&f).unwrap()).unwrap();
        let root = group(&tree);
        assert_eq!(
            root["version"].as_str(),
            sidecar["nir_version_dataset"].as_str(),
            "{}",
            f.display()
        );
        compare_graph(&sidecar["graph"], group(&root["node"]), "/node");
        // The typed reader accepts every file too.
        read_file(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
    }
}

fn import(name: &str, opts: &ImportOptions) -> Result<snn_types::NetworkSpec, NirError> {
    import_file(&nodes_dir().join(name), opts)
}

fn opts(dt_ms: f64, reset: Option<ResetMode>, disc: Option<Discretisation>) -> ImportOptions {
    ImportOptions {
        dt_ms: Some(dt_ms),
        reset,
        discretisation: disc,
        ..ImportOptions::default()
    }
}

fn beta_of(m: &NeuronModel) -> (f64, f64, f64, ResetMode) {
    match m {
        NeuronModel::LifBeta(p) => (p.beta, p.threshold, p.bias, p.reset),
        other => panic!("expected lif_beta, got {}", other.name()),
    }
}

#[test]
fn golden_linear_nodes_import_as_projections() {
    let o = opts(1.0, None, None);
    // Affine: weight (out, in) becomes dense [source][target]; the bias a current from step 1
    // (the output's latency); the Output reached through a linear node is a non-spiking
    // population whose membrane is the affine map, read as a membrane readout.
    let spec = import("affine.nir", &o).unwrap();
    let Connectivity::Dense { weights } = &spec.projections[0].connectivity else {
        panic!()
    };
    assert_eq!(weights.len(), 4);
    assert_eq!(weights[1][0], -0.390625);
    assert_eq!(spec.stimuli.len(), 3);
    let r = spec.readout.as_ref().unwrap();
    assert_eq!(r.rule, snn_types::ReadoutRule::MeanMembrane);
    let mut net = snn_core::Network::build(&spec).unwrap();
    let input: Vec<snn_types::Spike> = (0..4)
        .map(|neuron| snn_types::Spike { step: 0, neuron })
        .collect();
    net.inject_input(0, &snn_types::SpikeRaster::from_spikes(0, 1, &input))
        .unwrap();
    net.run(2, &mut snn_types::SpikeRaster::new(0));
    let v = net.membrane(1);
    let w: [[f32; 4]; 3] = [
        [-0.5, -0.390625, -0.28125, -0.171875],
        [-0.0625, 0.046875, 0.15625, 0.265625],
        [0.375, 0.484375, -0.40625, -0.296875],
    ];
    let b = [0.015625f32, 0.03125, 0.046875];
    for t in 0..3 {
        assert_eq!(v[t], w[t].iter().sum::<f32>() + b[t], "output {t}");
    }
    // Linear, Scale, Flatten, pools and convs.
    let lin = import("linear.nir", &o).unwrap();
    assert!(matches!(
        lin.projections[0].connectivity,
        Connectivity::Dense { .. }
    ));
    assert!(lin.stimuli.is_empty());
    let sc = import("scale.nir", &o).unwrap();
    assert!(matches!(
        sc.projections[0].connectivity,
        Connectivity::Dense { .. }
    ));
    let fl = import("flatten.nir", &o).unwrap();
    assert_eq!(
        fl.populations.len(),
        1,
        "flatten is a no-op on flat populations"
    );
    let sp = import("sumpool2d.nir", &o).unwrap();
    assert!(matches!(
        sp.projections[0].connectivity,
        Connectivity::Pool2d {
            mode: snn_types::PoolMode::Sum,
            kernel: [2, 2],
            ..
        }
    ));
    let ap = import("avgpool2d.nir", &o).unwrap();
    assert!(matches!(
        ap.projections[0].connectivity,
        Connectivity::Pool2d {
            mode: snn_types::PoolMode::Average,
            kernel: [3, 3],
            stride: Some([1, 2]),
            padding: [1, 1],
            ..
        }
    ));
    for (f, groups) in [
        ("conv2d.nir", 1),
        ("conv2d_groups.nir", 2),
        ("conv2d_strided.nir", 1),
    ] {
        let c = import(f, &o).unwrap();
        let Connectivity::Conv2d { groups: g, .. } = &c.projections[0].connectivity else {
            panic!("{f}")
        };
        assert_eq!(*g, groups, "{f}");
        assert!(!c.stimuli.is_empty(), "{f}: the conv bias becomes currents");
    }
    let c1 = import("conv1d.nir", &o).unwrap();
    let Connectivity::Conv2d {
        kernel,
        stride,
        padding,
        ..
    } = &c1.projections[0].connectivity
    else {
        panic!()
    };
    assert_eq!((*kernel, *stride, *padding), ([1, 3], [1, 2], [0, 1]));
    assert_eq!(c1.populations[0].shape, Some([1, 1, 7]));
    // Per-neuron delays become per-synapse delays (1, 2, 3 s at dt = 250 ms: 4, 8, 12 steps
    // after the one-step synapse).
    let d = import("delay.nir", &opts(250.0, None, None)).unwrap();
    let Connectivity::Explicit {
        delays_ms: Some(dl),
        ..
    } = &d.projections[0].connectivity
    else {
        panic!()
    };
    assert_eq!(dl, &vec![1250.0, 2250.0, 3250.0]);
    assert!(
        import("delay.nir", &opts(300.0, None, None))
            .unwrap_err()
            .to_string()
            .contains("whole number of steps")
    );
}

#[test]
fn golden_neuron_nodes_map_per_neuron_parameters_onto_populations() {
    let dt = 0.01; // ms; the golden taus are 0.125 s and more
    // LIF: per-neuron tau, r, v_leak, threshold differ: one population per neuron.
    let e = import("lif.nir", &opts(dt, None, None))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("node 'lif' (LIF): v_reset = -0.125 with reset zero"),
        "{e}"
    );
    let spec = import("lif.nir", &opts(dt, Some(ResetMode::Subtract), None)).unwrap();
    let names: Vec<&str> = spec.populations.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["input", "lif#0", "lif#1", "lif#2", "lif#3"]);
    let taus = [0.125, 0.25, 0.375, 0.5];
    let rs = [1.0, 1.5, 2.0, 2.5];
    let leaks = [-0.0625, 0.0, 0.0625, 0.125];
    for k in 0..4 {
        let (beta, th, bias, reset) = beta_of(&spec.populations[k + 1].neuron);
        let a = 1e-5 / taus[k];
        assert_eq!(beta, (1.0 - a) as f32 as f64);
        assert_eq!(th, 1.0 + 0.25 * k as f64);
        assert_eq!(bias, (a * leaks[k]) as f32 as f64);
        assert_eq!(reset, ResetMode::Subtract);
        // The input scale r dt / tau is on the incoming weight.
        let Connectivity::Dense { weights } = &spec.projections[k].connectivity else {
            panic!()
        };
        assert_eq!(weights[k][0], rs[k] * a);
    }
    let ex = import(
        "lif.nir",
        &opts(dt, Some(ResetMode::Subtract), Some(Discretisation::Exact)),
    )
    .unwrap();
    let (beta, ..) = beta_of(&ex.populations[1].neuron);
    assert_eq!(beta, (-1e-5f64 / 0.125).exp() as f32 as f64);
    // IF, I, LI, Threshold.
    assert!(import("if_node.nir", &opts(dt, Some(ResetMode::Subtract), None)).is_ok());
    let i = import("i_node.nir", &opts(dt, None, None)).unwrap();
    assert_eq!(beta_of(&i.populations[1].neuron).0, 1.0);
    let li = import("li.nir", &opts(dt, None, None)).unwrap();
    assert_eq!(beta_of(&li.populations[1].neuron).1, f32::MAX as f64);
    let th = import("threshold.nir", &opts(dt, None, None)).unwrap();
    assert_eq!(beta_of(&th.populations[1].neuron).0, 0.0);
    // CubaLIF / CubaLI map onto lif_exp and need the exact discretisation.
    let e = import("cubalif.nir", &opts(dt, None, None))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("node 'cubalif' (CubaLIF)") && e.contains("exact"),
        "{e}"
    );
    let cl = import("cubalif.nir", &opts(dt, None, Some(Discretisation::Exact))).unwrap();
    let NeuronModel::LifExp(p) = &cl.populations[1].neuron else {
        panic!()
    };
    assert_eq!(
        (p.tau_m_ms, p.tau_syn_ex_ms, p.c_m_pf, p.e_l_mv),
        (125.0, 62.5, 125.0, -0.0625)
    );
    assert!(import("cubali.nir", &opts(dt, None, Some(Discretisation::Exact))).is_ok());
}

#[test]
fn golden_graphs_nested_and_recurrent() {
    let dt = 0.01;
    let n = import("nested_graph.nir", &opts(dt, None, None)).unwrap();
    let names: Vec<&str> = n.populations.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["input", "sub.lif#0", "sub.lif#1", "sub.lif#2"]);
    assert_eq!(
        n.stimuli.len(),
        3,
        "the outer affine's bias reaches each part"
    );
    let r = import("recurrent_graph.nir", &opts(dt, None, None)).unwrap();
    let self_edges = r
        .projections
        .iter()
        .filter(|p| p.source.starts_with("lif") && p.target.starts_with("lif"))
        .count();
    assert_eq!(
        self_edges, 4,
        "the recurrent weight matrix between the two parts"
    );
    for io in ["input_output.nir", "input_output_2d.nir"] {
        let s = import(io, &opts(dt, None, None)).unwrap();
        assert_eq!(s.populations.len(), 1);
        assert!(s.readout.is_none());
    }
}
