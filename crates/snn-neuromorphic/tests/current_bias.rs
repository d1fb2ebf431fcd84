//! Current stimuli on the chip: per-compartment biases that switch at the stimuli's steps,
//! quantised like the population bias, and the same spikes as the engine on the quantised spec.

use snn_neuromorphic::{ArchSpec, Chip, NocMode, RunOptions, compile};
use snn_types::{NetworkSpec, NeuronModel, SpikeRaster, StimulusSpec};

fn arch(skip_idle: bool) -> ArchSpec {
    let mut a = ArchSpec::preset("loihi").unwrap();
    a.mesh.tiles_x = 3;
    a.mesh.tiles_y = 3;
    a.mesh.cores_per_tile = 2;
    a.core.compartments = 8;
    a.model.skip_idle_neurons = skip_idle;
    a
}

/// `in` (20 Poisson inputs) -> `h` (12) -> `o` (6), with per-neuron current stimuli on `h` and
/// `o` that switch on and off, overlap, and step through several levels.
fn net(model: NeuronModel, amp: f64) -> NetworkSpec {
    let mut s = NetworkSpec::from_toml_str(
        r#"
        dt_ms = 0.5
        seed = 3
        [[populations]]
        name = "in"
        size = 20
        neuron = { model = "input" }
        [[populations]]
        name = "h"
        size = 12
        neuron = { model = "input" }
        [[populations]]
        name = "o"
        size = 6
        neuron = { model = "input" }
        [[projections]]
        source = "in"
        target = "h"
        connectivity = { rule = "fixed_probability", p = 0.3 }
        weight = { dist = "normal", mean = 6.0, std = 3.0 }
        [[projections]]
        source = "h"
        target = "o"
        connectivity = { rule = "fixed_indegree", k = 4 }
        weight = 5.0
        [[stimuli]]
        kind = "poisson"
        target = "in"
        rate_hz = 100.0
        "#,
    )
    .unwrap();
    if matches!(model, NeuronModel::LoihiLif(_)) {
        // Integer, non-random weights into loihi_lif.
        s.projections[0].weight = snn_types::ValueSpec::Constant(40.0);
        s.projections[1].weight = snn_types::ValueSpec::Constant(30.0);
    }
    s.populations[1].neuron = model.clone();
    s.populations[2].neuron = model;
    s.stimuli.push(StimulusSpec::Current {
        target: "h".into(),
        amplitude: 0.9 * amp,
        start_ms: 5.0,
        stop_ms: Some(40.0),
        neurons: Some(vec![0, 3, 4, 7]),
    });
    s.stimuli.push(StimulusSpec::Current {
        target: "h".into(),
        amplitude: -0.37 * amp,
        start_ms: 20.0,
        stop_ms: None,
        neurons: Some(vec![3, 9, 11]),
    });
    s.stimuli.push(StimulusSpec::StepCurrent {
        target: "o".into(),
        times_ms: vec![0.0, 10.0, 30.5, 60.0],
        amplitudes: vec![1.3 * amp, 0.0, 0.61 * amp, 2.2 * amp],
        neurons: Some(vec![1, 2, 5]),
    });
    // A second Poisson source after the currents: its stream depends on its index.
    s.stimuli.push(StimulusSpec::Poisson {
        target: "in".into(),
        rate_hz: 50.0,
        weight: 1.0,
        receptor: Default::default(),
        start_ms: 0.0,
        stop_ms: None,
    });
    s
}

fn chip(spec: &NetworkSpec, a: &ArchSpec, steps: u64) -> (SpikeRaster, NetworkSpec) {
    let prog = compile(spec, a).unwrap();
    let opt = RunOptions {
        noc: NocMode::Cycle,
        trace: false,
    };
    let r = Chip::new(&prog).unwrap().run(steps, &opt).unwrap();
    (r.spikes, prog.quantised_spec())
}

fn models() -> Vec<(NeuronModel, f64)> {
    vec![
        (NeuronModel::LifBeta(Default::default()), 1.0),
        (
            NeuronModel::LifDelta(snn_types::LifDeltaParams {
                v_th_mv: -65.0,
                t_ref_ms: 0.0,
                ..Default::default()
            }),
            400.0,
        ),
        (
            NeuronModel::LifExp(snn_types::LifExpParams {
                c_m_pf: 10.0,
                tau_m_ms: 10.0,
                t_ref_ms: 0.0,
                ..Default::default()
            }),
            60.0,
        ),
        (
            NeuronModel::LoihiLif(snn_types::LoihiLifParams {
                du: 2048,
                dv: 300,
                vth_mant: 80,
                bias_mant: 0,
                bias_exp: 0,
            }),
            900.0,
        ),
    ]
}

#[test]
fn switching_current_stimuli_match_the_engine_on_the_quantised_spec() {
    for (i, (m, amp)) in models().into_iter().enumerate() {
        let spec = net(m.clone(), amp);
        spec.validate().unwrap();
        for skip in [true, false] {
            let (chip_spikes, q) = chip(&spec, &arch(skip), 200);
            q.validate().unwrap();
            // The currents' places hold the quantised biases (a fourth schedule goes at the
            // end); the last Poisson keeps index 4 and so its stream.
            assert_eq!(q.stimuli.len(), spec.stimuli.len() + 1, "model {i}");
            assert_eq!(q.stimuli[4], spec.stimuli[4], "model {i}");
            let engine = snn_core::simulate(&q, 200, 2).unwrap().0;
            assert_eq!(chip_spikes, engine, "model {i}, skip_idle {skip}");
        }
        // The stimuli matter: without them the chip spikes differently.
        let mut quiet = spec.clone();
        quiet
            .stimuli
            .retain(|s| matches!(s, StimulusSpec::Poisson { .. }));
        let (with, _) = chip(&spec, &arch(true), 200);
        let (without, _) = chip(&quiet, &arch(true), 200);
        assert_ne!(
            with, without,
            "model {i}: the current stimuli should change the spikes"
        );
        let on = |r: &SpikeRaster, lo: u32| r.iter().filter(|s| s.neuron >= lo).count();
        assert!(on(&with, 20) > 0, "model {i}: the chip should spike");
        // Reported like the population bias.
        let prog = compile(&spec, &arch(true)).unwrap();
        let pq = &prog.quantisation.populations;
        assert_eq!(pq[1].stimulus_bias_neurons, 6, "model {i}");
        assert_eq!(pq[2].stimulus_bias_neurons, 3, "model {i}");
        assert_eq!(pq[0].stimulus_bias_neurons, 0, "model {i}");
        let text = prog.fit_summary();
        assert!(
            text.contains("per-neuron bias (current stimuli): 6 neurons, max rel err"),
            "{text}"
        );
        for p in &pq[1..] {
            assert!(
                p.stimulus_bias_rel_error < 1e-2,
                "model {i}: {}",
                p.stimulus_bias_rel_error
            );
        }
    }
}

#[test]
fn a_stimulus_bias_wakes_an_idle_neuron() {
    // No population bias, no input, zero state: only the stimulus can make it fire, and the
    // idle-neuron skip must not hide it.
    let spec = NetworkSpec::from_toml_str(
        r#"
        dt_ms = 1.0
        [[populations]]
        name = "a"
        size = 3
        neuron = { model = "loihi_lif", du = 4095, dv = 0, vth_mant = 10 }
        [[stimuli]]
        kind = "current"
        target = "a"
        amplitude = 100.0
        start_ms = 4.0
        stop_ms = 12.0
        neurons = [1]
        "#,
    )
    .unwrap();
    let (spikes, q) = chip(&spec, &arch(true), 20);
    // v grows by 100 a step from step 4 and fires above 640: steps 10 (v = 700), then reset.
    let got: Vec<(u64, u32)> = spikes.iter().map(|s| (s.step, s.neuron)).collect();
    assert_eq!(got, vec![(10, 1)]);
    assert_eq!(snn_core::simulate(&q, 20, 1).unwrap().0, spikes);
    let prog = compile(&spec, &arch(true)).unwrap();
    let r = Chip::new(&prog)
        .unwrap()
        .run(20, &RunOptions::default())
        .unwrap();
    // Neuron 1 is updated from step 4 on (16 updates); the other two never.
    let counts = r.counts;
    assert_eq!(
        counts.neuron_updates_active + counts.neuron_updates_inactive,
        16
    );
}

#[test]
fn stimulus_biases_round_like_the_population_bias() {
    // loihi_lif: the amplitude is the bias in integer v units, quantised to a 13-bit signed
    // mantissa and an exponent, rounded to nearest (half away from zero).
    let mut spec = NetworkSpec::from_toml_str(
        r#"
        dt_ms = 1.0
        [[populations]]
        name = "a"
        size = 5
        neuron = { model = "loihi_lif", du = 4095, dv = 0, vth_mant = 100000 }
        "#,
    )
    .unwrap();
    for (k, amp) in [2.5, 4095.0, 4097.0, -10001.0, 1e7].into_iter().enumerate() {
        spec.stimuli.push(StimulusSpec::Current {
            target: "a".into(),
            amplitude: amp,
            start_ms: 0.0,
            stop_ms: None,
            neurons: Some(vec![k as u32]),
        });
    }
    let prog = compile(&spec, &arch(true)).unwrap();
    let q = prog.quantised_spec();
    let mut got: Vec<(Vec<u32>, f64)> = q
        .stimuli
        .iter()
        .filter_map(|s| match s {
            StimulusSpec::StepCurrent {
                neurons: Some(n),
                amplitudes,
                times_ms,
                ..
            } => {
                assert_eq!(times_ms, &vec![0.0]);
                Some((n.clone(), amplitudes[0]))
            }
            _ => None,
        })
        .collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    // 2.5 -> 3 << 0; 4095 exact; 4097 -> round(2048.5) = 2049 << 1 = 4098;
    // -10001 -> round(-2500.25) = -2500 << 2; 1e7 saturates at 4095 << 7.
    assert_eq!(
        got,
        vec![
            (vec![0], 3.0),
            (vec![1], 4095.0),
            (vec![2], 4098.0),
            (vec![3], -10000.0),
            (vec![4], 524160.0),
        ]
    );
    let e = prog.quantisation.populations[0].stimulus_bias_rel_error;
    assert!((e - (1e7 - 524160.0) / 1e7).abs() < 1e-12, "{e}");
    assert_eq!(prog.quantisation.populations[0].stimulus_bias_neurons, 5);
}

#[test]
fn neurons_with_the_same_schedule_share_one_stimulus() {
    let spec = net(NeuronModel::LifBeta(Default::default()), 1.0);
    let q = compile(&spec, &arch(true)).unwrap().quantised_spec();
    let step_currents: Vec<&StimulusSpec> = q
        .stimuli
        .iter()
        .filter(|s| matches!(s, StimulusSpec::StepCurrent { .. }))
        .collect();
    // h: {0, 4, 7} (on then off), {3} (on, both), {9, 11} (the second only); o: {1, 2, 5}.
    assert_eq!(step_currents.len(), 4, "{step_currents:?}");
}

mod random {
    use super::*;
    use proptest::prelude::*;

    /// A random current stimulus: (target `h` or `o`, step current?, neuron mask, amplitudes,
    /// start step, stop step or none).
    type Stim = (bool, bool, u16, Vec<f64>, u32, Option<u32>);

    fn stim() -> impl Strategy<Value = Stim> {
        (
            any::<bool>(),
            any::<bool>(),
            any::<u16>(),
            prop::collection::vec(-2.5f64..2.5, 1..4),
            0u32..60,
            prop::option::of(1u32..60),
        )
    }

    fn to_spec(s: &Stim, amp: f64) -> StimulusSpec {
        let (to_h, step, mask, amps, start, stop) = s;
        let size = if *to_h { 12 } else { 6 };
        let neurons: Vec<u32> = (0..size).filter(|k| mask & (1 << k) != 0).collect();
        let target = if *to_h { "h" } else { "o" }.to_string();
        let neurons = if *mask == u16::MAX {
            None
        } else {
            Some(neurons)
        };
        if *step {
            StimulusSpec::StepCurrent {
                target,
                times_ms: (0..amps.len())
                    .map(|k| (*start as f64 + 7.0 * k as f64) * 0.5)
                    .collect(),
                amplitudes: amps.iter().map(|a| a * amp).collect(),
                neurons,
            }
        } else {
            StimulusSpec::Current {
                target,
                amplitude: amps[0] * amp,
                start_ms: *start as f64 * 0.5,
                stop_ms: stop.map(|d| (*start + d) as f64 * 0.5),
                neurons,
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn chip_equals_engine_with_random_current_stimuli(
            model in 0usize..4,
            stims in prop::collection::vec(stim(), 1..6),
            seed in any::<u64>(),
            skip in any::<bool>(),
        ) {
            let (m, amp) = models().swap_remove(model);
            let mut spec = net(m, amp);
            spec.seed = seed;
            spec.stimuli.retain(|s| matches!(s, StimulusSpec::Poisson { .. }));
            // Currents before and after a Poisson source.
            for (k, s) in stims.iter().enumerate() {
                spec.stimuli.insert(k % 2, to_spec(s, amp));
            }
            prop_assume!(spec.validate().is_ok());
            let (chip_spikes, q) = chip(&spec, &arch(skip), 120);
            prop_assert!(q.validate().is_ok());
            let engine = snn_core::simulate(&q, 120, 2).unwrap().0;
            prop_assert_eq!(chip_spikes, engine);
        }
    }
}
