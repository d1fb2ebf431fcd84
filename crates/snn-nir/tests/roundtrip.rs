//! Export then import gives the same spec (up to the f32 precision of the file, which is the
//! engine's own precision for `lif_beta` and weights) and the same spikes.

use std::path::Path;

use snn_core::Network;
use snn_nir::{ImportOptions, export_spec, import_graph, read_bytes, write_bytes};
use snn_types::{Connectivity, NetworkSpec, ProjectionSpec, Spike, SpikeRaster, ValueSpec};

fn load(rel: &str) -> NetworkSpec {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    NetworkSpec::load(&p).unwrap()
}

fn roundtrip(spec: &NetworkSpec) -> NetworkSpec {
    let (g, _notes) = export_spec(spec).unwrap();
    let bytes = write_bytes(&g).unwrap();
    import_graph(&read_bytes(bytes).unwrap(), &ImportOptions::default()).unwrap()
}

/// The spec as the file stores it: f32 parameters and weights, explicit one-step delays.
fn normalised(spec: &NetworkSpec) -> NetworkSpec {
    let f = |x: f64| x as f32 as f64;
    let mut s = spec.clone();
    for pr in &mut s.projections {
        if pr.delay_ms.is_none() {
            pr.delay_ms = Some(ValueSpec::Constant(spec.dt_ms));
        }
        match &mut pr.connectivity {
            Connectivity::Dense { weights } => {
                weights.iter_mut().flatten().for_each(|w| *w = f(*w))
            }
            Connectivity::Conv2d { weights, .. } => weights.iter_mut().for_each(|w| *w = f(*w)),
            _ => {}
        }
        if let ValueSpec::Constant(w) = &mut pr.weight {
            *w = f(*w);
        }
    }
    s
}

fn run(spec: &NetworkSpec, input: &[Spike], steps: u64) -> Vec<Spike> {
    let mut net = Network::build(spec).unwrap();
    net.inject_input(0, &SpikeRaster::from_spikes(0, steps, input))
        .unwrap();
    let mut raster = SpikeRaster::new(0);
    net.run(steps, &mut raster);
    raster.iter().collect()
}

fn pattern(n: u32, steps: u64, every: u64) -> Vec<Spike> {
    (0..steps)
        .flat_map(|t| {
            (0..n)
                .filter(move |i| (t * 7 + *i as u64 * 3).is_multiple_of(every))
                .map(move |neuron| Spike { step: t, neuron })
        })
        .collect()
}

#[test]
fn snn_learn_export_round_trips_to_the_same_spec_and_spikes() {
    // `learn_dense.toml`: snn-learn's `to_network_spec` of a 64-32-10 model (see the README).
    let spec = load("tests/data/learn_dense.toml");
    let back = roundtrip(&spec);
    assert_eq!(back, normalised(&spec));
    assert_eq!(back.readout, spec.readout);
    let input = pattern(64, 25, 1);
    let a = run(&spec, &input, 30);
    assert!(a.len() >= 5, "the network is active ({} spikes)", a.len());
    assert_eq!(a, run(&back, &input, 30));
}

#[test]
fn conv_example_round_trips_to_the_same_spikes() {
    let spec = load("../../examples/conv_small.toml");
    let back = roundtrip(&spec);
    let mut want = normalised(&spec);
    // Poisson input is data, not network: the exporter leaves it out (and says so).
    want.stimuli.clear();
    for (j, (a, b)) in back.projections.iter().zip(&want.projections).enumerate() {
        assert_eq!(a, b, "projection {j}");
    }
    assert_eq!(back.stimuli, want.stimuli);
    assert_eq!(back.recording, want.recording);
    assert_eq!(back.readout, want.readout);
    assert_eq!(back, want);
    let (_, notes) = export_spec(&spec).unwrap();
    assert!(notes.iter().any(|n| n.contains("poisson")), "{notes:?}");
    // Same spikes with the original input put back.
    let mut with_input = back.clone();
    with_input.stimuli = spec.stimuli.clone();
    let sim = |s: &NetworkSpec| {
        snn_core::simulate(s, 50, 1)
            .unwrap()
            .0
            .iter()
            .collect::<Vec<_>>()
    };
    let a = sim(&spec);
    assert!(a.len() > 50);
    assert_eq!(a, sim(&with_input));
}

#[test]
fn recurrent_biased_delayed_and_lif_exp_networks_round_trip() {
    let spec = NetworkSpec::from_toml_str(
        r#"
        dt_ms = 0.5
        [[populations]]
        name = "in"
        size = 3
        neuron = { model = "input" }
        [[populations]]
        name = "rec"
        size = 4
        neuron = { model = "lif_beta", beta = 0.75, threshold = 1.0, reset = "subtract_delayed", bias = 0.125 }
        [[populations]]
        name = "syn"
        size = 2
        neuron = { model = "lif_exp", tau_m_ms = 10.0, c_m_pf = 250.0, e_l_mv = -70.0, v_th_mv = -55.0, v_reset_mv = -70.0, t_ref_ms = 0.0, tau_syn_ex_ms = 2.0, tau_syn_in_ms = 2.0 }
        [[populations]]
        name = "delta"
        size = 4
        neuron = { model = "lif_delta", tau_m_ms = 20.0, t_ref_ms = 0.0, i_e_pa = 200.0 }
        [[projections]]
        source = "rec"
        target = "delta"
        connectivity = { rule = "one_to_one" }
        weight = 4.0
        delay_ms = 0.5
        [[projections]]
        source = "in"
        target = "rec"
        connectivity = { rule = "dense", weights = [[0.5, 0.25, 0.0, 1.5], [0.0, 0.75, 0.5, 0.0], [1.25, 0.0, 0.0, 0.5]] }
        delay_ms = 1.5
        [[projections]]
        source = "rec"
        target = "rec"
        connectivity = { rule = "dense", weights = [[0.0, -0.25, 0.0, 0.0], [0.125, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.5], [0.0, 0.25, 0.0, 0.0]] }
        allow_autapses = true
        delay_ms = 0.5
        [[projections]]
        source = "rec"
        target = "syn"
        connectivity = { rule = "all_to_all" }
        weight = 300.0
        delay_ms = 0.5
        [[stimuli]]
        kind = "current"
        target = "rec"
        amplitude = 0.0625
        start_ms = 1.5
        neurons = [1, 3]
    "#,
    )
    .unwrap();
    let back = roundtrip(&spec);
    assert_eq!(back.populations, normalised(&spec).populations);
    assert_eq!(back.projections[0], normalised(&spec).projections[0]);
    // all_to_all comes back as the equivalent dense matrix.
    assert!(matches!(
        back.projections[2].connectivity,
        Connectivity::Dense { .. }
    ));
    let input = pattern(3, 40, 3);
    let a = run(&spec, &input, 60);
    assert!(a.len() > 10, "{} spikes", a.len());
    assert_eq!(a, run(&back, &input, 60));
    let _: Option<&ProjectionSpec> = None;
}
