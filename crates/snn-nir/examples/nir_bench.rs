//! Import and export speed of a 784-1000-10 dense lif_beta network (docs/benchmarks.md):
//! `cargo run --release -p snn-nir --example nir_bench`.

use std::time::Instant;

use snn_nir::{ImportOptions, export_spec, import_graph, read_bytes, write_bytes};
use snn_types::{
    Connectivity, LifBetaParams, NetworkSpec, NeuronModel, PopulationSpec, ProjectionSpec,
    Receptor, RecordingSpec, ResetMode, ValueSpec,
};

fn dense(n_in: usize, n_out: usize, seed: &mut u64) -> Connectivity {
    let mut next = || {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        // A float32 weight in [-0.5, 0.5).
        ((*seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5) as f64
    };
    Connectivity::Dense {
        weights: (0..n_in)
            .map(|_| (0..n_out).map(|_| next()).collect())
            .collect(),
    }
}

fn main() {
    let lif = NeuronModel::LifBeta(LifBetaParams {
        beta: 0.9,
        threshold: 1.0,
        reset: ResetMode::Subtract,
        bias: 0.0,
    });
    let pop = |name: &str, size: u32, neuron: NeuronModel| PopulationSpec {
        name: name.into(),
        size,
        shape: None,
        neuron,
        v_init: None,
    };
    let proj = |s: &str, t: &str, c: Connectivity| ProjectionSpec {
        name: None,
        source: s.into(),
        target: t.into(),
        connectivity: c,
        weight: ValueSpec::Constant(1.0),
        delay_ms: Some(ValueSpec::Constant(1.0)),
        receptor: Receptor::Excitatory,
        allow_autapses: false,
        plasticity: None,
    };
    let mut seed = 1u64;
    let spec = NetworkSpec {
        name: Some("mlp-784-1000-10".into()),
        dt_ms: 1.0,
        duration_ms: None,
        seed: 0,
        populations: vec![
            pop("input", 784, NeuronModel::Input),
            pop("hidden", 1000, lif.clone()),
            pop("output", 10, lif),
        ],
        projections: vec![
            proj("input", "hidden", dense(784, 1000, &mut seed)),
            proj("hidden", "output", dense(1000, 10, &mut seed)),
        ],
        stimuli: vec![],
        recording: RecordingSpec::default(),
        readout: None,
    };
    let reps = 5;
    let mut best = [f64::MAX; 4];
    let mut size = 0;
    for _ in 0..reps {
        let t = Instant::now();
        let (g, _) = export_spec(&spec).unwrap();
        let t_map = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let bytes = write_bytes(&g).unwrap();
        let t_write = t.elapsed().as_secs_f64();
        size = bytes.len();
        let t = Instant::now();
        let g2 = read_bytes(bytes).unwrap();
        let t_read = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let back = import_graph(&g2, &ImportOptions::default()).unwrap();
        let t_import = t.elapsed().as_secs_f64();
        assert_eq!(back.projections, spec.projections);
        for (b, x) in best.iter_mut().zip([t_map, t_write, t_read, t_import]) {
            *b = b.min(x);
        }
    }
    println!("784-1000-10 dense lif_beta, 794,000 weights, file {size} bytes; best of {reps}:");
    println!(
        "  export: spec -> graph {:.1} ms, graph -> HDF5 bytes {:.1} ms",
        best[0] * 1e3,
        best[1] * 1e3
    );
    println!(
        "  import: HDF5 bytes -> graph {:.1} ms, graph -> spec {:.1} ms",
        best[2] * 1e3,
        best[3] * 1e3
    );
    println!(
        "  total:  export {:.1} ms, import {:.1} ms",
        (best[0] + best[1]) * 1e3,
        (best[2] + best[3]) * 1e3
    );
}
