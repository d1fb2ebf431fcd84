//! Neuron dynamics against analytic results and an independent fine-step reference.

use snn_core::{Network, simulate};
use snn_types::{
    Connectivity, LifBetaParams, LifDeltaParams, LifExpParams, LoihiLifParams, NetworkSpec,
    NeuronModel, PopulationSpec, ProjectionSpec, Receptor, RecordingSpec, ResetMode, SpikeRaster,
    SpikeTrainSpec, StateVar, StimulusSpec, TraceSpec, ValueSpec,
};

fn one_population(model: NeuronModel, size: u32, dt_ms: f64) -> NetworkSpec {
    NetworkSpec {
        name: None,
        dt_ms,
        duration_ms: None,
        seed: 3,
        populations: vec![PopulationSpec {
            shape: None,
            name: "n".into(),
            size,
            neuron: model,
            v_init: None,
        }],
        projections: vec![],
        stimuli: vec![],
        recording: RecordingSpec::default(),
        readout: None,
    }
}

/// Interspike intervals (in steps) of neuron 0.
fn isis(r: &SpikeRaster) -> Vec<u64> {
    let t: Vec<u64> = r.iter().filter(|s| s.neuron == 0).map(|s| s.step).collect();
    t.windows(2).map(|w| w[1] - w[0]).collect()
}

#[test]
fn lif_exp_fires_at_the_analytic_rate() {
    // E_L = V_reset so that the textbook formula applies:
    // T = t_ref + tau_m ln(R I / (R I - (V_th - V_reset)))
    for &(i_pa, dt) in &[(400.0, 0.1), (600.0, 0.1), (1000.0, 0.05), (380.0, 0.01)] {
        let p = LifExpParams {
            tau_m_ms: 10.0,
            c_m_pf: 250.0,
            e_l_mv: -70.0,
            v_th_mv: -55.0,
            v_reset_mv: -70.0,
            t_ref_ms: 2.0,
            i_e_pa: i_pa,
            ..Default::default()
        };
        let spec = one_population(NeuronModel::LifExp(p), 1, dt);
        let (r, _, _) = simulate(&spec, (500.0 / dt) as u64, 1).unwrap();
        let ri = p.tau_m_ms / p.c_m_pf * i_pa; // mV
        let period = p.t_ref_ms + p.tau_m_ms * (ri / (ri - (p.v_th_mv - p.v_reset_mv))).ln();
        let intervals = isis(&r);
        assert!(intervals.len() >= 5, "I = {i_pa}: only {} spikes", r.len());
        for isi in intervals {
            let isi_ms = isi as f64 * dt;
            // The simulated period is the analytic one rounded up to the step grid.
            assert!(
                isi_ms >= period - 1e-9 && isi_ms < period + dt + 1e-9,
                "I = {i_pa} pA, dt = {dt}: ISI {isi_ms} ms vs analytic {period} ms"
            );
        }
    }
}

#[test]
fn lif_below_rheobase_never_fires() {
    // Rheobase: R I = V_th - E_L = 15 mV -> I = 375 pA.
    let p = LifExpParams {
        i_e_pa: 374.0,
        ..Default::default()
    };
    let spec = one_population(NeuronModel::LifExp(p), 3, 0.1);
    let (r, _, _) = simulate(&spec, 20_000, 1).unwrap();
    assert!(r.is_empty());
    let d = LifDeltaParams {
        i_e_pa: 374.0,
        ..Default::default()
    };
    let spec = one_population(NeuronModel::LifDelta(d), 3, 0.1);
    let (r, _, _) = simulate(&spec, 20_000, 1).unwrap();
    assert!(r.is_empty());
}

#[test]
fn lif_delta_fires_at_the_analytic_rate() {
    let p = LifDeltaParams {
        i_e_pa: 500.0,
        ..Default::default()
    };
    let spec = one_population(NeuronModel::LifDelta(p), 1, 0.1);
    let (r, _, _) = simulate(&spec, 5000, 1).unwrap();
    let ri: f64 = 10.0 / 250.0 * 500.0;
    let period = 2.0 + 10.0 * (ri / (ri - 15.0)).ln();
    for isi in isis(&r) {
        let ms = isi as f64 * 0.1;
        assert!(
            ms >= period - 1e-9 && ms < period + 0.1 + 1e-9,
            "{ms} vs {period}"
        );
    }
}

/// Forward Euler on the same equations with a step `h`, driven by the same input spike times.
fn euler_reference(
    p: &LifExpParams,
    spike_ms: &[(f64, f64, bool)],
    t_end_ms: f64,
    h: f64,
) -> Vec<(f64, f64)> {
    let (mut v, mut ie, mut ii) = (p.e_l_mv, 0.0f64, 0.0f64);
    let n = (t_end_ms / h).round() as usize;
    let mut out = Vec::new();
    let mut k = 0;
    for step in 0..n {
        let t = step as f64 * h;
        while k < spike_ms.len() && spike_ms[k].0 <= t + 1e-12 {
            if spike_ms[k].2 {
                ii += spike_ms[k].1;
            } else {
                ie += spike_ms[k].1;
            }
            k += 1;
        }
        let dv = (-(v - p.e_l_mv) / p.tau_m_ms + (ie + ii + p.i_e_pa) / p.c_m_pf) * h;
        ie -= ie / p.tau_syn_ex_ms * h;
        ii -= ii / p.tau_syn_in_ms * h;
        v += dv;
        out.push((t + h, v));
    }
    out
}

#[test]
fn exact_integration_agrees_with_fine_euler() {
    // Subthreshold response to excitatory and inhibitory input spikes and a constant current.
    let p = LifExpParams {
        tau_m_ms: 10.0,
        c_m_pf: 250.0,
        tau_syn_ex_ms: 2.0,
        tau_syn_in_ms: 5.0,
        i_e_pa: 100.0,
        v_th_mv: 0.0,
        ..Default::default()
    };
    let mut spec = one_population(NeuronModel::LifExp(p), 1, 0.1);
    let ex = [1.0, 3.0, 3.5, 10.0];
    let inh = [6.0, 12.0];
    spec.stimuli = vec![
        StimulusSpec::SpikeArray {
            target: "n".into(),
            weight: 400.0,
            receptor: Receptor::Excitatory,
            spikes: vec![SpikeTrainSpec {
                neuron: 0,
                times_ms: ex.to_vec(),
            }],
        },
        StimulusSpec::SpikeArray {
            target: "n".into(),
            weight: -300.0,
            receptor: Receptor::Inhibitory,
            spikes: vec![SpikeTrainSpec {
                neuron: 0,
                times_ms: inh.to_vec(),
            }],
        },
    ];
    spec.recording.state = vec![TraceSpec {
        population: "n".into(),
        neurons: vec![0],
        variable: StateVar::V,
    }];
    let steps = 300;
    let (r, rec, _) = simulate(&spec, steps, 1).unwrap();
    assert!(r.is_empty());
    let v = &rec.traces[0].values;
    assert_eq!(v.len(), steps as usize);
    // In the engine an input added at step s enters I at the end of step s and V from step s+1:
    // it acts from time (s + 1) * dt. Euler gets the same input times.
    let mut inputs: Vec<(f64, f64, bool)> = ex
        .iter()
        .map(|&t| (t + 0.1, 400.0, false))
        .chain(inh.iter().map(|&t| (t + 0.1, -300.0, true)))
        .collect();
    inputs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let h = 1e-4;
    let reference = euler_reference(&p, &inputs, steps as f64 * 0.1, h);
    let per = (0.1 / h).round() as usize;
    let mut max_err = 0.0f64;
    let mut max_dev = 0.0f64;
    for (s, &vs) in v.iter().enumerate() {
        let (_, ve) = reference[(s + 1) * per - 1];
        max_err = max_err.max((vs as f64 - ve).abs());
        max_dev = max_dev.max((ve - p.e_l_mv).abs());
    }
    assert!(
        max_dev > 5.0,
        "the test must exercise the dynamics (deviation {max_dev} mV)"
    );
    assert!(max_err < 0.01, "max |V_exact - V_euler| = {max_err} mV");
}

#[test]
fn delays_arrive_exactly_delay_steps_later() {
    // An input neuron fires once at step 10; a beta-LIF target with threshold below the weight
    // fires in the step the spike arrives: 10 + delay.
    for delay_steps in [1u64, 2, 7, 30] {
        let mut spec = one_population(NeuronModel::Input, 1, 0.5);
        spec.populations.push(PopulationSpec {
            shape: None,
            name: "out".into(),
            size: 1,
            neuron: NeuronModel::LifBeta(LifBetaParams {
                beta: 0.0,
                threshold: 0.5,
                ..Default::default()
            }),
            v_init: None,
        });
        spec.projections.push(ProjectionSpec {
            name: None,
            source: "n".into(),
            target: "out".into(),
            connectivity: Connectivity::OneToOne,
            weight: ValueSpec::Constant(1.0),
            delay_ms: Some(ValueSpec::Constant(delay_steps as f64 * 0.5)),
            receptor: Receptor::Excitatory,
            allow_autapses: false,
            plasticity: None,
        });
        spec.stimuli.push(StimulusSpec::SpikeArray {
            target: "n".into(),
            weight: 1.0,
            receptor: Receptor::Excitatory,
            spikes: vec![SpikeTrainSpec {
                neuron: 0,
                times_ms: vec![5.0],
            }],
        });
        let (r, _, _) = simulate(&spec, 60, 1).unwrap();
        let got: Vec<(u64, u32)> = r.iter().map(|s| (s.step, s.neuron)).collect();
        assert_eq!(
            got,
            vec![(10, 0), (10 + delay_steps, 1)],
            "delay {delay_steps}"
        );
    }
}

#[test]
fn beta_lif_delayed_reset_matches_snntorch_leaky() {
    // snnTorch's Leaky: reset[t] = H(mem[t-1] - thr); mem[t] = beta mem[t-1] + I - reset[t] thr;
    // spike when mem[t] > thr. The recorded membrane is mem (before any reset).
    let params = LifBetaParams {
        beta: 0.875,
        threshold: 1.0,
        reset: ResetMode::SubtractDelayed,
        bias: 0.0,
    };
    let mut spec = one_population(NeuronModel::LifBeta(params), 1, 1.0);
    spec.stimuli.push(StimulusSpec::Current {
        target: "n".into(),
        amplitude: 0.4,
        start_ms: 0.0,
        stop_ms: None,
        neurons: None,
    });
    spec.recording.state = vec![TraceSpec {
        population: "n".into(),
        neurons: vec![0],
        variable: StateVar::V,
    }];
    let (r, rec, _) = simulate(&spec, 60, 1).unwrap();
    let mut mem = 0.0f32;
    let mut expect = Vec::new();
    for t in 0..60u64 {
        let reset = if mem > 1.0 { 1.0f32 } else { 0.0 };
        mem = (0.875f32 * mem + (0.0f32 + 0.4f32 + 0.0f32)) - reset;
        if mem > 1.0 {
            expect.push(t);
        }
        assert_eq!(rec.traces[0].values[t as usize], mem, "step {t}");
    }
    let got: Vec<u64> = r.iter().map(|s| s.step).collect();
    assert_eq!(got, expect);
    assert!(got.len() > 5);
}

#[test]
fn beta_lif_matches_its_recurrence() {
    for reset in [ResetMode::Subtract, ResetMode::Zero] {
        let params = LifBetaParams {
            beta: 0.8,
            threshold: 1.0,
            reset,
            bias: 0.0,
        };
        let mut spec = one_population(NeuronModel::LifBeta(params), 1, 1.0);
        spec.stimuli.push(StimulusSpec::Current {
            target: "n".into(),
            amplitude: 0.35,
            start_ms: 0.0,
            stop_ms: None,
            neurons: None,
        });
        spec.recording.state = vec![TraceSpec {
            population: "n".into(),
            neurons: vec![0],
            variable: StateVar::V,
        }];
        let (r, rec, _) = simulate(&spec, 50, 1).unwrap();
        let mut v = 0.0f32;
        let mut expect = Vec::new();
        for t in 0..50u64 {
            v = 0.8f32 * v + (0.0f32 + 0.35f32 + 0.0f32);
            if v > 1.0 {
                expect.push(t);
                v = match reset {
                    ResetMode::Subtract => v - 1.0,
                    ResetMode::Zero => 0.0,
                    ResetMode::SubtractDelayed => unreachable!(),
                };
            }
            assert_eq!(rec.traces[0].values[t as usize], v, "step {t}");
        }
        let got: Vec<u64> = r.iter().map(|s| s.step).collect();
        assert_eq!(got, expect);
        assert!(!got.is_empty());
    }
}

#[test]
fn loihi_population_matches_the_reference_step() {
    let p = LoihiLifParams {
        du: 300,
        dv: 200,
        vth_mant: 40,
        bias_mant: 3,
        bias_exp: 2,
    };
    let mut spec = one_population(NeuronModel::Input, 1, 1.0);
    spec.populations.push(PopulationSpec {
        shape: None,
        name: "l".into(),
        size: 1,
        neuron: NeuronModel::LoihiLif(p),
        v_init: None,
    });
    spec.projections.push(ProjectionSpec {
        name: None,
        source: "n".into(),
        target: "l".into(),
        connectivity: Connectivity::AllToAll,
        weight: ValueSpec::Constant(7.0),
        delay_ms: None,
        receptor: Receptor::Excitatory,
        allow_autapses: false,
        plasticity: None,
    });
    let times: Vec<f64> = (0..40).map(|i| (i * 3 % 17 + i) as f64).collect();
    spec.stimuli.push(StimulusSpec::SpikeArray {
        target: "n".into(),
        weight: 1.0,
        receptor: Receptor::Excitatory,
        spikes: vec![SpikeTrainSpec {
            neuron: 0,
            times_ms: times.clone(),
        }],
    });
    spec.recording.spikes = Some(vec!["l".into()]);
    spec.recording.state = vec![TraceSpec {
        population: "l".into(),
        neurons: vec![0],
        variable: StateVar::V,
    }];
    let (r, rec, _) = simulate(&spec, 80, 1).unwrap();
    let (mut u, mut v) = (0i32, 0i32);
    let mut expect = Vec::new();
    for t in 0..80u64 {
        // Input spikes at t arrive at t + 1 (one-step delay), each worth 7.
        let a_in = 7 * times.iter().filter(|&&x| x as u64 + 1 == t).count() as i32;
        let (u1, v1, s) = snn_core::neuron::loihi_step(&p, u, v, a_in);
        u = u1;
        v = v1;
        if s {
            expect.push(t);
        }
        assert_eq!(rec.traces[0].values[t as usize], v as f32, "step {t}");
    }
    let got: Vec<u64> = r.iter().map(|s| s.step).collect();
    assert_eq!(got, expect);
    assert!(!got.is_empty(), "the test input must make the neuron fire");
}

#[test]
fn poisson_input_fires_at_its_rate() {
    let mut spec = one_population(NeuronModel::Input, 200, 1.0);
    spec.stimuli.push(StimulusSpec::Poisson {
        target: "n".into(),
        rate_hz: 50.0,
        weight: 1.0,
        receptor: Receptor::Excitatory,
        start_ms: 0.0,
        stop_ms: None,
    });
    let (r, _, _) = simulate(&spec, 1000, 1).unwrap();
    // 200 neurons x 1 s x 50 Hz = 10000 expected; Bernoulli sd = sqrt(200000 * 0.05 * 0.95) ~ 97.
    let n = r.len() as f64;
    assert!((n - 10_000.0).abs() < 500.0, "{n} spikes");
}

#[test]
fn reset_replays_identically_and_injection_drives_inputs() {
    let mut spec = snn_core::models::cuba(300, 9);
    spec.populations.insert(
        0,
        PopulationSpec {
            shape: None,
            name: "in".into(),
            size: 10,
            neuron: NeuronModel::Input,
            v_init: None,
        },
    );
    spec.projections.push(ProjectionSpec {
        name: None,
        source: "in".into(),
        target: "exc".into(),
        connectivity: Connectivity::AllToAll,
        weight: ValueSpec::Constant(5.0),
        delay_ms: None,
        receptor: Receptor::Excitatory,
        allow_autapses: false,
        plasticity: None,
    });
    let mut net = Network::build(&spec).unwrap();
    let input = SpikeRaster::from_spikes(
        0,
        100,
        &[
            snn_types::Spike { step: 3, neuron: 4 },
            snn_types::Spike {
                step: 50,
                neuron: 9,
            },
        ],
    );
    net.inject_input(0, &input).unwrap();
    let mut a = SpikeRaster::new(0);
    net.run(200, &mut a);
    assert_eq!(a.at(3).first(), Some(&4));
    assert_eq!(a.at(50).first(), Some(&9));
    net.reset();
    net.inject_input(0, &input).unwrap();
    let mut b = SpikeRaster::new(0);
    net.run(200, &mut b);
    assert_eq!(a, b);
    assert!(
        net.inject_input(1, &input).is_err(),
        "a LIF population is not an input population"
    );
}

/// `lif_exp` holds `V` at `V_reset` for exactly `t_ref / dt` steps after the step of a spike
/// (NEST's refractory count), then integrates again; checked spike by spike on a trace, with a
/// second run split into segments (the refractory state carries across `run` calls).
#[test]
fn lif_exp_refractory_period_is_exact_to_the_step() {
    let p = LifExpParams {
        i_e_pa: 2000.0,
        t_ref_ms: 2.0,
        ..Default::default()
    };
    let dt = 0.1;
    let ref_steps = 20u64;
    let mut spec = one_population(NeuronModel::LifExp(p), 1, dt);
    spec.recording.state = vec![TraceSpec {
        population: "n".into(),
        neurons: vec![0],
        variable: StateVar::V,
    }];
    let steps = 400;
    let (r, rec, _) = simulate(&spec, steps, 1).unwrap();
    let v = &rec.traces[0].values;
    let spikes: Vec<u64> = r.iter().map(|s| s.step).collect();
    assert!(spikes.len() >= 4, "{} spikes", spikes.len());
    let reset = p.v_reset_mv as f32;
    for &s in &spikes {
        for k in 0..=ref_steps {
            let t = (s + k) as usize;
            if t < v.len() {
                assert_eq!(
                    v[t], reset,
                    "step {t}: held at reset ({k} after the spike at {s})"
                );
            }
        }
        let t = (s + ref_steps + 1) as usize;
        if t < v.len() {
            assert!(
                v[t] > reset,
                "step {t}: integrates again after {ref_steps} steps"
            );
        }
    }
    // The same spikes when the run is cut into pieces mid-refractory.
    let mut net = Network::build(&spec).unwrap();
    let mut pieces = SpikeRaster::new(0);
    for n in [7, 13, 1, 150, 229] {
        net.run(n, &mut pieces);
    }
    assert_eq!(pieces.iter().map(|s| s.step).collect::<Vec<_>>(), spikes);
}
