//! The chip's spikes equal the engine's simulation of the same quantised network, step for step;
//! the chip's synapses are `snn-core`'s expansion itself (no copy to keep in step), so this tests
//! the behaviour that matters: the same spikes.

use proptest::prelude::*;
use snn_neuromorphic::{
    ArchSpec, Chip, CompileOptions, NocMode, RunOptions, compile, compile_with,
};
use snn_types::{
    Connectivity, LoihiLifParams, NetworkSpec, NeuronModel, PopulationSpec, ProjectionSpec,
    Receptor, SpikeTrainSpec, StimulusSpec, ValueSpec,
};

fn small_arch() -> ArchSpec {
    // Loihi's figures on a small mesh with tiny cores, so that small networks span many cores
    // and tiles (exercising the NoC).
    let mut a = ArchSpec::preset("loihi").unwrap();
    a.mesh.tiles_x = 3;
    a.mesh.tiles_y = 3;
    a.mesh.cores_per_tile = 2;
    a.core.compartments = 3;
    a
}

fn engine_raster(spec: &NetworkSpec, steps: u64, threads: usize) -> snn_types::SpikeRaster {
    snn_core::simulate(spec, steps, threads).unwrap().0
}

fn chip_raster(
    spec: &NetworkSpec,
    arch: &ArchSpec,
    steps: u64,
    noc: NocMode,
) -> (snn_types::SpikeRaster, NetworkSpec) {
    let prog = compile(spec, arch).unwrap();
    let r = Chip::new(&prog)
        .unwrap()
        .run(steps, &RunOptions { noc, trace: false })
        .unwrap();
    (r.spikes, prog.quantised_spec())
}

#[allow(clippy::type_complexity)]
fn net_strategy() -> impl Strategy<Value = NetworkSpec> {
    let lif = (0u16..=4095, 0u16..=4096, 1i32..400, -20i32..20, 0u8..4).prop_map(
        |(du, dv, vth_mant, bias_mant, bias_exp)| LoihiLifParams {
            du,
            dv,
            vth_mant,
            bias_mant,
            bias_exp,
        },
    );
    (
        2u32..7,
        1u32..6,
        0u32..5,
        lif.clone(),
        lif,
        prop::collection::vec((0u32..7, 0u32..6, -256i32..256, 1u32..5), 1..40),
        prop::collection::vec((0u32..6, 0u32..5, -256i32..256, 1u32..5), 0..25),
        prop::collection::vec((0u32..6, 0u32..6, -256i32..256, 1u32..5), 0..20),
        prop::collection::vec((0u32..7, 0u32..30), 0..60),
        any::<u64>(),
    )
        .prop_map(|(n_in, n_a, n_b, pa, pb, in_a, a_b, a_a, inputs, seed)| {
            let pops = |name: &str, size, neuron| PopulationSpec {
                shape: None,
                name: name.into(),
                size,
                neuron,
                v_init: None,
            };
            let mut populations = vec![
                pops("in", n_in, NeuronModel::Input),
                pops("a", n_a, NeuronModel::LoihiLif(pa)),
            ];
            if n_b > 0 {
                populations.push(pops("b", n_b, NeuronModel::LoihiLif(pb)));
            }
            let proj = |s: &str, t: &str, ns: u32, nt: u32, syn: &[(u32, u32, i32, u32)]| {
                let syn: Vec<_> = syn.iter().filter(|x| x.0 < ns && x.1 < nt).collect();
                ProjectionSpec {
                    name: None,
                    source: s.into(),
                    target: t.into(),
                    connectivity: Connectivity::Explicit {
                        sources: syn.iter().map(|x| x.0).collect(),
                        targets: syn.iter().map(|x| x.1).collect(),
                        weights: Some(syn.iter().map(|x| x.2 as f64).collect()),
                        delays_ms: Some(syn.iter().map(|x| x.3 as f64).collect()),
                    },
                    weight: ValueSpec::Constant(1.0),
                    delay_ms: None,
                    receptor: Receptor::Excitatory,
                    allow_autapses: true,
                    plasticity: None,
                }
            };
            let mut projections = vec![
                proj("in", "a", n_in, n_a, &in_a),
                proj("a", "a", n_a, n_a, &a_a),
            ];
            if n_b > 0 {
                projections.push(proj("a", "b", n_a, n_b, &a_b));
            }
            let mut spikes: Vec<SpikeTrainSpec> = Vec::new();
            for n in 0..n_in {
                let mut times: Vec<f64> = inputs
                    .iter()
                    .filter(|x| x.0 == n)
                    .map(|x| x.1 as f64)
                    .collect();
                times.sort_by(f64::total_cmp);
                if !times.is_empty() {
                    spikes.push(SpikeTrainSpec {
                        neuron: n,
                        times_ms: times,
                    });
                }
            }
            NetworkSpec {
                name: None,
                dt_ms: 1.0,
                duration_ms: None,
                seed,
                populations,
                projections,
                stimuli: vec![StimulusSpec::SpikeArray {
                    target: "in".into(),
                    weight: 1.0,
                    receptor: Receptor::Excitatory,
                    spikes,
                }],
                recording: Default::default(),
                readout: None,
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn chip_equals_engine_on_random_networks(spec in net_strategy()) {
        prop_assume!(spec.validate().is_ok());
        let arch = small_arch();
        let steps = 40;
        let (chip, qspec) = chip_raster(&spec, &arch, steps, NocMode::Cycle);
        // Integer weights in the 8-bit range are exact: the quantised spec is the spec.
        prop_assert_eq!(&qspec.populations, &spec.populations);
        let engine = engine_raster(&qspec, steps, 1);
        prop_assert_eq!(&chip, &engine);
        let (analytic, _) = chip_raster(&spec, &arch, steps, NocMode::Analytic);
        prop_assert_eq!(&analytic, &engine);
    }
}

fn float_net(model: NeuronModel, seed: u64) -> NetworkSpec {
    let mut s = NetworkSpec::from_toml_str(
        r#"
        dt_ms = 0.5
        [[populations]]
        name = "in"
        size = 40
        neuron = { model = "input" }
        [[populations]]
        name = "h"
        size = 30
        neuron = { model = "input" }
        [[populations]]
        name = "o"
        size = 10
        neuron = { model = "input" }
        [[projections]]
        source = "in"
        target = "h"
        connectivity = { rule = "fixed_probability", p = 0.3 }
        weight = { dist = "normal", mean = 8.0, std = 4.0 }
        delay_ms = { dist = "uniform", low = 0.5, high = 2.0 }
        [[projections]]
        source = "h"
        target = "o"
        connectivity = { rule = "fixed_indegree", k = 6 }
        weight = 6.0
        [[projections]]
        source = "h"
        target = "h"
        connectivity = { rule = "fixed_outdegree", k = 3 }
        weight = -4.0
        receptor = "inhibitory"
        [[stimuli]]
        kind = "poisson"
        target = "in"
        rate_hz = 200.0
        "#,
    )
    .unwrap();
    s.seed = seed;
    s.populations[1].neuron = model.clone();
    s.populations[2].neuron = model;
    s
}

#[test]
fn quantised_float_networks_match_engine() {
    let models = [
        NeuronModel::LifBeta(Default::default()),
        NeuronModel::LifDelta(snn_types::LifDeltaParams {
            v_th_mv: -65.0,
            t_ref_ms: 0.0,
            ..Default::default()
        }),
        NeuronModel::LifExp(snn_types::LifExpParams {
            c_m_pf: 10.0,
            tau_m_ms: 10.0,
            t_ref_ms: 0.0,
            i_e_pa: 50.0,
            ..Default::default()
        }),
    ];
    for (i, m) in models.into_iter().enumerate() {
        let spec = float_net(m, 11 + i as u64);
        spec.validate().unwrap();
        let arch = small_arch();
        let mut a2 = arch.clone();
        a2.core.compartments = 16;
        let (chip, q) = chip_raster(&spec, &a2, 200, NocMode::Cycle);
        q.validate().unwrap();
        let engine = engine_raster(&q, 200, 2);
        assert_eq!(chip, engine, "model {i}");
        let on_chip: usize = chip.iter().filter(|s| s.neuron >= 40).count();
        assert!(on_chip > 0, "model {i}: the quantised network should spike");
    }
}

#[test]
fn weight_precision_truncation_matches_engine() {
    let spec = float_net(NeuronModel::LifBeta(Default::default()), 5);
    let prog = compile_with(
        &spec,
        &small_arch(),
        &CompileOptions {
            num_weight_bits: Some(5),
            max_neurons_per_core: None,
            ..Default::default()
        },
    )
    .unwrap();
    let r = Chip::new(&prog)
        .unwrap()
        .run(100, &RunOptions::default())
        .unwrap();
    let q = prog.quantised_spec();
    if let Connectivity::Explicit {
        weights: Some(w), ..
    } = &q.projections[0].connectivity
    {
        assert!(
            w.iter().all(|x| (*x as i64) % 8 == 0),
            "5 of 8 bits: multiples of 8"
        );
    } else {
        panic!("random weights become explicit");
    }
    assert!(!prog.quantisation.projections[0].exact);
    assert_eq!(r.spikes, engine_raster(&q, 100, 1));
}
