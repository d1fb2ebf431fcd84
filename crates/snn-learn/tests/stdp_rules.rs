//! STDP rules: the window, pairing schemes, bounds (property test), triplet frequency
//! dependence, reward modulation, and rules running inside snn-core's engine through the hook.

use proptest::prelude::*;
use snn_core::{Network, Plasticity};
use snn_learn::stdp::{
    Bounds, LrSchedule, PairParams, PairStdp, Pairing, RewardParams, RewardStdp, Shared, StdpRule,
    TripletParams, TripletStdp, WeightDependence, normalise_incoming,
};
use snn_types::{NetworkSpec, SpikeRaster};

/// Weight change of one synapse for a pre spike at step `t_pre` and a post spike at `t_post`
/// (pre first within a step, the engine's order).
fn pair_dw(rule: &mut dyn Plasticity, t_pre: u64, t_post: u64, w0: f32) -> f64 {
    let mut w = [w0];
    let pre = |r: &mut dyn Plasticity, w: &mut [f32; 1]| r.on_pre(t_pre, 0, 0, &[0], w);
    let post = |r: &mut dyn Plasticity, w: &mut [f32; 1]| r.on_post(t_post, 0, &[0], &[0], w);
    if t_pre <= t_post {
        pre(rule, &mut w);
        post(rule, &mut w);
    } else {
        post(rule, &mut w);
        pre(rule, &mut w);
    }
    w[0] as f64 - w0 as f64
}

#[test]
fn pair_window_matches_exponentials_for_every_scheme_and_dependence() {
    let deps = [
        WeightDependence::Additive,
        WeightDependence::Multiplicative,
        WeightDependence::PowerLaw { mu: 0.5 },
    ];
    for pairing in [Pairing::AllToAll, Pairing::Nearest] {
        for dep in deps {
            for dt_ms in [0.1, 0.25, 0.5, 1.0] {
                let p = PairParams {
                    a_plus: 0.01,
                    a_minus: 0.012,
                    tau_plus_ms: 16.8,
                    tau_minus_ms: 33.7,
                    bounds: Bounds {
                        w_min: 0.0,
                        w_max: 1.0,
                    },
                    dependence: dep,
                    pairing,
                };
                let w0 = 0.5f32;
                let (fp, fm) = match dep {
                    WeightDependence::Additive => (1.0, 1.0),
                    WeightDependence::Multiplicative => (0.5, 0.5),
                    WeightDependence::PowerLaw { mu } => (0.5f64.powf(mu), 0.5f64.powf(mu)),
                };
                let t0 = 5_000u64;
                for k in -400i64..=400 {
                    let delta_ms = k as f64 * 0.25;
                    let steps = (delta_ms / dt_ms).round() as i64;
                    let lag_ms = steps as f64 * dt_ms; // the offset actually simulated
                    let mut rule = PairStdp::new(p.clone(), dt_ms, 1, 1).unwrap();
                    let t_pre = t0;
                    let t_post = (t0 as i64 + steps) as u64;
                    let dw = pair_dw(&mut rule, t_pre, t_post, w0);
                    let expected = if steps >= 0 {
                        p.a_plus * fp * (-lag_ms / p.tau_plus_ms).exp()
                    } else {
                        -p.a_minus * fm * (lag_ms / p.tau_minus_ms).exp()
                    };
                    // f32 weights: the only error is the rounding of w0 + dw to f32.
                    assert!(
                        (dw - expected).abs() <= 6e-8,
                        "{pairing:?} {dep:?} dt={dt_ms} lag={lag_ms}: {dw} vs {expected}"
                    );
                }
            }
        }
    }
}

#[test]
fn all_to_all_sums_pairs_nearest_keeps_the_latest() {
    // Two pre spikes 10 and 5 ms before a post spike (dt = 1 ms).
    for pairing in [Pairing::AllToAll, Pairing::Nearest] {
        let p = PairParams {
            pairing,
            ..PairParams::default()
        };
        let mut r = PairStdp::new(p.clone(), 1.0, 1, 1).unwrap();
        let mut w = [0.5f32];
        r.on_pre(100, 0, 0, &[0], &mut w);
        r.on_pre(105, 0, 0, &[0], &mut w);
        r.on_post(110, 0, &[0], &[0], &mut w);
        let e = |d: f64| p.a_plus * (-d / p.tau_plus_ms).exp();
        let expected = match pairing {
            Pairing::AllToAll => e(10.0) + e(5.0),
            Pairing::Nearest => e(5.0),
        };
        assert!((w[0] as f64 - 0.5 - expected).abs() < 1e-7, "{pairing:?}");
    }
}

#[derive(Clone, Debug)]
enum Ev {
    Pre(u32),
    Post(u32),
}

fn events() -> impl Strategy<Value = Vec<(u64, Ev)>> {
    prop::collection::vec(
        (
            0u64..5,
            prop_oneof![(0u32..4).prop_map(Ev::Pre), (0u32..3).prop_map(Ev::Post)],
        ),
        1..300,
    )
}

/// Applies a random spike train to a 4x3 all-to-all projection and returns the weights seen
/// after every event.
fn drive(rule: &mut dyn Plasticity, evs: &[(u64, Ev)], w: &mut [f32], mut f: impl FnMut(&[f32])) {
    let mut t = 0u64;
    for (gap, e) in evs {
        t += gap;
        match *e {
            Ev::Pre(j) => {
                let row = &mut w[j as usize * 3..j as usize * 3 + 3];
                rule.on_pre(t, j, j as usize * 3, &[0, 1, 2], row)
            }
            Ev::Post(i) => rule.on_post(t, i, &[0, 1, 2, 3], &[i, 3 + i, 6 + i, 9 + i], w),
        }
        f(w);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn pair_bounds_are_never_crossed(
        evs in events(),
        a_plus in 0.0f64..3.0, a_minus in 0.0f64..3.0,
        dep in 0usize..3, nearest: bool, w0 in 0.0f32..1.0,
    ) {
        let p = PairParams {
            a_plus, a_minus, tau_plus_ms: 10.0, tau_minus_ms: 30.0,
            bounds: Bounds { w_min: -0.5, w_max: 1.0 },
            dependence: [WeightDependence::Additive, WeightDependence::Multiplicative,
                WeightDependence::PowerLaw { mu: 0.7 }][dep],
            pairing: if nearest { Pairing::Nearest } else { Pairing::AllToAll },
        };
        let mut r = PairStdp::new(p, 0.5, 4, 3).unwrap();
        let mut w = vec![w0; 12];
        drive(&mut r, &evs, &mut w, |w| {
            assert!(w.iter().all(|&x| (-0.5..=1.0).contains(&x)), "{w:?}");
        });
    }

    #[test]
    fn triplet_bounds_are_never_crossed(evs in events(), scale in 0.0f64..200.0, nearest: bool) {
        let mut p = TripletParams::visual_cortex_full();
        p.a2_plus = 0.01 * scale; p.a3_plus *= scale; p.a2_minus *= scale; p.a3_minus *= scale;
        p.pairing = if nearest { Pairing::Nearest } else { Pairing::AllToAll };
        let mut r = TripletStdp::new(p, 1.0, 4, 3).unwrap();
        let mut w = vec![0.5f32; 12];
        drive(&mut r, &evs, &mut w, |w| {
            assert!(w.iter().all(|&x| (0.0..=1.0).contains(&x)), "{w:?}");
        });
    }

    #[test]
    fn reward_bounds_are_never_crossed(evs in events(), rewards in prop::collection::vec(-50.0f64..50.0, 1..20)) {
        let row_ptr: Vec<usize> = (0..=4).map(|j| j * 3).collect();
        let mut r = RewardStdp::from_layout(RewardParams::default(), 1.0, row_ptr, 3).unwrap();
        let mut w = vec![2.0f32; 12];
        drive(&mut r, &evs, &mut w, |_| {});
        for (k, &rw) in rewards.iter().enumerate() {
            r.apply_reward(2000 + k as u64, rw, &mut w).unwrap();
            prop_assert!(w.iter().all(|&x| (0.0..=4.0).contains(&x)), "{w:?}");
        }
    }
}

/// Sjöström et al. (2001) protocol as in Pfister & Gerstner (2006), Fig. 5: 60 pairs at
/// frequency `f_hz`, post `lag_ms` after pre (negative: before). Returns the relative weight
/// change of a synapse starting at 0.5 (far from the bounds).
fn pairing_protocol(p: &TripletParams, f_hz: f64, lag_ms: f64) -> f64 {
    let dt_ms = 0.1;
    let mut r = TripletStdp::new(p.clone(), dt_ms, 1, 1).unwrap();
    let period = (1000.0 / f_hz / dt_ms).round() as i64;
    let lag = (lag_ms / dt_ms).round() as i64;
    let mut w = [0.5f32];
    let mut ev: Vec<(i64, bool)> = Vec::new();
    for k in 0..60 {
        let t_pre = 1_000 + k * period;
        ev.push((t_pre, true));
        ev.push((t_pre + lag, false));
    }
    ev.sort_by_key(|&(t, is_pre)| (t, !is_pre));
    for (t, is_pre) in ev {
        if is_pre {
            r.on_pre(t as u64, 0, 0, &[0], &mut w);
        } else {
            r.on_post(t as u64, 0, &[0], &[0], &mut w);
        }
    }
    (w[0] as f64 - 0.5) / 0.5
}

#[test]
fn triplet_frequency_dependence_depresses_at_low_and_potentiates_at_high_frequency() {
    for p in [
        TripletParams::visual_cortex_minimal(),
        TripletParams::visual_cortex_full(),
        TripletParams::visual_cortex_nearest_minimal(),
    ] {
        // Low frequency: post-before-pre depresses, pre-before-post does not potentiate
        // (Sjöström et al. 2001: LTP needs high frequency).
        let low_acausal = pairing_protocol(&p, 0.1, -10.0);
        let low_causal = pairing_protocol(&p, 0.1, 10.0);
        assert!(
            low_acausal < -0.01,
            "{:?}: {low_acausal} at 0.1 Hz",
            p.pairing
        );
        assert!(low_causal < 1e-6, "{:?}: {low_causal} at 0.1 Hz", p.pairing);
        // High frequency: both orders potentiate.
        for lag in [10.0, -10.0] {
            let high = pairing_protocol(&p, 50.0, lag);
            assert!(high > 0.01, "{:?} lag {lag}: {high} at 50 Hz", p.pairing);
        }
        // Causal pairing potentiates more and more as frequency grows (Fig. 5 shape).
        let curve: Vec<f64> = [0.1, 10.0, 20.0, 40.0, 50.0]
            .iter()
            .map(|&f| pairing_protocol(&p, f, 10.0))
            .collect();
        assert!(curve.windows(2).all(|w| w[1] >= w[0]), "{curve:?}");
    }
    // With both triplet terms switched off the rule is pair STDP: frequency-independent sign.
    let mut pair = TripletParams::visual_cortex_minimal();
    pair.a2_plus = 5e-3;
    pair.a3_plus = 0.0;
    assert!(pairing_protocol(&pair, 50.0, -10.0) < 0.0);
}

const ENGINE_SPEC: &str = r#"
    dt_ms = 1.0
    seed = 7
    [[populations]]
    name = "in"
    size = 40
    neuron = { model = "input" }
    [[populations]]
    name = "out"
    size = 6
    neuron = { model = "lif_beta", beta = 0.9, threshold = 1.0 }
    [[projections]]
    source = "in"
    target = "out"
    connectivity = { rule = "all_to_all" }
    weight = 0.25
    [[stimuli]]
    kind = "poisson"
    target = "in"
    rate_hz = 30.0
"#;

/// Replays a raster through a fresh rule in the engine's documented order: per step, `on_pre`
/// for every source spike (neuron order), then `on_post` for every target spike.
fn replay(rule: &mut dyn Plasticity, raster: &SpikeRaster, n_in: u32, n_out: u32, w: &mut [f32]) {
    let mut steps: std::collections::BTreeMap<u64, Vec<u32>> = Default::default();
    for s in raster.iter() {
        steps.entry(s.step).or_default().push(s.neuron);
    }
    let targets: Vec<u32> = (0..n_out).collect();
    let sources: Vec<u32> = (0..n_in).collect();
    for (t, mut ids) in steps {
        ids.sort_unstable();
        for &g in ids.iter().filter(|&&g| g < n_in) {
            let row = &mut w[(g * n_out) as usize..((g + 1) * n_out) as usize];
            rule.on_pre(t, g, (g * n_out) as usize, &targets, row);
        }
        for &g in ids.iter().filter(|&&g| g >= n_in) {
            let i = g - n_in;
            let syn: Vec<u32> = (0..n_in).map(|j| j * n_out + i).collect();
            rule.on_post(t, i, &sources, &syn, w);
        }
    }
}

#[test]
fn pair_stdp_runs_inside_the_engine_deterministically_and_exactly() {
    let spec = NetworkSpec::from_toml_str(ENGINE_SPEC).unwrap();
    spec.validate().unwrap();
    let p = PairParams {
        a_plus: 0.01,
        a_minus: 0.0105,
        ..PairParams::default()
    };
    let mut results = Vec::new();
    for threads in [1, 2] {
        let mut net = Network::build_with_threads(&spec, threads).unwrap();
        net.set_plasticity(0, Box::new(PairStdp::new(p.clone(), 1.0, 40, 6).unwrap()))
            .unwrap();
        let mut raster = SpikeRaster::new(0);
        net.run(2000, &mut raster);
        let w = net.projection_weights_mut(0).unwrap().to_vec();
        results.push((raster, w));
    }
    assert_eq!(results[0], results[1], "1 vs 2 threads");
    let (raster, w) = &results[0];
    let out_spikes = raster.iter().filter(|s| s.neuron >= 40).count();
    assert!(out_spikes > 20, "output should fire: {out_spikes}");
    assert!(w.iter().any(|&x| x != 0.25), "weights should have changed");
    // The engine's weights equal a replay of its own spikes through the same rule.
    let mut replayed = vec![0.25f32; 240];
    let mut rule = PairStdp::new(p, 1.0, 40, 6).unwrap();
    replay(&mut rule, raster, 40, 6, &mut replayed);
    assert_eq!(&replayed, w);
}

#[test]
fn reward_stdp_no_reward_no_change_and_sign_follows_reward() {
    let spec = NetworkSpec::from_toml_str(ENGINE_SPEC).unwrap();
    let run = |reward: Option<f64>| {
        let mut net = Network::build(&spec).unwrap();
        let rule = RewardStdp::for_projection(
            RewardParams {
                learning_rate: 0.01,
                ..RewardParams::default()
            },
            1.0,
            &net.projections()[0],
        )
        .unwrap();
        let shared = Shared::new(rule);
        net.set_plasticity(0, Box::new(shared.clone())).unwrap();
        net.run(500, &mut snn_core::NullSink);
        let t = net.current_step();
        let elig: Vec<f64> = (0..240).map(|s| shared.lock().eligibility(s, t)).collect();
        if let Some(r) = reward {
            let w = net.projection_weights_mut(0).unwrap();
            shared.lock().apply_reward(t, r, w).unwrap();
        }
        (net.projection_weights_mut(0).unwrap().to_vec(), elig)
    };
    let (w0, elig) = run(None);
    assert!(w0.iter().all(|&x| x == 0.25), "no reward, no change");
    let pos = elig.iter().filter(|&&c| c > 0.0).count();
    let neg = elig.iter().filter(|&&c| c < 0.0).count();
    assert!(
        pos + neg > 100,
        "eligibility: {pos} positive, {neg} negative"
    );
    for r in [1.0, -1.0, 0.3] {
        let (w, elig) = run(Some(r));
        let mut changed = 0;
        for (s, (&wi, &c)) in w.iter().zip(&elig).enumerate() {
            let dw = wi as f64 - 0.25;
            if c.abs() > 1e-3 {
                assert_eq!(
                    dw.signum(),
                    (r * c).signum(),
                    "synapse {s}: r={r} c={c} dw={dw}"
                );
                changed += 1;
            }
        }
        assert!(changed > 10);
    }
    // Zero reward is no reward.
    let (w, _) = run(Some(0.0));
    assert_eq!(w, w0);
}

#[test]
fn homeostasis_helpers() {
    // Normalisation: every column sums to the target.
    let mut w: Vec<f32> = (0..12).map(|k| k as f32 * 0.1).collect();
    normalise_incoming(&mut w, 3, 2.0).unwrap();
    for i in 0..3 {
        let s: f32 = (0..4).map(|j| w[j * 3 + i]).sum();
        assert!((s - 2.0).abs() < 1e-5);
    }
    assert!(normalise_incoming(&mut w, 5, 2.0).is_err());
    assert!(normalise_incoming(&mut w, 3, -1.0).is_err());
    // Schedules.
    assert_eq!(LrSchedule::Constant.factor(5, 10), 1.0);
    assert!((LrSchedule::Exponential { half_life: 10.0 }.factor(10, 100) - 0.5).abs() < 1e-12);
    assert!((LrSchedule::Linear { final_factor: 0.0 }.factor(5, 10) - 0.5).abs() < 1e-12);
    assert!(
        (LrSchedule::Step {
            every: 3,
            gamma: 0.5
        }
        .factor(7, 10)
            - 0.25)
            .abs()
            < 1e-12
    );
    assert!(
        LrSchedule::Step {
            every: 0,
            gamma: 0.5
        }
        .validate()
        .is_err()
    );
    // A rate scale of 0 freezes a rule.
    let mut r = PairStdp::new(PairParams::default(), 1.0, 1, 1).unwrap();
    r.set_rate_scale(0.0);
    assert_eq!(pair_dw(&mut r, 0, 5, 0.5), 0.0);
    // Bad parameters are errors, not panics.
    let bad = PairParams {
        tau_plus_ms: -1.0,
        ..PairParams::default()
    };
    assert!(PairStdp::new(bad, 1.0, 1, 1).is_err());
    assert!(PairStdp::new(PairParams::default(), 0.0, 1, 1).is_err());
    let mut t = TripletParams::hippocampal_minimal();
    t.bounds = Bounds {
        w_min: 1.0,
        w_max: 0.0,
    };
    assert!(TripletStdp::new(t, 1.0, 1, 1).is_err());
}
