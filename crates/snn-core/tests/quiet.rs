//! `Network::advance_quiet`: closed-form rest periods equal step-by-step simulation, and are
//! refused whenever something could happen in the window.

use snn_core::Network;
use snn_types::{NetworkSpec, Spike, SpikeRaster};

/// Inputs onto `lif_cond_exp` neurons with an adaptive threshold relaxing toward a rest value,
/// and a recurrent inhibitory projection; `order` is either input order, optionally followed by
/// `+euler` for forward Euler or `+pade` for the Padé scheme.
fn spec(order: &str) -> NetworkSpec {
    let (order, integration) = order
        .split_once('+')
        .unwrap_or((order, "exponential_euler"));
    NetworkSpec::from_toml_str(&format!(
        r#"
        dt_ms = 0.5
        seed = 3
        [[populations]]
        name = "in"
        size = 20
        neuron = {{ model = "input" }}
        [[populations]]
        name = "exc"
        size = 8
        neuron = {{ model = "lif_cond_exp", c_m_pf = 100.0, g_l_ns = 1.0, e_l_mv = -65.0, v_th_mv = -52.0, v_reset_mv = -65.0, t_ref_ms = 5.0, e_ex_mv = 0.0, e_in_mv = -100.0, tau_syn_ex_ms = 1.0, tau_syn_in_ms = 2.0, input_order = "{order}", integration = "{integration}", adaptive_threshold = {{ theta_plus_mv = 0.5, tau_theta_ms = 2000.0, theta_rest_mv = -2.0 }} }}
        v_init = -65.0
        [[projections]]
        source = "in"
        target = "exc"
        connectivity = {{ rule = "all_to_all" }}
        weight = {{ dist = "uniform", low = 0.05, high = 0.4 }}
        delay_ms = 0.5
        [[projections]]
        source = "exc"
        target = "exc"
        connectivity = {{ rule = "all_to_all" }}
        weight = 2.0
        receptor = "inhibitory"
        delay_ms = 0.5
        "#
    ))
    .unwrap()
}

/// A burst of input spikes (every input, 40 steps at a fixed pattern).
fn burst() -> SpikeRaster {
    let spikes: Vec<Spike> = (0..40u64)
        .flat_map(|s| {
            (0..20u32)
                .filter(move |i| (s + *i as u64).is_multiple_of(3))
                .map(move |neuron| Spike { step: s, neuron })
        })
        .collect();
    SpikeRaster::from_spikes(0, 40, &spikes)
}

/// Burst, `settle` steps simulated, then `rest` steps by `quiet` (closed form) or `run`; twice.
fn session(order: &str, quiet: bool) -> (SpikeRaster, Vec<f32>, Vec<f64>, u64) {
    let mut net = Network::build(&spec(order)).unwrap();
    let mut raster = SpikeRaster::new(0);
    let mut advanced = 0;
    for _ in 0..3 {
        net.inject_input(0, &burst()).unwrap();
        net.run(40 + 60, &mut raster);
        if quiet {
            assert!(net.advance_quiet(400), "the rest must be quiet");
            advanced += 400;
        } else {
            let mut rest = SpikeRaster::new(net.current_step());
            net.run(400, &mut rest);
            assert!(rest.is_empty(), "nothing fires at rest");
        }
    }
    let r: SpikeRaster = raster;
    (r, net.membrane(1), net.theta(1).unwrap(), advanced)
}

#[test]
fn a_quiet_rest_equals_simulating_it() {
    for solver in [
        "nest",
        "brian",
        "nest+euler",
        "brian+euler",
        "nest+pade",
        "brian+pade",
    ] {
        let (r_run, v_run, th_run, _) = session(solver, false);
        let (r_q, v_q, th_q, advanced) = session(solver, true);
        assert_eq!(advanced, 1200);
        assert!(
            r_run.len() > 20,
            "{solver}: the neurons must fire ({})",
            r_run.len()
        );
        // Spikes happen during the bursts only; their steps are identical.
        let steps = |r: &SpikeRaster| r.iter().map(|s| (s.step, s.neuron)).collect::<Vec<_>>();
        assert_eq!(steps(&r_q), steps(&r_run), "{solver}");
        for (a, b) in v_q.iter().zip(&v_run) {
            assert!((a - b).abs() < 1e-3, "{solver}: V {a} vs {b}");
        }
        for (a, b) in th_q.iter().zip(&th_run) {
            assert!((a - b).abs() < 1e-12, "{solver}: theta {a} vs {b}");
        }
    }
}

#[test]
fn a_window_where_something_can_happen_is_refused() {
    let s = spec("nest");
    // Right after a burst: input pending in the ring buffers / conductances still large.
    let mut net = Network::build(&s).unwrap();
    net.inject_input(0, &burst()).unwrap();
    net.run(41, &mut SpikeRaster::new(0));
    let (step, v) = (net.current_step(), net.membrane(1));
    assert!(!net.advance_quiet(100));
    assert_eq!(
        (net.current_step(), net.membrane(1)),
        (step, v),
        "untouched"
    );
    // An injected input inside the window.
    let mut net = Network::build(&s).unwrap();
    net.inject_input(
        0,
        &SpikeRaster::from_spikes(
            0,
            51,
            &[Spike {
                step: 50,
                neuron: 3,
            }],
        ),
    )
    .unwrap();
    assert!(!net.advance_quiet(100));
    assert!(net.advance_quiet(50), "the window before it is quiet");
    // A neuron whose resting potential lies above threshold (a constant current).
    let mut hot = s.clone();
    if let snn_types::NeuronModel::LifCondExp(p) = &mut hot.populations[1].neuron {
        p.i_e_pa = 20.0; // V_inf = -45 mV > V_th = -52 mV
    }
    assert!(!Network::build(&hot).unwrap().advance_quiet(10));
    // A theta relaxing low enough to bring the threshold below rest over a long window.
    let mut low = s.clone();
    if let snn_types::NeuronModel::LifCondExp(p) = &mut low.populations[1].neuron {
        p.adaptive_threshold.as_mut().unwrap().theta_rest_mv = -20.0;
    }
    let mut net = Network::build(&low).unwrap();
    assert!(net.advance_quiet(10), "theta barely moves in 10 steps");
    assert!(
        !net.advance_quiet(100_000),
        "theta would reach -13 mV and V_th below rest"
    );
    // A window that would take the clock near overflow.
    assert!(!Network::build(&s).unwrap().advance_quiet(u64::MAX));
    // Models without a closed form refuse.
    assert!(
        !Network::build(&snn_core::models::cuba(100, 1))
            .unwrap()
            .advance_quiet(1)
    );
}

/// `input_order = "brian"` applies a step's arrivals before integrating `V`: a neuron at rest
/// hit by one spike follows exactly the trajectory of NEST's order one step earlier.
#[test]
fn brian_order_acts_one_step_earlier() {
    let trajectory = |order: &str| {
        let mut spec = spec(order);
        spec.projections.truncate(1);
        let mut net = Network::build(&spec).unwrap();
        net.inject_input(
            0,
            &SpikeRaster::from_spikes(0, 6, &[Spike { step: 5, neuron: 0 }]),
        )
        .unwrap();
        (0..40)
            .map(|_| {
                net.run(1, &mut SpikeRaster::new(0));
                net.membrane(1)[0]
            })
            .collect::<Vec<f32>>()
    };
    for euler in ["", "+euler", "+pade"] {
        let (nest, brian) = (
            trajectory(&format!("nest{euler}")),
            trajectory(&format!("brian{euler}")),
        );
        assert!(nest.iter().any(|&v| v > -65.0), "the spike must move V");
        assert_eq!(&brian[..39], &nest[1..], "brian(t) = nest(t + 1) {euler}");
        assert_ne!(brian, nest);
    }
    // The two schemes differ.
    assert_ne!(trajectory("brian"), trajectory("brian+euler"));
}
