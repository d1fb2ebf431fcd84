//! The adaptive threshold (`adaptive_threshold`, Diehl & Cook 2015) of `lif_exp` and
//! `lif_cond_exp`: `theta` decays by `exp(-dt/tau_theta)` each step before the threshold test,
//! the neuron spikes when `V >= V_th + theta`, and each spike adds `theta_plus`.

use snn_core::{Network, models, simulate};
use snn_types::{
    AdaptiveThreshold, NetworkSpec, NeuronModel, RecordingSpec, SpikeRaster, StateVar, TraceSpec,
};

const DT: f64 = 0.1;

/// One neuron of `neuron` (a TOML inline table) under its constant `i_e`, with a trace of
/// `theta` and `v`.
fn single(neuron: &str) -> NetworkSpec {
    NetworkSpec::from_toml_str(&format!(
        r#"
        dt_ms = {DT}
        [[populations]]
        name = "n"
        size = 1
        neuron = {neuron}
        [[recording.state]]
        population = "n"
        neurons = [0]
        variable = "theta"
        "#
    ))
    .unwrap()
}

/// Runs `spec` one step at a time for `steps` steps: the spike steps and `theta` after each step
/// (full `f64`, from [`Network::theta`]).
fn run_stepwise(spec: &NetworkSpec, steps: u64) -> (Vec<u64>, Vec<f64>, Network) {
    let mut net = Network::build(spec).unwrap();
    let mut spikes = Vec::new();
    let mut theta = Vec::new();
    for t in 0..steps {
        let mut r = SpikeRaster::new(0);
        net.run(1, &mut r);
        if !r.is_empty() {
            spikes.push(t);
        }
        theta.push(net.theta(0).expect("adaptive population")[0]);
    }
    (spikes, theta, net)
}

/// The analytic `theta` after step `n`: the sum of `theta_plus` for every spike at a step
/// `s <= n`, decayed by `exp(-(n - s) dt / tau_theta)`.
fn analytic_theta(spikes: &[u64], n: u64, plus: f64, tau: f64) -> f64 {
    spikes
        .iter()
        .filter(|&&s| s <= n)
        .map(|&s| plus * (-((n - s) as f64) * DT / tau).exp())
        .sum()
}

fn isis(spikes: &[u64]) -> Vec<u64> {
    spikes.windows(2).map(|w| w[1] - w[0]).collect()
}

/// (1) Under constant drive the rate falls as theta grows, and theta follows the analytic sum of
/// decayed increments to 1e-9 relative, for both models. The recorded `theta` trace is the same
/// value (as `f32`).
#[test]
fn theta_is_the_decayed_sum_of_increments_and_the_rate_falls() {
    let (plus, tau) = (1.5, 300.0);
    for neuron in [
        format!(
            r#"{{ model = "lif_cond_exp", i_e_pa = 600.0, adaptive_threshold = {{ theta_plus_mv = {plus}, tau_theta_ms = {tau} }} }}"#
        ),
        format!(
            r#"{{ model = "lif_exp", i_e_pa = 800.0, adaptive_threshold = {{ theta_plus_mv = {plus}, tau_theta_ms = {tau} }} }}"#
        ),
    ] {
        let spec = single(&neuron);
        let steps = 10_000; // 1 s
        let (spikes, theta, mut net) = run_stepwise(&spec, steps);
        assert!(spikes.len() > 20, "{neuron}: must fire ({})", spikes.len());
        let early = spikes.iter().filter(|&&s| s < 1000).count() as f64 / 0.1;
        let late = spikes.iter().filter(|&&s| s >= 5000).count() as f64 / 0.5;
        assert!(
            late < 0.8 * early,
            "{neuron}: rate must fall: {early} Hz in the first 100 ms, {late} Hz in the last 500 ms"
        );
        let d = isis(&spikes);
        assert!(d.last() > d.first(), "{neuron}: ISIs {d:?}");
        let mut worst = 0.0f64;
        for (n, &got) in theta.iter().enumerate() {
            let want = analytic_theta(&spikes, n as u64, plus, tau);
            if want == 0.0 {
                assert_eq!(got, 0.0, "{neuron}: step {n}");
                continue;
            }
            worst = worst.max(((got - want) / want).abs());
        }
        assert!(worst < 1e-9, "{neuron}: worst relative error {worst:e}");
        assert!(*theta.last().unwrap() > plus, "theta must accumulate");
        let rec = net.take_recordings();
        assert_eq!(rec.traces.len(), 1);
        assert_eq!(rec.traces[0].variable, StateVar::Theta);
        let as_f32: Vec<f32> = theta.iter().map(|&x| x as f32).collect();
        assert_eq!(rec.traces[0].values, as_f32);
    }
}

/// (2) With `tau_theta` huge (Diehl & Cook's 1e7 ms) theta only grows, so the inter-spike
/// intervals lengthen monotonically.
#[test]
fn with_a_huge_tau_theta_the_intervals_lengthen_monotonically() {
    for neuron in [
        r#"{ model = "lif_exp", i_e_pa = 600.0, adaptive_threshold = { theta_plus_mv = 0.5, tau_theta_ms = 1e7 } }"#,
        r#"{ model = "lif_cond_exp", i_e_pa = 500.0, adaptive_threshold = { theta_plus_mv = 0.5, tau_theta_ms = 1e7 } }"#,
    ] {
        let spec = single(neuron);
        let (spikes, theta, _) = run_stepwise(&spec, 20_000);
        let d = isis(&spikes);
        assert!(d.len() > 10, "{neuron}: {} spikes", spikes.len());
        for w in d.windows(2) {
            assert!(w[1] >= w[0], "{neuron}: ISIs must not shorten: {d:?}");
        }
        assert!(
            d.last().unwrap() > &(d[0] + 5),
            "{neuron}: ISIs must lengthen: {d:?}"
        );
        // Practically no decay: theta is close to the number of spikes times theta_plus.
        let total = 0.5 * spikes.len() as f64;
        assert!((theta.last().unwrap() - total).abs() < 1e-3 * total);
    }
}

fn with_threshold(spec: &mut NetworkSpec, a: AdaptiveThreshold) {
    for p in &mut spec.populations {
        match &mut p.neuron {
            NeuronModel::LifExp(q) => q.adaptive_threshold = Some(a),
            NeuronModel::LifCondExp(q) => q.adaptive_threshold = Some(a),
            _ => {}
        }
    }
}

/// (3) A block with `theta_plus = 0` leaves theta at 0 and the raster bit-identical to the
/// network without the block (CUBA and COBA).
#[test]
fn a_zero_increment_gives_the_same_raster_as_no_block() {
    let a = AdaptiveThreshold {
        theta_plus_mv: 0.0,
        ..Default::default()
    };
    for (spec, steps) in [(models::cuba(1000, 5), 2000), (models::coba(1000, 5), 2000)] {
        let (plain, _, s_plain) = simulate(&spec, steps, 1).unwrap();
        assert!(plain.len() > 100, "the network must be active");
        let mut adaptive = spec.clone();
        with_threshold(&mut adaptive, a);
        let (r, _, s) = simulate(&adaptive, steps, 1).unwrap();
        assert_eq!(r, plain);
        assert_eq!(s, s_plain);
        let net = Network::build(&adaptive).unwrap();
        assert!(net.theta(0).unwrap().iter().all(|&x| x == 0.0));
        assert!(Network::build(&spec).unwrap().theta(0).is_none());
    }
}

/// (4) An adaptive network (which does change the raster) is identical on 1, 2 and 3 threads,
/// spikes and theta traces.
#[test]
fn adaptive_networks_are_identical_for_1_2_and_3_threads() {
    let a = AdaptiveThreshold {
        theta_plus_mv: 0.5,
        tau_theta_ms: 100.0,
        theta_init_mv: 0.0,
        theta_rest_mv: -0.5,
    };
    for base in [models::cuba(800, 2), models::coba(800, 2)] {
        let mut spec = base.clone();
        with_threshold(&mut spec, a);
        spec.recording = RecordingSpec {
            state: vec![TraceSpec {
                population: "exc".into(),
                neurons: vec![0, 3, 500],
                variable: StateVar::Theta,
            }],
            ..RecordingSpec::default()
        };
        let (r1, rec1, s1) = simulate(&spec, 1500, 1).unwrap();
        let (plain, _, _) = simulate(&base, 1500, 1).unwrap();
        assert!(r1.len() > 50, "the network must be active ({})", r1.len());
        assert_ne!(r1, plain, "the adaptive threshold must change the raster");
        assert!(
            rec1.traces
                .iter()
                .any(|t| t.values.iter().any(|&x| x > 0.0))
        );
        for threads in [2, 3] {
            let (r, rec, s) = simulate(&spec, 1500, threads).unwrap();
            assert_eq!(r, r1, "{threads} threads");
            assert_eq!(rec, rec1, "{threads} threads");
            assert_eq!(s, s1);
        }
    }
}

/// `theta_init_mv` raises the first threshold: the first spike comes later.
#[test]
fn theta_init_delays_the_first_spike() {
    let n = |init: f64| {
        format!(
            r#"{{ model = "lif_exp", i_e_pa = 600.0, adaptive_threshold = {{ theta_plus_mv = 0.0, tau_theta_ms = 1e7, theta_init_mv = {init} }} }}"#
        )
    };
    let (s0, _, _) = run_stepwise(&single(&n(0.0)), 2000);
    let (s5, _, _) = run_stepwise(&single(&n(5.0)), 2000);
    assert!(s5[0] > s0[0], "{} vs {}", s5[0], s0[0]);
}

/// (5) Validation names the field; the block is refused where it does not exist; `theta` can
/// be recorded only with the block.
#[test]
fn validation_names_the_field() {
    let spec = |neuron: &str| {
        format!(
            r#"
            dt_ms = 0.1
            [[populations]]
            name = "n"
            size = 1
            neuron = {neuron}
            "#
        )
    };
    let cases = [
        (
            spec(
                r#"{ model = "lif_cond_exp", adaptive_threshold = { theta_plus_mv = 0.05, tau_theta_ms = 0.0 } }"#,
            ),
            "populations[0].neuron.adaptive_threshold.tau_theta_ms: must be > 0",
        ),
        (
            spec(
                r#"{ model = "lif_exp", adaptive_threshold = { theta_plus_mv = -0.05, tau_theta_ms = 1e7 } }"#,
            ),
            "populations[0].neuron.adaptive_threshold.theta_plus_mv: must be >= 0",
        ),
        (
            spec(
                r#"{ model = "lif_exp", adaptive_threshold = { theta_plus_mv = nan, tau_theta_ms = 1e7 } }"#,
            ),
            "populations[0].neuron.adaptive_threshold.theta_plus_mv: must be a finite number",
        ),
        (
            spec(
                r#"{ model = "lif_exp", adaptive_threshold = { theta_plus_mv = 0.05, tau_theta_ms = inf } }"#,
            ),
            "populations[0].neuron.adaptive_threshold.tau_theta_ms: must be a finite number",
        ),
        (
            spec(r#"{ model = "lif_exp", adaptive_threshold = { theta_pls_mv = 0.05 } }"#),
            "unknown field `theta_pls_mv`",
        ),
        (
            spec(r#"{ model = "lif_delta", adaptive_threshold = { theta_plus_mv = 0.05 } }"#),
            "unknown field `adaptive_threshold`",
        ),
        (
            spec(r#"{ model = "lif_cond_exp" }"#)
                + "[[recording.state]]\npopulation = \"n\"\nneurons = [0]\nvariable = \"theta\"\n",
            "recording.state[0].variable: a lif_cond_exp neuron has a `theta` only with an `adaptive_threshold` block",
        ),
        (
            spec(r#"{ model = "adex" }"#)
                + "[[recording.state]]\npopulation = \"n\"\nneurons = [0]\nvariable = \"theta\"\n",
            "recording.state[0].variable: an adex neuron has no `theta`",
        ),
    ];
    for (text, expect) in cases {
        let err = match NetworkSpec::from_toml_str(&text) {
            Err(e) => e.to_string(),
            Ok(spec) => {
                let e = Network::build(&spec).unwrap_err().to_string();
                let v = spec.validate().unwrap_err().to_string();
                assert!(e.contains(expect), "{e}");
                v
            }
        };
        assert!(err.contains(expect), "expected '{expect}' in: {err}");
    }
}

/// The block round-trips through TOML and JSON, defaults to Diehl & Cook's values, and is left
/// out of the serialised form when absent.
#[test]
fn the_block_round_trips_and_is_absent_by_default() {
    let spec = single(
        r#"{ model = "lif_cond_exp", adaptive_threshold = { theta_plus_mv = 0.05, tau_theta_ms = 1e7 } }"#,
    );
    let a = spec.populations[0].neuron.adaptive_threshold().copied();
    assert_eq!(a, Some(AdaptiveThreshold::default()));
    let toml = spec.to_toml_string().unwrap();
    assert_eq!(NetworkSpec::from_toml_str(&toml).unwrap(), spec);
    let plain = models::cuba(100, 1).to_toml_string().unwrap();
    assert!(!plain.contains("adaptive_threshold"), "{plain}");
}

/// (5) `theta_rest_mv`: a silent neuron's `theta` relaxes from `theta_init` toward `theta_rest`
/// as `rest + (init - rest) exp(-n dt / tau)` (Diehl & Cook's code: `theta - offset` with
/// `theta` decaying to 0 is `theta_rest = -offset`).
#[test]
fn theta_relaxes_toward_its_rest_value() {
    let spec = single(
        "{ model = \"lif_cond_exp\", i_e_pa = 0.0, adaptive_threshold = { theta_plus_mv = 1.0, tau_theta_ms = 5.0, theta_init_mv = 2.0, theta_rest_mv = 10.0 } }",
    );
    spec.validate().unwrap();
    let (spikes, theta, _) = run_stepwise(&spec, 200);
    assert!(spikes.is_empty(), "no input, no spike: {spikes:?}");
    for (k, &th) in theta.iter().enumerate() {
        let n = (k + 1) as f64;
        let want = 10.0 - 8.0 * (-n * DT / 5.0).exp();
        assert!((th - want).abs() < 1e-9, "step {k}: {th} vs {want}");
    }
    let mut bad = spec.clone();
    if let NeuronModel::LifCondExp(p) = &mut bad.populations[0].neuron {
        p.adaptive_threshold.as_mut().unwrap().theta_rest_mv = f64::NAN;
    }
    let err = bad.validate().unwrap_err().to_string();
    assert!(err.contains("theta_rest_mv"), "{err}");
}

/// (6) `set_theta` restores thresholds and `freeze_theta` stops both the decay and the
/// increments; a frozen network's raster equals that of a network whose fixed threshold is
/// `V_th + theta`.
#[test]
fn set_and_freeze_theta() {
    let spec = single(
        "{ model = \"lif_cond_exp\", i_e_pa = 400.0, adaptive_threshold = { theta_plus_mv = 1.0, tau_theta_ms = 50.0 } }",
    );
    let mut net = Network::build(&spec).unwrap();
    net.set_theta(0, &[3.0]).unwrap();
    assert_eq!(net.theta(0).unwrap(), vec![3.0]);
    net.freeze_theta(0, true).unwrap();
    let mut r = SpikeRaster::new(0);
    net.run(3000, &mut r);
    assert!(r.len() > 3, "the neuron must fire ({})", r.len());
    assert_eq!(
        net.theta(0).unwrap(),
        vec![3.0],
        "frozen: no decay, no increment"
    );
    // The same neuron with a fixed threshold 3 mV higher fires at the same steps.
    let mut fixed = spec.clone();
    if let NeuronModel::LifCondExp(p) = &mut fixed.populations[0].neuron {
        p.adaptive_threshold = None;
        p.v_th_mv += 3.0;
    }
    fixed.recording = RecordingSpec::default();
    let (want, _, _) = simulate(&fixed, 3000, 1).unwrap();
    assert_eq!(r, want);
    // Released: theta grows again.
    net.freeze_theta(0, false).unwrap();
    net.run(3000, &mut SpikeRaster::new(0));
    assert!(net.theta(0).unwrap()[0] > 3.0);
    // Errors name the population and the problem.
    assert!(
        net.set_theta(0, &[1.0, 2.0])
            .unwrap_err()
            .to_string()
            .contains("2 theta values")
    );
    assert!(
        net.set_theta(0, &[f64::INFINITY])
            .unwrap_err()
            .to_string()
            .contains("not finite")
    );
    assert!(net.set_theta(5, &[1.0]).is_err());
    let plain = Network::build(&models::cuba(100, 1)).unwrap();
    let mut plain = plain;
    let e = plain.freeze_theta(0, true).unwrap_err().to_string();
    assert!(e.contains("no adaptive threshold"), "{e}");
}
