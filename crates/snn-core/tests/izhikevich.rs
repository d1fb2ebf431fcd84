//! The `izhikevich` model: against an independent fine-step RK4 reference, the five published
//! firing patterns of Izhikevich (2003), delta synapses, robustness to absurd input, validation
//! and thread-count identity.

use snn_core::{Network, NetworkMemory, simulate};
use snn_types::{
    Connectivity, Distribution, IzhikevichParams, NetworkSpec, NeuronModel, PopulationSpec,
    ProjectionSpec, Receptor, RecordingSpec, SpikeRaster, SpikeTrainSpec, StateVar, StimulusSpec,
    TraceSpec, ValueSpec,
};

fn one_population(p: IzhikevichParams, size: u32, dt_ms: f64) -> NetworkSpec {
    NetworkSpec {
        name: None,
        dt_ms,
        duration_ms: None,
        seed: 3,
        populations: vec![PopulationSpec {
            shape: None,
            name: "n".into(),
            size,
            neuron: NeuronModel::Izhikevich(p),
            v_init: None,
        }],
        projections: vec![],
        stimuli: vec![],
        recording: RecordingSpec::default(),
        readout: None,
    }
}

fn params(a: f64, b: f64, c: f64, d: f64) -> IzhikevichParams {
    IzhikevichParams {
        a,
        b,
        c_mv: c,
        d,
        ..Default::default()
    }
}

/// The five parameter sets of Izhikevich (2003), Fig. 2.
fn published() -> [(&'static str, IzhikevichParams); 5] {
    [
        ("RS", params(0.02, 0.2, -65.0, 8.0)),
        ("IB", params(0.02, 0.2, -55.0, 4.0)),
        ("CH", params(0.02, 0.2, -50.0, 2.0)),
        ("FS", params(0.1, 0.2, -65.0, 2.0)),
        ("LTS", params(0.02, 0.25, -65.0, 2.0)),
    ]
}

/// Spike times (ms, end of the step in which the neuron fired) of neuron 0 under a constant
/// current `i` switched on at `on_ms`, from the engine at `dt`.
fn engine_spikes(p: IzhikevichParams, i: f64, on_ms: f64, dt: f64, t_ms: f64) -> Vec<f64> {
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

/// Independent reference: classic RK4 at step `h` (no clamping), reset at `v >= v_peak`.
fn reference_spikes(p: IzhikevichParams, i: f64, on_ms: f64, h: f64, t_ms: f64) -> Vec<f64> {
    let (mut v, mut u) = (p.c_mv, p.b * p.c_mv);
    let f = |v: f64, u: f64, i: f64| (0.04 * v * v + 5.0 * v + 140.0 - u + i, p.a * (p.b * v - u));
    let n = (t_ms / h).round() as u64;
    let mut out = Vec::new();
    for s in 0..n {
        let cur = if s as f64 * h >= on_ms - 1e-9 { i } else { 0.0 };
        let (a1, b1) = f(v, u, cur);
        let (a2, b2) = f(v + h / 2.0 * a1, u + h / 2.0 * b1, cur);
        let (a3, b3) = f(v + h / 2.0 * a2, u + h / 2.0 * b2, cur);
        let (a4, b4) = f(v + h * a3, u + h * b3, cur);
        v += h / 6.0 * (a1 + 2.0 * a2 + 2.0 * a3 + a4);
        u += h / 6.0 * (b1 + 2.0 * b2 + 2.0 * b3 + b4);
        if v >= p.v_peak_mv {
            out.push((s + 1) as f64 * h);
            v = p.c_mv;
            u += p.d;
        }
    }
    out
}

fn isis(t: &[f64]) -> Vec<f64> {
    t.windows(2).map(|w| w[1] - w[0]).collect()
}

#[test]
fn spike_times_match_a_fine_step_rk4_reference() {
    // 500 ms at I = 10 against RK4 at dt/100. The engine resets at the end of the step in which
    // v crosses v_peak, not at the crossing, so its ISIs are whole steps and each can be up to a
    // few steps off the reference; the offsets accumulate over a train. Bounds (observed worst in
    // brackets): first spike within one step (0.72 dt); spike count within 1 (FS and LTS lose
    // one at dt = 0.1); every ISI within 4 steps (3.4 dt); the k-th spike within
    // 2.5% of its time plus 1 ms (1.8%, LTS at dt = 0.1).
    for dt in [0.1, 0.05, 0.025] {
        for (name, p) in published() {
            let e = engine_spikes(p, 10.0, 0.0, dt, 500.0);
            let r = reference_spikes(p, 10.0, 0.0, dt / 100.0, 500.0);
            assert!(r.len() >= 10, "{name}: reference fired {}", r.len());
            assert!(
                e.len().abs_diff(r.len()) <= 1,
                "{name} dt {dt}: {e:?} vs {r:?}"
            );
            assert!(
                (e[0] - r[0]).abs() <= dt,
                "{name} dt {dt}: {} vs {}",
                e[0],
                r[0]
            );
            for (k, (a, b)) in e.iter().zip(&r).enumerate() {
                let bound = 0.025 * b + 1.0;
                assert!(
                    (a - b).abs() <= bound,
                    "{name} dt {dt}: spike {k} {a} vs {b}"
                );
            }
            let worst_isi = isis(&e)
                .iter()
                .zip(isis(&r))
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            assert!(worst_isi <= 4.0 * dt, "{name} dt {dt}: ISI {worst_isi} ms");
        }
    }
}

#[test]
fn published_parameter_sets_show_their_firing_patterns() {
    // Fig. 2 of Izhikevich (2003): a step of I = 10 at 50 ms, 1 s of simulation, dt = 0.1 ms.
    let pattern = |p| {
        let t = engine_spikes(p, 10.0, 50.0, 0.1, 1050.0);
        (t.len(), isis(&t))
    };
    for (name, p) in published() {
        let (n, isi) = pattern(p);
        eprintln!("{name}: {n} spikes, ISIs {:?}", &isi[..isi.len().min(14)]);
    }
    // RS: tonic with adaptation: no ISI under 10 ms, the last ISI at least 1.5x the first.
    let (_, isi) = pattern(published()[0].1);
    let (first, last) = (isi[0], *isi.last().unwrap());
    assert!(isi.iter().all(|&x| x > 10.0), "RS {isi:?}");
    assert!(last >= 1.5 * first, "RS {first} -> {last}");
    // IB: an initial burst (>= 2 ISIs under 10 ms), then tonic: every later ISI over 20 ms.
    let (_, isi) = pattern(published()[1].1);
    let burst = isi.iter().take_while(|&&x| x < 10.0).count();
    assert!(burst >= 2, "IB {isi:?}");
    assert!(isi[burst..].iter().all(|&x| x > 20.0), "IB {isi:?}");
    assert!(isi.len() - burst >= 5, "IB {isi:?}");
    // CH: repeated bursts: at least 5 bursts (a long ISI over 20 ms followed by an ISI under
    // 10 ms), and short ISIs are at least half of all.
    let (_, isi) = pattern(published()[2].1);
    let bursts = isi
        .windows(2)
        .filter(|w| w[0] > 20.0 && w[1] < 10.0)
        .count();
    let short = isi.iter().filter(|&&x| x < 10.0).count();
    assert!(bursts >= 5, "CH {isi:?}");
    assert!(2 * short >= isi.len(), "CH {isi:?}");
    // FS: high-rate tonic without (lasting) adaptation: over 100 Hz, and from the fourth ISI on
    // (after a transient of under 20 ms) every ISI within 5% of the last.
    let (n, isi) = pattern(published()[3].1);
    let last = *isi.last().unwrap();
    assert!(n > 100, "FS {n} spikes");
    assert!(isi[..3].iter().sum::<f64>() < 20.0, "FS {isi:?}");
    assert!(
        isi[3..].iter().all(|&x| (x - last).abs() <= 0.05 * last),
        "FS {isi:?}"
    );
    // LTS: high rate with strong adaptation: over 50 Hz and twice the RS rate, the last ISI at
    // least 3x the first.
    let (n, isi) = pattern(published()[4].1);
    let (first, last) = (isi[0], *isi.last().unwrap());
    let (n_rs, _) = pattern(published()[0].1);
    assert!(n > 50 && n > 2 * n_rs, "LTS {n} spikes (RS {n_rs})");
    assert!(last >= 3.0 * first, "LTS {first} -> {last}");
}

/// Membrane trace of neuron 0 over `steps`, with an optional spike of weight `w` at 5 ms.
fn v_trace(w: Option<f64>, var: StateVar, steps: u64) -> Vec<f32> {
    let mut spec = one_population(IzhikevichParams::default(), 1, 0.1);
    if let Some(w) = w {
        spec.stimuli.push(StimulusSpec::SpikeArray {
            target: "n".into(),
            weight: w,
            receptor: Receptor::Inhibitory,
            spikes: vec![SpikeTrainSpec {
                neuron: 0,
                times_ms: vec![5.0],
            }],
        });
    }
    spec.recording.state.push(TraceSpec {
        population: "n".into(),
        neurons: vec![0],
        variable: var,
    });
    let (_, rec, _) = simulate(&spec, steps, 1).unwrap();
    rec.traces[0].values.clone()
}

#[test]
fn an_arriving_weight_is_a_jump_of_that_many_mv() {
    let base = v_trace(None, StateVar::V, 100);
    let hit = v_trace(Some(-3.0), StateVar::V, 100);
    // Identical before the arrival step (50), 3 mV lower at it (the sign of the weight counts,
    // not the receptor).
    assert_eq!(base[..50], hit[..50]);
    assert!(
        ((base[50] - hit[50]) - 3.0).abs() < 1e-4,
        "{} {}",
        base[50],
        hit[50]
    );
    // u is recorded and starts at b v = 0.2 * -65.
    let u = v_trace(None, StateVar::U, 2);
    assert!((u[0] + 13.0).abs() < 0.01, "{u:?}");
}

/// The largest currents validation accepts (and a `v_init` of -1e300) keep the state finite;
/// beyond them (`1e300`, `3e38`) the spec is refused, naming each field.
#[test]
fn absurd_input_keeps_the_state_finite() {
    let cur = snn_types::MAX_CURRENT_PA;
    for (i_e, amplitude, valid) in [
        (1e300, 3e38, false),
        (cur, cur, true),
        (-cur, cur, true),
        (-1e9, -cur, true),
    ] {
        let mut spec = one_population(
            IzhikevichParams {
                i_e,
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
        for var in [StateVar::V, StateVar::U] {
            spec.recording.state.push(TraceSpec {
                population: "n".into(),
                neurons: vec![0, 1],
                variable: var,
            });
        }
        if !valid {
            let e = Network::build(&spec).unwrap_err().to_string();
            for field in ["i_e", "stimuli[0].amplitude"] {
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
fn bad_parameters_name_the_field() {
    let spec = |neuron: &str, extra: &str| {
        format!(
            "dt_ms = 0.1\n[[populations]]\nname = \"n\"\nsize = 1\nneuron = {{ model = \"izhikevich\", {neuron} }}\n{extra}"
        )
    };
    let cases = [
        (
            spec("c_mv = 40.0", ""),
            "populations[0].neuron.c_mv: must be below v_peak_mv",
        ),
        (
            spec("a = -0.1", ""),
            "populations[0].neuron.a: must be in [0, 1e6]",
        ),
        (
            spec("b = 1e9", ""),
            "populations[0].neuron.b: must be in [-1000000, 1e6]",
        ),
        (
            spec("d = inf", ""),
            "populations[0].neuron.d: must be a finite number",
        ),
        (
            spec("i_e = nan", ""),
            "populations[0].neuron.i_e: must be a finite number",
        ),
        (spec("tau_m_ms = 10.0", ""), "unknown field `tau_m_ms`"),
        (
            spec(
                "a = 0.02",
                "[[recording.state]]\npopulation = \"n\"\nneurons = [0]\nvariable = \"i_syn_ex\"\n",
            ),
            "an izhikevich neuron has no `i_syn_ex`; it has `v`, `u`",
        ),
    ];
    for (text, expect) in cases {
        let err = match NetworkSpec::from_toml_str(&text) {
            Err(e) => e.to_string(),
            Ok(s) => s.validate().unwrap_err().to_string(),
        };
        assert!(err.contains(expect), "expected '{expect}' in: {err}");
    }
    // Defaults are the regular-spiking cell with NEST-like naming.
    let s = NetworkSpec::from_toml_str(&spec("i_e = 1.0", "")).unwrap();
    assert_eq!(
        s.populations[0].neuron,
        NeuronModel::Izhikevich(IzhikevichParams {
            i_e: 1.0,
            ..Default::default()
        })
    );
    assert_eq!(s.populations[0].neuron.resting_v(), -65.0);
}

#[test]
fn memory_estimate_counts_16_bytes_per_neuron() {
    let izh = one_population(IzhikevichParams::default(), 1000, 0.1);
    let mut lif = izh.clone();
    lif.populations[0].neuron = NeuronModel::LoihiLif(Default::default());
    let a = NetworkMemory::estimate(&izh, 1).populations[0].bytes;
    let b = NetworkMemory::estimate(&lif, 1).populations[0].bytes;
    assert_eq!(a - b, 1000 * 8, "{a} vs {b}");
}

/// A small random recurrent network of each published cell type, driven by Poisson input.
fn random_network() -> NetworkSpec {
    let mut spec = one_population(IzhikevichParams::default(), 0, 0.1);
    spec.populations.clear();
    for (name, p) in published() {
        spec.populations.push(PopulationSpec {
            shape: None,
            name: name.into(),
            size: 40,
            neuron: NeuronModel::Izhikevich(IzhikevichParams { i_e: 3.0, ..p }),
            v_init: Some(ValueSpec::Random(Distribution::Uniform {
                low: -70.0,
                high: -50.0,
            })),
        });
        spec.stimuli.push(StimulusSpec::Poisson {
            target: name.into(),
            rate_hz: 800.0,
            weight: 2.0,
            receptor: Receptor::Excitatory,
            start_ms: 0.0,
            stop_ms: None,
        });
        spec.recording.state.push(TraceSpec {
            population: name.into(),
            neurons: vec![0, 39],
            variable: StateVar::U,
        });
    }
    for (s, t, w) in [
        ("RS", "FS", 1.5),
        ("FS", "RS", -2.0),
        ("CH", "IB", 1.0),
        ("LTS", "RS", -1.0),
        ("IB", "CH", 0.5),
    ] {
        spec.projections.push(ProjectionSpec {
            name: None,
            source: s.into(),
            target: t.into(),
            connectivity: Connectivity::FixedProbability { p: 0.2 },
            weight: ValueSpec::Random(Distribution::Normal { mean: w, std: 0.3 }),
            delay_ms: Some(ValueSpec::Constant(1.0)),
            receptor: if w < 0.0 {
                Receptor::Inhibitory
            } else {
                Receptor::Excitatory
            },
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
    assert!(r1.len() > 500, "{} spikes", r1.len());
    for threads in [2, 3] {
        let (r, rec, _) = simulate(&spec, 3000, threads).unwrap();
        assert_eq!(r, r1, "{threads} threads");
        assert_eq!(rec, rec1, "{threads} threads");
    }
}
