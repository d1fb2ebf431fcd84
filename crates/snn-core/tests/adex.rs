//! The `adex` model (NEST `aeif_cond_exp`): against an independent fine-step RK4 reference, the
//! firing patterns of Naud et al. (2008), conductance synapses, robustness to absurd input,
//! validation and thread-count identity.

use snn_core::{Network, NetworkMemory, simulate};
use snn_types::{
    AdexParams, Connectivity, Distribution, NetworkSpec, NeuronModel, PopulationSpec,
    ProjectionSpec, Receptor, RecordingSpec, SpikeRaster, SpikeTrainSpec, StateVar, StimulusSpec,
    TraceSpec, ValueSpec,
};

fn one_population(p: AdexParams, size: u32, dt_ms: f64) -> NetworkSpec {
    NetworkSpec {
        name: None,
        dt_ms,
        duration_ms: None,
        seed: 5,
        populations: vec![PopulationSpec {
            shape: None,
            name: "n".into(),
            size,
            neuron: NeuronModel::Adex(p),
            v_init: None,
        }],
        projections: vec![],
        stimuli: vec![],
        recording: RecordingSpec::default(),
        readout: None,
    }
}

/// Naud et al. (2008) parameter sets as in Brian2's `Naud_et_al_2008_adex_firing_patterns`
/// example (spike cut at 0 mV, no refractory period), with their step current (pA).
#[allow(clippy::too_many_arguments)]
fn naud(c: f64, gl: f64, el: f64, a: f64, tw: f64, b: f64, vr: f64, i: f64) -> (AdexParams, f64) {
    (
        AdexParams {
            c_m_pf: c,
            g_l_ns: gl,
            e_l_mv: el,
            v_th_mv: -50.0,
            delta_t_mv: 2.0,
            tau_w_ms: tw,
            a_ns: a,
            b_pa: b,
            v_reset_mv: vr,
            v_peak_mv: 0.0,
            t_ref_ms: 0.0,
            ..Default::default()
        },
        i,
    )
}

fn tonic() -> (AdexParams, f64) {
    naud(200.0, 10.0, -70.0, 2.0, 30.0, 0.0, -58.0, 500.0)
}
fn adapting() -> (AdexParams, f64) {
    naud(200.0, 12.0, -70.0, 2.0, 300.0, 60.0, -58.0, 500.0)
}
fn initial_burst() -> (AdexParams, f64) {
    naud(130.0, 18.0, -58.0, 4.0, 150.0, 120.0, -50.0, 400.0)
}
fn bursting() -> (AdexParams, f64) {
    naud(200.0, 10.0, -58.0, 2.0, 120.0, 100.0, -46.0, 210.0)
}

/// Spike times (ms, end of the firing step) of neuron 0 under a current `i` (pA) switched on at
/// `on_ms`.
fn engine_spikes(p: AdexParams, i: f64, on_ms: f64, dt: f64, t_ms: f64) -> Vec<f64> {
    let mut spec = one_population(p, 1, dt);
    spec.stimuli.push(StimulusSpec::Current {
        target: "n".into(),
        amplitude: i,
        start_ms: on_ms,
        stop_ms: None,
        neurons: None,
    });
    let (r, _, _) = simulate(&spec, (t_ms / dt).round() as u64, 1).unwrap();
    r.iter()
        .filter(|s| s.neuron == 0)
        .map(|s| (s.step + 1) as f64 * dt)
        .collect()
}

/// Independent reference: classic RK4 at step `h` of all four variables (conductances as ODEs),
/// `V` taken as `min(V, V_peak)` on the right-hand side as NEST does, reset at `V >= V_peak`,
/// `t_ref = 0`. `kicks` are `(time ms, g_ex nS, g_in nS)` added at those times.
fn reference_spikes(
    p: AdexParams,
    i: f64,
    on_ms: f64,
    h: f64,
    t_ms: f64,
    kicks: &[(f64, f64, f64)],
) -> Vec<f64> {
    let f = |y: [f64; 4], cur: f64| {
        let [v, w, ge, gi] = y;
        let v = v.min(p.v_peak_mv);
        let ex = p.g_l_ns * p.delta_t_mv * ((v - p.v_th_mv) / p.delta_t_mv).exp();
        [
            (-p.g_l_ns * (v - p.e_l_mv) + ex - ge * (v - p.e_ex_mv) - gi * (v - p.e_in_mv) - w
                + cur)
                / p.c_m_pf,
            (p.a_ns * (v - p.e_l_mv) - w) / p.tau_w_ms,
            -ge / p.tau_syn_ex_ms,
            -gi / p.tau_syn_in_ms,
        ]
    };
    let add = |y: [f64; 4], k: [f64; 4], s: f64| std::array::from_fn(|j| y[j] + s * k[j]);
    let mut y = [p.e_l_mv, 0.0, 0.0, 0.0];
    let n = (t_ms / h).round() as u64;
    let mut out = Vec::new();
    let mut next = 0;
    for s in 0..n {
        let t = s as f64 * h;
        while next < kicks.len() && kicks[next].0 <= t + 1e-9 {
            y[2] += kicks[next].1;
            y[3] += kicks[next].2;
            next += 1;
        }
        let cur = p.i_e_pa + if t >= on_ms - 1e-9 { i } else { 0.0 };
        let k1 = f(y, cur);
        let k2 = f(add(y, k1, h / 2.0), cur);
        let k3 = f(add(y, k2, h / 2.0), cur);
        let k4 = f(add(y, k3, h), cur);
        y = std::array::from_fn(|j| y[j] + h / 6.0 * (k1[j] + 2.0 * k2[j] + 2.0 * k3[j] + k4[j]));
        if y[0] >= p.v_peak_mv {
            out.push((s + 1) as f64 * h);
            y[0] = p.v_reset_mv;
            y[1] += p.b_pa;
        }
    }
    out
}

fn isis(t: &[f64]) -> Vec<f64> {
    t.windows(2).map(|w| w[1] - w[0]).collect()
}

/// The accuracy bound. The engine reports a spike at the end of its step (up to `dt` late) and
/// resets at the end of the substep `h` (0.025 ms) in which `V` crossed `V_peak` (up to `h`
/// late, accumulating over a train): every ISI within `dt + 3 h` of the reference's (`dt + h`
/// suffices under a constant current; conductance kicks at fixed times need more), and the k-th
/// spike (from 0) within `dt + (k + 1) h`.
fn check_bound(name: &str, dt: f64, e: &[f64], r: &[f64]) {
    let h = 0.025 + 1e-9;
    for (k, (a, b)) in e.iter().zip(r).enumerate() {
        let bound = dt + (k + 1) as f64 * h;
        assert!(
            (a - b).abs() <= bound,
            "{name} dt {dt}: spike {k} {a} vs {b}"
        );
    }
    for (a, b) in isis(e).iter().zip(isis(r)) {
        assert!(
            (a - b).abs() <= dt + 3.0 * h,
            "{name} dt {dt}: ISI {a} vs {b}"
        );
    }
}

/// Worst `|engine - reference|` over matched spikes, after checking the counts.
fn worst(name: &str, e: &[f64], r: &[f64]) -> f64 {
    assert!(r.len() >= 5, "{name}: reference fired {}", r.len());
    assert_eq!(e.len(), r.len(), "{name}: {e:?} vs {r:?}");
    e.iter()
        .zip(r)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max)
}

#[test]
fn spike_times_match_a_fine_step_rk4_reference() {
    // 500 ms of each pattern and of NEST's defaults at 800 pA, against RK4 at 0.001 ms.
    let cases = [
        ("nest defaults", (AdexParams::default(), 800.0)),
        ("tonic", tonic()),
        ("adapting", adapting()),
        ("initial burst", initial_burst()),
        ("bursting", bursting()),
    ];
    for dt in [0.1, 0.05] {
        for (name, (p, i)) in cases {
            let e = engine_spikes(p, i, 0.0, dt, 500.0);
            let r = reference_spikes(p, i, 0.0, 0.001, 500.0, &[]);
            let w = worst(name, &e, &r);
            eprintln!("{name} dt {dt}: {} spikes, worst {w:.3} ms", e.len());
            check_bound(name, dt, &e, &r);
        }
    }
}

#[test]
fn conductance_inputs_match_the_reference() {
    // Excitatory kicks every 2 ms drive the default neuron; an inhibitory train from 100 ms
    // slows it. Arrivals at step s enter the conductance at the end of that step.
    let dt = 0.1;
    let ex: Vec<f64> = (0..250).map(|k| k as f64 * 2.0).collect();
    let inh: Vec<f64> = (0..40).map(|k| 100.0 + k as f64 * 5.0).collect();
    let p = AdexParams {
        i_e_pa: 800.0,
        ..Default::default()
    };
    let mut spec = one_population(p, 1, dt);
    for (times, w, receptor) in [
        (&ex, 30.0, Receptor::Excitatory),
        (&inh, -20.0, Receptor::Inhibitory),
    ] {
        spec.stimuli.push(StimulusSpec::SpikeArray {
            target: "n".into(),
            weight: w,
            receptor,
            spikes: vec![SpikeTrainSpec {
                neuron: 0,
                times_ms: times.clone(),
            }],
        });
    }
    let (r, _, _) = simulate(&spec, 5000, 1).unwrap();
    let e: Vec<f64> = r.iter().map(|s| (s.step + 1) as f64 * dt).collect();
    let mut kicks: Vec<(f64, f64, f64)> = ex.iter().map(|&t| (t + dt, 30.0, 0.0)).collect();
    kicks.extend(inh.iter().map(|&t| (t + dt, 0.0, 20.0)));
    kicks.sort_by(|a, b| a.0.total_cmp(&b.0));
    let reference = reference_spikes(p, 0.0, 0.0, 0.001, 500.0, &kicks);
    let w = worst("conductance", &e, &reference);
    eprintln!("conductance inputs: {} spikes, worst {w:.3} ms", e.len());
    check_bound("conductance", dt, &e, &reference);
    // Inhibition lowers the rate.
    let before = e.iter().filter(|&&t| t < 100.0).count();
    let during = e.iter().filter(|&&t| (100.0..200.0).contains(&t)).count();
    assert!(
        during < before,
        "{before} before, {during} during inhibition"
    );
}

#[test]
fn naud_2008_firing_patterns() {
    // Step current at 50 ms, 600 ms in all, dt = 0.1 ms.
    let run = |(p, i): (AdexParams, f64)| isis(&engine_spikes(p, i, 50.0, 0.1, 650.0));
    let tonic = run(tonic());
    let adapting = run(adapting());
    let initial = run(initial_burst());
    let bursting = run(bursting());
    for (name, isi) in [
        ("tonic", &tonic),
        ("adapting", &adapting),
        ("initial burst", &initial),
        ("bursting", &bursting),
    ] {
        eprintln!(
            "{name}: {} ISIs {:?}",
            isi.len(),
            isi.iter()
                .take(16)
                .map(|x| (x * 10.0).round() / 10.0)
                .collect::<Vec<_>>()
        );
    }
    // Tonic: regular from the start: every ISI within 10% of the last.
    let last = *tonic.last().unwrap();
    assert!(tonic.len() >= 10, "tonic {tonic:?}");
    assert!(
        tonic.iter().all(|&x| (x - last).abs() <= 0.1 * last),
        "tonic {tonic:?}"
    );
    // Adapting: ISIs never shrink by more than a step and the last is at least 3x the first.
    assert!(
        adapting.windows(2).all(|w| w[1] >= w[0] - 0.1),
        "adapting {adapting:?}"
    );
    assert!(
        *adapting.last().unwrap() >= 3.0 * adapting[0],
        "adapting {adapting:?}"
    );
    // Initial burst: at least 2 ISIs under 10 ms first, then only ISIs over 3x the burst's
    // longest.
    let burst = initial.iter().take_while(|&&x| x < 10.0).count();
    let longest = initial[..burst].iter().fold(0.0f64, |a, &b| a.max(b));
    assert!(burst >= 2, "initial burst {initial:?}");
    assert!(
        initial.len() > burst + 3 && initial[burst..].iter().all(|&x| x > 3.0 * longest),
        "initial burst {initial:?}"
    );
    // Regular bursting: at least 4 bursts (a long ISI over 3x the next one, which is under
    // 15 ms).
    let bursts = bursting
        .windows(2)
        .filter(|w| w[1] < 15.0 && w[0] > 3.0 * w[1])
        .count();
    assert!(bursts >= 4, "bursting {bursting:?}");
}

/// The largest currents and weights validation accepts (and a `v_init` of -1e300) keep the
/// state finite; beyond them (`1e300` pA, weights of `3e38`) the spec is refused, naming each
/// field.
#[test]
fn absurd_input_keeps_the_state_finite() {
    let (cur, w_max) = (snn_types::MAX_CURRENT_PA, snn_types::MAX_WEIGHT);
    for (i_e, amplitude, w, valid) in [
        (1e300, -3e38, 3e38, false),
        (cur, -cur, w_max, true),
        (-cur, cur, w_max, true),
        (1e9, -cur, w_max, true),
    ] {
        let mut spec = one_population(
            AdexParams {
                i_e_pa: i_e,
                t_ref_ms: 1.0,
                ..Default::default()
            },
            2,
            0.1,
        );
        spec.populations[0].v_init = Some(ValueSpec::Constant(-1e300));
        spec.stimuli.push(StimulusSpec::Current {
            target: "n".into(),
            amplitude,
            start_ms: 1.0,
            stop_ms: None,
            neurons: Some(vec![1]),
        });
        for (receptor, w) in [(Receptor::Excitatory, w), (Receptor::Inhibitory, -w)] {
            spec.stimuli.push(StimulusSpec::SpikeArray {
                target: "n".into(),
                weight: w,
                receptor,
                spikes: vec![SpikeTrainSpec {
                    neuron: 0,
                    times_ms: vec![2.0, 2.0, 3.0],
                }],
            });
        }
        for var in [StateVar::V, StateVar::U] {
            spec.recording.state.push(TraceSpec {
                population: "n".into(),
                neurons: vec![0, 1],
                variable: var,
            });
        }
        if !valid {
            let e = Network::build(&spec).unwrap_err().to_string();
            for field in ["i_e_pa", "stimuli[0].amplitude", "stimuli[1].weight"] {
                assert!(e.contains(field), "{field}: {e}");
            }
            continue;
        }
        let mut net = Network::build(&spec).unwrap();
        let mut r = SpikeRaster::new(0);
        net.run(300, &mut r);
        assert!(net.membrane(0).iter().all(|x| x.is_finite()), "i_e {i_e}");
        for t in &net.take_recordings().traces {
            assert!(t.values.iter().all(|x| x.is_finite()), "i_e {i_e}: {t:?}");
        }
    }
}

#[test]
fn refractory_period_holds_v_at_reset() {
    let p = AdexParams {
        t_ref_ms: 2.0,
        ..Default::default()
    };
    let mut spec = one_population(p, 1, 0.1);
    spec.stimuli.push(StimulusSpec::Current {
        target: "n".into(),
        amplitude: 2000.0,
        start_ms: 0.0,
        stop_ms: None,
        neurons: None,
    });
    spec.recording.state.push(TraceSpec {
        population: "n".into(),
        neurons: vec![0],
        variable: StateVar::V,
    });
    let (r, rec, _) = simulate(&spec, 1000, 1).unwrap();
    let v = &rec.traces[0].values;
    let steps: Vec<u64> = r.iter().map(|s| s.step).collect();
    assert!(steps.len() >= 3, "{steps:?}");
    for &s in &steps {
        // Held at V_reset for the 20 steps after the firing step, free on the 21st.
        for t in s..=s + 20 {
            assert_eq!(v[t as usize], -70.6, "step {t} after a spike at {s}");
        }
        assert!(v[s as usize + 21] > -70.6);
    }
    assert!(steps.windows(2).all(|w| w[1] - w[0] > 20), "{steps:?}");
}

#[test]
fn bad_parameters_name_the_field() {
    let spec = |neuron: &str, extra: &str| {
        format!(
            "dt_ms = 0.1\n[[populations]]\nname = \"n\"\nsize = 1\nneuron = {{ model = \"adex\", {neuron} }}\n{extra}"
        )
    };
    let cases = [
        (
            spec("delta_t_mv = 0.0", ""),
            "populations[0].neuron.delta_t_mv: must be > 0, got 0",
        ),
        (
            spec("c_m_pf = -1.0", ""),
            "populations[0].neuron.c_m_pf: must be > 0",
        ),
        (
            spec("g_l_ns = 0.0", ""),
            "populations[0].neuron.g_l_ns: must be > 0",
        ),
        (
            spec("tau_w_ms = 0.0", ""),
            "populations[0].neuron.tau_w_ms: must be > 0",
        ),
        (
            spec("v_reset_mv = 5.0", ""),
            "populations[0].neuron.v_reset_mv: must be below v_peak_mv",
        ),
        (
            spec("b_pa = inf", ""),
            "populations[0].neuron.b_pa: must be a finite number",
        ),
        (spec("tau_m_ms = 10.0", ""), "unknown field `tau_m_ms`"),
        (
            spec(
                "a_ns = 4.0",
                "[[recording.state]]\npopulation = \"n\"\nneurons = [0]\nvariable = \"i_syn_in\"\n",
            ),
            "an adex neuron has no `i_syn_in`; it has `v`, `u`",
        ),
    ];
    for (text, expect) in cases {
        let err = match NetworkSpec::from_toml_str(&text) {
            Err(e) => e.to_string(),
            Ok(s) => s.validate().unwrap_err().to_string(),
        };
        assert!(err.contains(expect), "expected '{expect}' in: {err}");
    }
    let s = NetworkSpec::from_toml_str(&spec("i_e_pa = 1.0", "")).unwrap();
    assert_eq!(
        s.populations[0].neuron,
        NeuronModel::Adex(AdexParams {
            i_e_pa: 1.0,
            ..Default::default()
        })
    );
    assert_eq!(s.populations[0].neuron.resting_v(), -70.6);
}

#[test]
fn memory_estimate_counts_40_bytes_per_neuron() {
    let adex = one_population(AdexParams::default(), 1000, 0.1);
    let mut lif = adex.clone();
    lif.populations[0].neuron = NeuronModel::LoihiLif(Default::default());
    let a = NetworkMemory::estimate(&adex, 1).populations[0].bytes;
    let b = NetworkMemory::estimate(&lif, 1).populations[0].bytes;
    assert_eq!(a - b, 1000 * 32, "{a} vs {b}");
}

/// A small random E/I network of AdEx neurons with Poisson drive.
fn random_network() -> NetworkSpec {
    let mut spec = one_population(AdexParams::default(), 0, 0.1);
    spec.populations.clear();
    for (name, size, p) in [("e", 80, adapting().0), ("i", 20, AdexParams::default())] {
        spec.populations.push(PopulationSpec {
            shape: None,
            name: name.into(),
            size,
            neuron: NeuronModel::Adex(p),
            v_init: Some(ValueSpec::Random(Distribution::Uniform {
                low: -70.0,
                high: -55.0,
            })),
        });
        spec.stimuli.push(StimulusSpec::Poisson {
            target: name.into(),
            rate_hz: 2000.0,
            weight: 20.0,
            receptor: Receptor::Excitatory,
            start_ms: 0.0,
            stop_ms: None,
        });
        spec.recording.state.push(TraceSpec {
            population: name.into(),
            neurons: vec![0, size - 1],
            variable: StateVar::U,
        });
    }
    for (s, t, w, receptor) in [
        ("e", "e", 1.0, Receptor::Excitatory),
        ("e", "i", 2.0, Receptor::Excitatory),
        ("i", "e", 4.0, Receptor::Inhibitory),
        ("i", "i", 4.0, Receptor::Inhibitory),
    ] {
        spec.projections.push(ProjectionSpec {
            name: None,
            source: s.into(),
            target: t.into(),
            connectivity: Connectivity::FixedProbability { p: 0.1 },
            weight: ValueSpec::Random(Distribution::Normal { mean: w, std: 0.5 }),
            delay_ms: Some(ValueSpec::Constant(1.0)),
            receptor,
            allow_autapses: false,
            plasticity: None,
        });
    }
    spec
}

#[test]
fn raster_and_traces_are_identical_for_1_2_and_3_threads() {
    let spec = random_network();
    let (r1, rec1, _) = simulate(&spec, 3000, 1).unwrap();
    assert!(r1.len() > 300, "{} spikes", r1.len());
    for threads in [2, 3] {
        let (r, rec, _) = simulate(&spec, 3000, threads).unwrap();
        assert_eq!(r, r1, "{threads} threads");
        assert_eq!(rec, rec1, "{threads} threads");
    }
}
