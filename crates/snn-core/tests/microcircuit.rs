//! The Potjans & Diesmann microcircuit: structure at a small scale (exact counts, weight and
//! delay statistics), packed delays, determinism, and (with `SNN_SLOW=1`) rates at 10% scale.

use snn_core::analysis::{ActivityAnalyser, PopulationRange};
use snn_core::models::microcircuit::{
    CONN_PROBS, FULL_NUM_NEURONS, N_POPULATIONS, POPULATIONS, TEN_PERCENT_CV_ISI,
    TEN_PERCENT_MEAN_RATES_HZ, TEN_PERCENT_SYNCHRONY,
};
use snn_core::models::{Background, MicrocircuitOptions, microcircuit, microcircuit_params};
use snn_core::{Network, NetworkMemory, Plasticity};
use snn_types::{SpikeRaster, SpikeSink, Step};

/// A rule that changes nothing (attaching it unpacks the projection's delays).
struct Inert;

impl Plasticity for Inert {
    fn on_pre(&mut self, _: Step, _: u32, _: usize, _: &[u32], _: &mut [f32]) {}
    fn on_post(&mut self, _: Step, _: u32, _: &[u32], _: &[u32], _: &mut [f32]) {}
}

#[test]
fn packed_delays_and_threads_give_the_same_spikes() {
    let spec = microcircuit(0.02, &MicrocircuitOptions::default()).unwrap();
    let mut packed = Network::build(&spec).unwrap();
    assert!(packed.projections().iter().all(|p| p.delays_packed()));
    let mut plain = Network::build(&spec).unwrap();
    for j in 0..plain.projections().len() {
        plain.set_plasticity(j, Box::new(Inert)).unwrap();
    }
    assert!(plain.projections().iter().all(|p| !p.delays_packed()));
    let mut two = Network::build_with_threads(&spec, 2).unwrap();
    let (mut a, mut b, mut c) = (
        SpikeRaster::new(0),
        SpikeRaster::new(0),
        SpikeRaster::new(0),
    );
    packed.run(1500, &mut a);
    plain.run(1500, &mut b);
    two.run(1500, &mut c);
    assert!(a.len() > 100, "the network is active ({} spikes)", a.len());
    assert_eq!(a, b);
    assert_eq!(a, c);
}

/// Mean of `round(X / dt)` (at least 1) for `X` normal(`mean`, `sd`) truncated to `[dt/2, inf)`,
/// by numerical integration (the delays' expected value in steps).
fn expected_delay_steps(mean: f64, sd: f64, dt: f64) -> (f64, f64) {
    let pdf = |x: f64| (-0.5 * ((x - mean) / sd).powi(2)).exp();
    let (mut z, mut m1, mut m2) = (0.0, 0.0, 0.0);
    let h = 1e-4;
    let mut x = 0.5 * dt + h / 2.0;
    while x < mean + 12.0 * sd {
        let w = pdf(x);
        let k = (x / dt).round().max(1.0);
        z += w;
        m1 += w * k;
        m2 += w * k * k;
        x += h;
    }
    let m = m1 / z;
    (m, (m2 / z - m * m).sqrt())
}

#[test]
fn structure_matches_the_reference_formulas() {
    let scale = 0.02;
    let spec = microcircuit(scale, &MicrocircuitOptions::default()).unwrap();
    let net = Network::build(&spec).unwrap();
    let params = microcircuit_params(scale, &MicrocircuitOptions::default()).unwrap();
    // Population sizes: round(N_full * scale), ties to even as numpy.
    for (i, p) in net.populations().iter().enumerate() {
        assert_eq!(p.name, POPULATIONS[i]);
        assert_eq!(
            p.size,
            (FULL_NUM_NEURONS[i] as f64 * scale).round_ties_even() as u32
        );
    }
    let (mut pairs, mut non_zero) = (0, 0);
    let (mut exc_rel, mut inh_rel) = (Vec::new(), Vec::new());
    let (mut exc_delay, mut inh_delay) = (Vec::new(), Vec::new());
    let mut synapses = 0u64;
    for i in 0..N_POPULATIONS {
        for j in 0..N_POPULATIONS {
            // K = ln(1 - p) / ln(1 - 1 / (N_pre N_post)), scaled by scale^2 and rounded.
            let prod = FULL_NUM_NEURONS[i] as f64 * FULL_NUM_NEURONS[j] as f64;
            let k = (1.0 - CONN_PROBS[i][j]).ln() / (-1.0 / prod).ln_1p();
            let n = (k * scale * scale).round_ties_even() as usize;
            non_zero += (n > 0) as usize;
            let name = format!("{}->{}", POPULATIONS[j], POPULATIONS[i]);
            let found = net.projections().iter().find(|p| p.name == name);
            let Some(p) = found else {
                assert_eq!(n, 0, "{name} missing");
                continue;
            };
            pairs += 1;
            assert_eq!(p.n_synapses(), n, "{name}");
            synapses += n as u64;
            let mean_w = params.weight_mean_pa[i][j];
            for s in 0..n {
                let w = p.weight(s) as f64;
                assert!(
                    w * mean_w > 0.0,
                    "{name}: weight {w} keeps the sign of {mean_w}"
                );
                if j % 2 == 0 {
                    exc_rel.push(w / mean_w);
                    exc_delay.push(p.delay_steps(s) as f64);
                } else {
                    inh_rel.push(w / mean_w);
                    inh_delay.push(p.delay_steps(s) as f64);
                }
            }
        }
    }
    // 55 of the 64 pairs have a non-zero probability; every one with synapses is there.
    assert_eq!(pairs, non_zero);
    assert!(pairs >= 50, "{pairs} non-empty pairs");
    assert_eq!(net.n_synapses(), synapses);
    let stats = |v: &[f64]| {
        let n = v.len() as f64;
        let m = v.iter().sum::<f64>() / n;
        let sd = (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n).sqrt();
        (m, sd, n)
    };
    // Weights: normal, relative sd 0.1 (truncation at 0 lies 10 sd away). Tolerances: 5 standard
    // errors of the mean (sd / sqrt(n)) and of the sd (sd / sqrt(2n)).
    for rel in [&exc_rel, &inh_rel] {
        let (m, sd, n) = stats(rel);
        assert!(
            (m - 1.0).abs() < 5.0 * 0.1 / n.sqrt(),
            "relative weight mean {m}"
        );
        assert!(
            (sd - 0.1).abs() < 5.0 * 0.1 / (2.0 * n).sqrt(),
            "relative weight sd {sd}"
        );
    }
    // Delays: normal (1.5 ms, 0.75 ms) or (0.75 ms, 0.375 ms) redrawn below dt/2, in steps.
    for (d, mean) in [(&exc_delay, 1.5), (&inh_delay, 0.75)] {
        assert!(d.iter().all(|&x| x >= 1.0));
        let (m, _, n) = stats(d);
        let (expect, sd) = expected_delay_steps(mean, 0.5 * mean, 0.1);
        assert!(
            (m - expect).abs() < 5.0 * sd / n.sqrt(),
            "delay mean {m} steps, expected {expect}"
        );
    }
    // Memory: 8 bytes per synapse (f32 weight, u32 target with the delay packed) plus the row
    // pointers, as the estimate says.
    let rows: usize = net
        .projections()
        .iter()
        .map(|p| p.row_ptr().len() * 8)
        .sum();
    assert_eq!(net.synapse_memory_bytes() - rows, 8 * synapses as usize);
    let est = NetworkMemory::estimate(&spec, 1);
    let est_bytes: u64 = est.projections.iter().map(|p| p.storage_bytes).sum();
    assert_eq!(est_bytes, net.synapse_memory_bytes() as u64);
}

#[test]
fn the_same_seed_builds_the_same_network() {
    let o = MicrocircuitOptions::default();
    let a = Network::build(&microcircuit(0.01, &o).unwrap()).unwrap();
    let b = Network::build(&microcircuit(0.01, &o).unwrap()).unwrap();
    let c = Network::build(&microcircuit(0.01, &MicrocircuitOptions { seed: 7, ..o }).unwrap())
        .unwrap();
    for (x, y) in a.projections().iter().zip(b.projections()) {
        assert_eq!(x.targets(), y.targets());
        assert_eq!(x.weights(), y.weights());
    }
    assert_ne!(a.projections()[0].targets(), c.projections()[0].targets());
}

#[test]
fn dc_background_has_no_poisson_stimuli_and_the_mean_drive() {
    let o = MicrocircuitOptions {
        background: Background::Dc,
        ..Default::default()
    };
    let spec = microcircuit(1.0, &o).unwrap();
    assert!(spec.stimuli.is_empty());
    // 8 Hz x 1600 x 87.81 pA x 0.5 ms = 561.98 pA for L2/3E (reference dc_input_compensating_poisson).
    let snn_types::NeuronModel::LifExp(p) = &spec.populations[0].neuron else {
        panic!("lif_exp expected");
    };
    assert!((p.i_e_pa - 561.98).abs() < 0.05, "{}", p.i_e_pa);
}

/// Rates, CV and synchrony at 10% scale against the reference's own 10% run (slow: run with `SNN_SLOW=1`,
/// preferably `--release`).
#[test]
fn rates_at_ten_percent_match_the_reference() {
    if std::env::var("SNN_SLOW").map_or(true, |v| v != "1") {
        eprintln!("skipped: set SNN_SLOW=1 to run the 10% microcircuit (about 1.5 s simulated)");
        return;
    }
    let spec = microcircuit(0.1, &MicrocircuitOptions::default()).unwrap();
    let mut net = Network::build_with_threads(&spec, 2).unwrap();
    let (warm, window) = (5000, 10_000); // 500 ms (the reference's t_presim), then 1 s
    net.run(warm, &mut snn_core::NullSink);
    let pops: Vec<PopulationRange> = net
        .populations()
        .iter()
        .map(|p| PopulationRange {
            name: p.name.clone(),
            start: p.start,
            size: p.size,
        })
        .collect();
    let mut a = ActivityAnalyser::new(&pops, 0.1, warm, warm + window, 30, 1000).unwrap();
    net.run(window, &mut a as &mut dyn SpikeSink);
    let mut bad = Vec::new();
    // Rates within 10% of the reference's 10% run; the CV within 0.2 of its CV (the populations
    // below 1 Hz have few neurons with 3 spikes in 1 s, so their CV is noisy) and the synchrony
    // within a factor of 2 of its synchrony (one realisation of the network each).
    for (i, s) in a.finish().iter().enumerate() {
        let r = TEN_PERCENT_MEAN_RATES_HZ[i];
        eprintln!(
            "{} rate {:.3} (reference {r}) CV {:?} ({}) synchrony {:?} ({})",
            s.name,
            s.rate_hz,
            s.cv_isi,
            TEN_PERCENT_CV_ISI[i],
            s.synchrony,
            TEN_PERCENT_SYNCHRONY[i]
        );
        if (s.rate_hz / r - 1.0).abs() > 0.1 {
            bad.push(format!("{}: rate {:.3} Hz vs {r} Hz", s.name, s.rate_hz));
        }
        match s.cv_isi {
            Some(cv) if (cv - TEN_PERCENT_CV_ISI[i]).abs() <= 0.2 => {}
            cv => bad.push(format!(
                "{}: CV {cv:?} vs {}",
                s.name, TEN_PERCENT_CV_ISI[i]
            )),
        }
        match s.synchrony {
            Some(sy) if (0.5..=2.0).contains(&(sy / TEN_PERCENT_SYNCHRONY[i])) => {}
            sy => bad.push(format!(
                "{}: synchrony {sy:?} vs {}",
                s.name, TEN_PERCENT_SYNCHRONY[i]
            )),
        }
    }
    assert!(bad.is_empty(), "{bad:?}");
}

#[test]
fn truncated_normal_draws_stay_inside_and_have_the_truncated_mean() {
    use snn_types::{Distribution, ValueSpec};
    let v = ValueSpec::Random(Distribution::TruncatedNormal {
        mean: 0.0,
        std: 1.0,
        low: Some(0.0),
        high: None,
    });
    let mut rng = snn_core::rng::stream(1, snn_core::rng::StreamKind::WeightsDelays, 0);
    let n = 100_000;
    let xs: Vec<f64> = (0..n)
        .map(|_| snn_core::connect::draw(&v, &mut rng))
        .collect();
    assert!(xs.iter().all(|&x| x >= 0.0));
    // Half-normal: mean sqrt(2 / pi), sd sqrt(1 - 2 / pi).
    let m = xs.iter().sum::<f64>() / n as f64;
    let expect = (2.0 / std::f64::consts::PI).sqrt();
    let sd = (1.0 - 2.0 / std::f64::consts::PI).sqrt();
    assert!((m - expect).abs() < 5.0 * sd / (n as f64).sqrt(), "{m}");
}

#[test]
fn shipped_example_is_the_builtin_network_at_ten_percent() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/microcircuit.toml");
    let file = snn_types::NetworkSpec::load(&path).unwrap();
    assert_eq!(
        file,
        microcircuit(0.1, &MicrocircuitOptions::default()).unwrap()
    );
}

/// Delivery through the slot buckets applies a full bucket early and the rest at the end of the
/// step. Three input neurons fire together onto the same 4,000 targets (about 2,700 events per
/// slot and receptor, so every bucket fills more than once), with random weights and per-synapse
/// delays of 1-3 steps: each ring cell sums up to six weights, and `lif_beta` adds the `f32` sum
/// to its `f32` membrane, so any change of order shows in the membranes. Packed (bucketed) and unpacked (direct) delivery, on one and two threads,
/// must agree bit for bit.
#[test]
fn bucketed_delivery_matches_direct_writes_when_buckets_overflow() {
    let spec = snn_types::NetworkSpec::from_toml_str(
        r#"
        dt_ms = 0.1
        seed = 9
        [[populations]]
        name = "in"
        size = 3
        neuron = { model = "input" }
        [[populations]]
        name = "out"
        size = 4000
        neuron = { model = "lif_beta", beta = 0.9, threshold = 1000.0 }
        [[projections]]
        source = "in"
        target = "out"
        receptor = "excitatory"
        connectivity = { rule = "all_to_all" }
        weight = { dist = "normal", mean = 0.3, std = 0.7 }
        delay_ms = { dist = "uniform", low = 0.1, high = 0.3 }
        [[projections]]
        source = "in"
        target = "out"
        receptor = "inhibitory"
        connectivity = { rule = "all_to_all" }
        weight = { dist = "normal", mean = -0.1, std = 0.7 }
        delay_ms = { dist = "uniform", low = 0.1, high = 0.3 }
        [[stimuli]]
        kind = "spike_array"
        target = "in"
        spikes = [{ neuron = 0, times_ms = [0.0, 0.5] }, { neuron = 1, times_ms = [0.0, 0.5] },
                  { neuron = 2, times_ms = [0.0, 0.5] }]
        "#,
    )
    .unwrap();
    let mut packed = Network::build(&spec).unwrap();
    assert!(packed.projections().iter().all(|p| p.delays_packed()));
    let mut plain = Network::build(&spec).unwrap();
    for j in 0..plain.projections().len() {
        plain.set_plasticity(j, Box::new(Inert)).unwrap();
    }
    let mut two = Network::build_with_threads(&spec, 2).unwrap();
    let (mut a, mut b, mut c) = (
        SpikeRaster::new(0),
        SpikeRaster::new(0),
        SpikeRaster::new(0),
    );
    packed.run(12, &mut a);
    plain.run(12, &mut b);
    two.run(12, &mut c);
    let (ma, mb, mc) = (packed.membrane(1), plain.membrane(1), two.membrane(1));
    let bits = |m: &[f32]| m.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert!(ma.iter().any(|&v| v != ma[0]), "the inputs arrived");
    assert_eq!(bits(&ma), bits(&mb));
    assert_eq!(bits(&ma), bits(&mc));
    assert_eq!(a, b);
    assert_eq!(a, c);
}
