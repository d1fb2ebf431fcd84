//! Compile time of big networks: where it goes (loading the spec, compiling; the placement's
//! traffic refinement separately).
//!
//! `cargo run --release -p snn-neuromorphic --example chip_compile`
//!
//! * `conv-3.6M`: the N-MNIST conv network (`snn_core::models::nmnist_conv`) with 18 and 50
//!   channels instead of 12 and 32: 2x34x34 - 18C5 - P2 - 50C5 - P2 - 10, 3.6M synapses, on
//!   the `loihi` preset. Loaded from its JSON text (as `snn chip` loads a file).
//! * `perf-100k`: the `chip_perf` example's 100k neurons and 10M synapses on a 32x32-tile mesh
//!   and on the `loihi_nahuku` board.
//! * `chain-1100000`: 1.1M inputs one to one onto 1.1M neurons on `truenorth_ns16e` (more than
//!   one chip's 1,048,576 neurons).

use std::time::Instant;

use snn_neuromorphic::{ArchSpec, CompileOptions, compile_with};
use snn_types::{Connectivity, NetworkSpec};

/// The N-MNIST conv network with `c1` and `c2` channels (kernels: a fixed pseudo-random
/// sequence).
fn conv_net(c1: u32, c2: u32) -> NetworkSpec {
    let mut s = snn_core::models::nmnist_conv(1);
    s.name = Some("conv-3.6M".into());
    let shapes = [
        ("conv1", [c1, 30, 30]),
        ("pool1", [c1, 15, 15]),
        ("conv2", [c2, 11, 11]),
        ("pool2", [c2, 5, 5]),
    ];
    for (name, shape) in shapes {
        let p = s.populations.iter_mut().find(|p| p.name == name).unwrap();
        p.shape = Some(shape);
        p.size = shape.iter().product();
    }
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % 1000) as f64 / 1000.0 - 0.45
    };
    for (pr, (cin, cout)) in s
        .projections
        .iter_mut()
        .filter(|p| matches!(p.connectivity, Connectivity::Conv2d { .. }))
        .zip([(2, c1), (c1, c2)])
    {
        if let Connectivity::Conv2d {
            out_channels,
            weights,
            ..
        } = &mut pr.connectivity
        {
            *out_channels = cout;
            *weights = (0..cout * cin * 25).map(|_| next() * 0.2).collect();
        }
    }
    s
}

/// The same network with every conv and pool projection written out as explicit synapse lists
/// (what a spec exported without kernels looks like).
fn explicit(spec: &NetworkSpec) -> NetworkSpec {
    let mut out = spec.clone();
    for j in 0..spec.projections.len() {
        if !matches!(
            spec.projections[j].connectivity,
            Connectivity::Conv2d { .. } | Connectivity::Pool2d { .. }
        ) {
            continue;
        }
        let e = snn_core::connect::expand_projection(spec, j).expect("expands");
        let (mut src, mut tgt, mut w) = (Vec::new(), Vec::new(), Vec::new());
        e.for_each_synapse(|s, t, x| {
            src.push(s);
            tgt.push(t);
            w.push(x as f64);
        });
        let pr = &mut out.projections[j];
        pr.connectivity = Connectivity::Explicit {
            sources: src,
            targets: tgt,
            weights: Some(w),
            delays_ms: None,
        };
        pr.weight = snn_types::ValueSpec::Constant(0.0);
    }
    out.name = Some("conv-3.6M-explicit".into());
    out
}

fn perf_net() -> NetworkSpec {
    // The 100k-neuron network of `chip_perf` (its Poisson input does not affect compile time).
    NetworkSpec::from_toml_str(include_str!("perf_100k.toml")).expect("valid")
}

fn measure(spec: &NetworkSpec, arch: &ArchSpec) {
    let text = serde_json::to_string(spec).expect("serialisable");
    let t = Instant::now();
    let loaded = NetworkSpec::from_json_str(&text).expect("parses");
    let load_s = t.elapsed().as_secs_f64();
    let mut best = [f64::MAX; 2];
    let mut last = None;
    for _ in 0..3 {
        for (i, keep) in [false, true].into_iter().enumerate() {
            let o = CompileOptions {
                keep_layer_order: keep,
                ..Default::default()
            };
            let t = Instant::now();
            let p = compile_with(&loaded, arch, &o).expect("fits");
            best[i] = best[i].min(t.elapsed().as_secs_f64());
            if !keep {
                last = Some(p);
            }
        }
    }
    let p = last.expect("compiled");
    println!(
        "{}: {} neurons, {} synapses, {} cores on '{}'; spec JSON {:.1} MB loaded in {:.3} s; compile {:.3} s (best of 3; {:.3} s without the traffic refinement); traffic {} packets x hops (layer order {}, {} moves)",
        spec.name.as_deref().unwrap_or("net"),
        p.n_neurons(),
        p.n_synapses(),
        p.n_cores_used(),
        arch.name,
        text.len() as f64 / 1e6,
        load_s,
        best[0],
        best[1],
        p.traffic.packet_hops,
        p.traffic.initial_packet_hops,
        p.traffic.moves
    );
}

fn main() {
    let conv = conv_net(18, 50);
    measure(&conv, &ArchSpec::preset("loihi").expect("preset"));
    measure(
        &explicit(&conv),
        &ArchSpec::preset("loihi").expect("preset"),
    );
    let mut a = ArchSpec::preset("loihi").expect("preset");
    a.name = "loihi-32x32".into();
    a.mesh.tiles_x = 32;
    a.mesh.tiles_y = 32;
    measure(&perf_net(), &a);
    measure(
        &perf_net(),
        &ArchSpec::preset("loihi_nahuku").expect("preset"),
    );
    measure(
        &chain_net(1_100_000),
        &ArchSpec::preset("truenorth_ns16e").expect("preset"),
    );
    // A network that does not fit: the error's search for the smallest change costs.
    let t = Instant::now();
    let e = compile_with(
        &perf_net(),
        &ArchSpec::preset("loihi").expect("preset"),
        &CompileOptions::default(),
    )
    .expect_err("191 cores do not fit 128");
    println!(
        "perf-100k on 'loihi' (does not fit): error in {:.3} s: {}",
        t.elapsed().as_secs_f64(),
        e.to_string().rsplit("; ").next().unwrap_or_default()
    );
}

/// `n` inputs driving `n` neurons one to one, and a second layer one to one: more than one
/// TrueNorth chip (1,048,576 neurons) per layer.
fn chain_net(n: u32) -> NetworkSpec {
    NetworkSpec::from_toml_str(&format!(
        r#"
        name = "chain-{n}"
        dt_ms = 1.0
        [[populations]]
        name = "in"
        size = {n}
        neuron = {{ model = "input" }}
        [[populations]]
        name = "h"
        size = {n}
        neuron = {{ model = "loihi_lif", du = 4095, dv = 400, vth_mant = 100 }}
        [[projections]]
        source = "in"
        target = "h"
        connectivity = {{ rule = "one_to_one" }}
        weight = 100
        "#
    ))
    .expect("valid")
}
