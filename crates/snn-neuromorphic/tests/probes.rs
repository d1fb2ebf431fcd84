//! State probes: the chip's `u` and `v` per step equal a hand-computed Loihi LIF trajectory and
//! the engine's `loihi_lif` state for the same (quantised) network; bad probes are clear errors.

use snn_neuromorphic::probe::{ProbeError, ProbeSpec, resolve_probes};
use snn_neuromorphic::{ArchSpec, Chip, NocMode, RunOptions, compile};
use snn_types::{NetworkSpec, StateVar, TraceSpec};

/// One input spike at step 0 into `out` (2 neurons), weight 10 with delay 1, `du = 2048`
/// (u keeps 2047/4096 each step), `dv = 0` (no leak), a threshold no input reaches; and a
/// second, leaky population `b` driven by a bias.
fn net() -> NetworkSpec {
    NetworkSpec::from_toml_str(
        r#"
        dt_ms = 1.0
        [[populations]]
        name = "in"
        size = 1
        neuron = { model = "input" }
        [[populations]]
        name = "out"
        size = 2
        neuron = { model = "loihi_lif", du = 2048, dv = 0, vth_mant = 1000 }
        [[populations]]
        name = "b"
        size = 3
        neuron = { model = "loihi_lif", du = 4095, dv = 1024, vth_mant = 30, bias_mant = 700, bias_exp = 1 }
        [[projections]]
        source = "in"
        target = "out"
        connectivity = { rule = "all_to_all" }
        weight = 10
        [[projections]]
        source = "out"
        target = "b"
        connectivity = { rule = "all_to_all" }
        weight = -5
        [[stimuli]]
        kind = "spike_array"
        target = "in"
        spikes = [{ neuron = 0, times_ms = [0.0] }]
        "#,
    )
    .unwrap()
}

fn probed(spec: &NetworkSpec, probes: &[&str], steps: u64) -> snn_neuromorphic::Report {
    let arch = ArchSpec::preset("loihi").unwrap();
    let prog = compile(spec, &arch).unwrap();
    let specs: Vec<ProbeSpec> = probes
        .iter()
        .map(|p| ProbeSpec::parse(p).unwrap())
        .collect();
    let neurons = resolve_probes(&prog, &specs).unwrap();
    let mut chip = Chip::new(&prog).unwrap();
    chip.set_probes(neurons).unwrap();
    chip.run(
        steps,
        &RunOptions {
            noc: NocMode::Cycle,
            trace: true,
        },
    )
    .unwrap()
}

#[test]
fn probes_follow_the_hand_computed_trajectory() {
    let r = probed(&net(), &["out:1"], 5);
    let p = r.probes.as_ref().unwrap();
    assert_eq!(p.neurons.len(), 1);
    assert_eq!(
        (p.neurons[0].population.as_str(), p.neurons[0].local),
        ("out", 1)
    );
    // Step 0: nothing yet. Step 1: a_in = 10, u = 10 << 6 = 640, v = 0 + 640.
    // Step 2: u = rtz(640 * 2047 / 4096) = rtz(319.84) = 319, v = 640 + 319 = 959.
    // Step 3: u = rtz(319 * 2047 / 4096) = rtz(159.42) = 159, v = 959 + 159 = 1118.
    // Step 4: u = rtz(159 * 2047 / 4096) = rtz(79.46) = 79, v = 1118 + 79 = 1197.
    assert_eq!(p.u_of(0), vec![0, 640, 319, 159, 79]);
    assert_eq!(p.v_of(0), vec![0, 640, 959, 1118, 1197]);
    // The trace CSV carries the columns.
    let csv = r.trace_csv().unwrap();
    let mut lines = csv.lines();
    assert!(lines.next().unwrap().ends_with(",u:out:1,v:out:1"));
    assert!(lines.nth(2).unwrap().ends_with(",319,959"));
    // And the JSON report.
    let j = r.to_json(false);
    assert_eq!(j["probes"]["v"][2][0], 959);
}

#[test]
fn probes_equal_the_engines_loihi_lif_state() {
    let spec = net();
    let arch = ArchSpec::preset("loihi").unwrap();
    let prog = compile(&spec, &arch).unwrap();
    let steps = 30;
    let r = probed(&spec, &["out", "b:0..3"], steps);
    let p = r.probes.as_ref().unwrap();
    assert_eq!(p.neurons.len(), 5);
    // The engine on the quantised spec, recording u and v of the same neurons.
    let mut q = prog.quantised_spec();
    for var in [StateVar::U, StateVar::V] {
        for (pop, n) in [("out", 2), ("b", 3)] {
            q.recording.state.push(TraceSpec {
                population: pop.into(),
                neurons: (0..n).collect(),
                variable: var,
            });
        }
    }
    let (_, rec, _) = snn_core::simulate(&q, steps, 1).unwrap();
    // Traces: out u (2), b u (3), out v (2), b v (3).
    let engine: Vec<Vec<i32>> = rec
        .traces
        .iter()
        .map(|t| t.values.iter().map(|&x| x as i32).collect())
        .collect();
    for i in 0..5 {
        assert_eq!(p.u_of(i), engine[i], "u of probe {i}");
        assert_eq!(p.v_of(i), engine[5 + i], "v of probe {i}");
    }
    // The bias population does move (the test can fail).
    assert!(p.v_of(2).iter().any(|&v| v != 0));
}

#[test]
fn bad_probes_are_clear_errors() {
    let arch = ArchSpec::preset("loihi").unwrap();
    let prog = compile(&net(), &arch).unwrap();
    let err = |s: &str| resolve_probes(&prog, &[ProbeSpec::parse(s).unwrap()]).unwrap_err();
    let e = err("nope");
    assert!(matches!(e, ProbeError::UnknownPopulation { .. }));
    assert!(e.to_string().contains("no population 'nope'"), "{e}");
    assert!(e.to_string().contains("in, out, b"), "{e}");
    let e = err("out:2");
    assert!(
        matches!(
            e,
            ProbeError::NeuronOutOfRange {
                index: 2,
                size: 2,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("'out' has 2 neurons"), "{e}");
    let e = err("b:0..=3");
    assert!(
        matches!(e, ProbeError::NeuronOutOfRange { index: 3, .. }),
        "{e}"
    );
    let e = err("in");
    assert!(matches!(e, ProbeError::InputPopulation { .. }), "{e}");
    let e = err("b:0..4000000000");
    assert!(matches!(e, ProbeError::NeuronOutOfRange { .. }), "{e}");
    // The chip refuses an input neuron given directly.
    let mut chip = Chip::new(&prog).unwrap();
    let bad = snn_neuromorphic::probe::ProbedNeuron {
        population: "in".into(),
        local: 0,
        global: 0,
    };
    assert!(chip.set_probes(vec![bad]).is_err());
}

#[test]
fn too_many_probed_neurons_are_refused() {
    let spec = NetworkSpec::from_toml_str(
        r#"
        dt_ms = 1.0
        [[populations]]
        name = "big"
        size = 5000
        neuron = { model = "loihi_lif", du = 4095, dv = 0, vth_mant = 100 }
        "#,
    )
    .unwrap();
    let prog = compile(&spec, &ArchSpec::preset("loihi").unwrap()).unwrap();
    let e = resolve_probes(&prog, &[ProbeSpec::parse("big").unwrap()]).unwrap_err();
    assert!(matches!(e, ProbeError::TooMany { .. }), "{e}");
    assert!(resolve_probes(&prog, &[ProbeSpec::parse("big:0..100").unwrap()]).is_ok());
}
