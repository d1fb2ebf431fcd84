//! Statistical and behavioural tests of the encoders: Poisson counts against the binomial
//! expectation, determinism and batch independence, TTFS monotonicity, delta reconstruction, and
//! typed errors on bad input.

use snn_encode::decode::{first_spike_steps, rates_hz};
use snn_encode::{
    BurstEncoder, DeltaEncoder, EncodeError, Encoder, Normalize, PhaseEncoder, PopulationEncoder,
    RateEncoder, SpikeRaster, TtfsEncoder,
};

/// Mean and unbiased variance.
fn mean_var(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0);
    (m, var)
}

#[test]
fn poisson_counts_match_binomial_mean_and_variance() {
    // 200 Hz at dt = 1 ms: p = 0.2 x per step, T = 100 steps, 1500 seeds.
    let enc = RateEncoder::poisson(200.0, 1.0, 100).unwrap();
    let xs: Vec<f32> = (0..=10).map(|i| i as f32 / 10.0).collect();
    let seeds = 1500;
    let mut counts = vec![Vec::with_capacity(seeds); xs.len()];
    for seed in 0..seeds as u64 {
        let r = enc.encode(&xs, Normalize::UNIT, seed).unwrap();
        for (f, c) in r.counts(xs.len()).into_iter().enumerate() {
            counts[f].push(c as f64);
        }
    }
    let t = 100.0;
    for (f, &x) in xs.iter().enumerate() {
        let p = 0.2 * x as f64;
        let (mean, var) = mean_var(&counts[f]);
        let (mu, sigma2) = (t * p, t * p * (1.0 - p));
        if p == 0.0 {
            assert_eq!(mean, 0.0, "zero intensity spiked");
            continue;
        }
        let n = seeds as f64;
        // Mean: 5 standard errors. Variance: 5 standard errors of the sample variance
        // (sigma^4 (2/(n-1) + excess kurtosis / n), binomial kurtosis).
        let kurt = (1.0 - 6.0 * p * (1.0 - p)) / sigma2;
        let se_var = (sigma2 * sigma2 * (2.0 / (n - 1.0) + kurt / n)).sqrt();
        assert!(
            (mean - mu).abs() < 5.0 * (sigma2 / n).sqrt(),
            "x = {x}: mean {mean} vs {mu}"
        );
        assert!(
            (var - sigma2).abs() < 5.0 * se_var,
            "x = {x}: variance {var} vs {sigma2} (se {se_var})"
        );
    }
}

#[test]
fn zero_intensity_never_spikes() {
    for enc in [
        RateEncoder::poisson(1000.0, 1.0, 500).unwrap(),
        RateEncoder::regular(1000.0, 1.0, 500).unwrap(),
    ] {
        for seed in 0..50 {
            let r = enc.encode(&[0.0; 32], Normalize::UNIT, seed).unwrap();
            assert!(r.is_empty(), "{enc:?} seed {seed}");
        }
    }
    let ttfs = TtfsEncoder::linear(100, 0.0).unwrap();
    assert!(
        ttfs.encode(&[0.0; 8], Normalize::UNIT, 0)
            .unwrap()
            .is_empty()
    );
    let phase = PhaseEncoder::new(8, 16).unwrap();
    assert!(
        phase
            .encode(&[0.0; 8], Normalize::UNIT, 0)
            .unwrap()
            .is_empty()
    );
    let burst = BurstEncoder::new(5, 2, 10, 100).unwrap();
    assert!(
        burst
            .encode(&[0.0; 8], Normalize::UNIT, 0)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn full_intensity_spikes_at_max_rate() {
    // 1000 Hz at 1 ms: p = 1, a spike every step.
    let enc = RateEncoder::poisson(1000.0, 1.0, 250).unwrap();
    let r = enc.encode(&[1.0; 16], Normalize::UNIT, 3).unwrap();
    assert_eq!(r.counts(16), vec![250; 16]);
    // 100 Hz at 0.5 ms (p = 0.05): 16 features x 2000 steps (1 s) average 100 Hz within 5 se.
    let enc = RateEncoder::poisson(100.0, 0.5, 2000).unwrap();
    let r = enc.encode(&[1.0; 16], Normalize::UNIT, 9).unwrap();
    let rates = rates_hz(&r, 16, 0.5);
    let mean = rates.iter().sum::<f64>() / 16.0;
    let se_hz = (2000.0f64 * 0.05 * 0.95).sqrt() / 16f64.sqrt(); // counts per 1 s = Hz
    assert!((mean - 100.0).abs() < 5.0 * se_hz, "mean rate {mean} Hz");
    // The regular encoder hits the rate exactly.
    let enc = RateEncoder::regular(100.0, 0.5, 2000).unwrap();
    let r = enc.encode(&[1.0, 0.5], Normalize::UNIT, 0).unwrap();
    assert_eq!(rates_hz(&r, 2, 0.5), vec![100.0, 50.0]);
}

#[test]
fn regular_spikes_are_evenly_spaced() {
    let enc = RateEncoder::regular(250.0, 1.0, 40).unwrap(); // p = 0.25 at x = 1
    let r = enc.encode(&[1.0], Normalize::UNIT, 0).unwrap();
    let steps: Vec<u64> = r.iter().map(|s| s.step).collect();
    assert_eq!(steps.len(), 10);
    assert!(steps.windows(2).all(|w| w[1] - w[0] == 4), "{steps:?}");
}

#[test]
fn same_seed_same_spikes_and_batches_do_not_matter() {
    let enc = RateEncoder::poisson(300.0, 1.0, 60).unwrap();
    let norm = Normalize::new(0.0, 16.0).unwrap();
    let samples: Vec<Vec<f32>> = (0..5)
        .map(|i| (0..20).map(|f| ((i * 7 + f * 3) % 17) as f32).collect())
        .collect();
    let flat: Vec<f32> = samples.concat();
    let whole = enc.encode_batch(&flat, 20, norm, 11, 0).unwrap();
    assert_eq!(whole.shape(), [60, 5, 20]);
    // Same tensor again; each sample equal to its single-sample encoding; split batches agree.
    assert_eq!(whole, enc.encode_batch(&flat, 20, norm, 11, 0).unwrap());
    let tail = enc.encode_batch(&flat[40..], 20, norm, 11, 2).unwrap();
    for (i, x) in samples.iter().enumerate() {
        let single = enc.encode_sample(x, norm, 11, i as u64).unwrap();
        assert_eq!(whole.sample_raster(i), single, "sample {i}");
        if i >= 2 {
            assert_eq!(
                tail.sample_raster(i - 2),
                single,
                "sample {i} in a split batch"
            );
        }
    }
    // A different seed or sample index gives a different stream.
    assert_ne!(
        enc.encode_sample(&samples[4], norm, 11, 4).unwrap(),
        enc.encode_sample(&samples[4], norm, 12, 4).unwrap()
    );
    assert_ne!(
        enc.encode_sample(&samples[4], norm, 11, 4).unwrap(),
        enc.encode_sample(&samples[4], norm, 11, 5).unwrap()
    );
    assert_eq!(
        whole.total_spikes(),
        (0..5)
            .map(|i| whole.sample_raster(i).len() as f64)
            .sum::<f64>()
    );
}

/// Catches a change of the random streams (e.g. a `rand` upgrade): these spikes must never move.
#[test]
fn golden_poisson_raster() {
    let enc = RateEncoder::poisson(500.0, 1.0, 20).unwrap();
    let r = enc
        .encode(&[0.25, 1.0, 0.5], Normalize::UNIT, 2024)
        .unwrap();
    let spikes: Vec<(u64, u32)> = r.iter().map(|s| (s.step, s.neuron)).collect();
    assert_eq!(spikes, GOLDEN);
}

const GOLDEN: &[(u64, u32)] = &[
    (0, 1),
    (0, 2),
    (1, 1),
    (1, 2),
    (3, 0),
    (4, 2),
    (5, 1),
    (5, 2),
    (6, 1),
    (8, 0),
    (9, 1),
    (12, 2),
    (13, 1),
    (14, 0),
    (17, 2),
    (18, 1),
    (19, 1),
    (19, 2),
];

#[test]
fn ttfs_brighter_is_earlier_one_spike_at_most() {
    for enc in [
        TtfsEncoder::linear(64, 0.0).unwrap(),
        TtfsEncoder::linear(64, 0.2).unwrap(),
        TtfsEncoder::log(64, 0.01).unwrap(),
    ] {
        let xs: Vec<f32> = (0..=200).map(|i| i as f32 / 200.0).collect();
        let r = enc.encode(&xs, Normalize::UNIT, 0).unwrap();
        assert!(r.counts(xs.len()).iter().all(|&c| c <= 1), "{enc:?}");
        let first = first_spike_steps(&r, xs.len());
        // Higher intensity never later: treat "no spike" as infinitely late.
        let key = |t: Option<u64>| t.unwrap_or(u64::MAX);
        assert!(
            first.windows(2).all(|w| key(w[1]) <= key(w[0])),
            "{enc:?}: {first:?}"
        );
        assert_eq!(first[200], Some(0), "full intensity fires at step 0");
        assert_eq!(first[0], None, "zero never fires");
    }
    let enc = TtfsEncoder::linear(11, 0.3).unwrap();
    assert_eq!(enc.spike_step(0.29), None);
    assert_eq!(enc.spike_step(0.3), Some(7));
    assert_eq!(enc.spike_step(0.5), Some(5));
}

#[test]
fn send_on_delta_reconstructs_a_sine_within_the_threshold() {
    let theta = 0.05;
    let n = 500;
    // Two channels: a sine and a faster, larger cosine (several events per step).
    let signal: Vec<f32> = (0..n)
        .flat_map(|t| {
            let t = t as f32;
            [
                (t * std::f32::consts::TAU / 50.0).sin(),
                3.0 * (t * std::f32::consts::TAU / 20.0).cos(),
            ]
        })
        .collect();
    let enc = DeltaEncoder::send_on_delta(theta as f64).unwrap();
    let r = enc.encode(&signal, 2).unwrap();
    assert_eq!(r.n_steps(), n as u64);
    let counts = r.counts(4);
    assert!(
        counts.iter().all(|&c| c > 0),
        "ON and OFF events on both channels: {counts:?}"
    );
    // At most one event per theta of the sampled sine's total variation (about 40 over 10
    // periods), and at most two fewer per monotone run (each run ends with less than theta
    // unsent, and starts with less than theta of credit).
    let sine: Vec<f32> = signal.iter().step_by(2).copied().collect();
    let tv: f32 = sine.windows(2).map(|w| (w[1] - w[0]).abs()).sum();
    let signs: Vec<bool> = sine
        .windows(2)
        .filter(|w| w[1] != w[0])
        .map(|w| w[1] > w[0])
        .collect();
    let runs = 1 + signs.windows(2).filter(|w| w[0] != w[1]).count();
    let events = (counts[0] + counts[1]) as f32;
    assert!(
        events <= tv / theta + 1e-3 && events >= tv / theta - 2.0 * runs as f32,
        "{counts:?}, tv {tv}, runs {runs}"
    );
    let rec = enc.decode(&r, &signal[..2]);
    assert_eq!(rec.len(), signal.len());
    for (i, (x, y)) in signal.iter().zip(&rec).enumerate() {
        assert!((x - y).abs() < theta + 1e-5, "sample {i}: {x} vs {y}");
    }
    // Step-forward tracks a slow sine (slope below theta per step) within theta too.
    let slow: Vec<f32> = (0..n)
        .map(|t| (t as f32 * std::f32::consts::TAU / 200.0).sin())
        .collect();
    let sf = DeltaEncoder::step_forward(theta as f64).unwrap();
    let r = sf.encode(&slow, 1).unwrap();
    let rec = sf.decode(&r, &slow[..1]);
    for (x, y) in slow.iter().zip(&rec) {
        assert!((x - y).abs() <= theta + 1e-5, "{x} vs {y}");
    }
    assert!(r.at(0).is_empty(), "no event at step 0");
}

#[test]
fn phase_and_burst_codes() {
    let phase = PhaseEncoder::new(4, 8).unwrap();
    // x = 1 -> q = 15 = 1111: every step; x = 0.6 -> q = 9 = 1001.
    let r = phase.encode(&[1.0, 0.6], Normalize::UNIT, 0).unwrap();
    let on: Vec<u64> = r.iter().filter(|s| s.neuron == 1).map(|s| s.step).collect();
    assert_eq!(on, vec![0, 3, 4, 7]);
    assert_eq!(r.counts(2)[0], 8);
    assert_eq!(phase.decode(&r, 2), vec![1.0, 0.6]);

    let burst = BurstEncoder::new(4, 2, 10, 40).unwrap();
    assert_eq!(burst.burst(1.0), (4, 2));
    assert_eq!(burst.burst(0.5), (2, 6));
    let r = burst.encode(&[1.0, 0.5], Normalize::UNIT, 0).unwrap();
    let f0: Vec<u64> = r.iter().filter(|s| s.neuron == 0).map(|s| s.step).collect();
    assert_eq!(f0, vec![0, 2, 4, 6]);
    assert_eq!(burst.decode(&r, 2), vec![1.0, 0.5]);
}

#[test]
fn population_fields_peak_at_their_centres() {
    let enc = PopulationEncoder::new(5, 1.5, 50, 0.1).unwrap();
    assert_eq!(enc.outputs_per_feature(), 5);
    let r = enc.encode(&[0.5, 0.0], Normalize::UNIT, 0).unwrap();
    // Feature 0 = 0.5 is the centre of field 2 (neuron 2): it fires first, at step 0.
    assert_eq!(r.at(0), &[2, 5]);
    let first = first_spike_steps(&r, 10);
    assert_eq!(first[1], first[3], "symmetric neighbours fire together");
    assert_eq!(first[0], None, "far fields stay silent below threshold");
    let mut act = vec![0.0; 10];
    enc.activations_into(&[0.5, 0.0], &mut act).unwrap();
    assert_eq!(act[2], 1.0);
    assert!(enc.max_abs_error() < 0.01, "{}", enc.max_abs_error());
}

#[test]
fn bad_input_is_a_typed_error() {
    let param = |e: EncodeError| match e {
        EncodeError::InvalidParameter { name, .. } => name,
        other => panic!("expected InvalidParameter, got {other:?}"),
    };
    assert_eq!(param(Normalize::new(1.0, 1.0).unwrap_err()), "min/max");
    assert_eq!(param(Normalize::new(2.0, 1.0).unwrap_err()), "min/max");
    assert_eq!(param(Normalize::new(f32::NAN, 1.0).unwrap_err()), "min/max");
    assert_eq!(
        param(RateEncoder::poisson(100.0, 1.0, 0).unwrap_err()),
        "steps"
    );
    assert_eq!(
        param(RateEncoder::poisson(-1.0, 1.0, 10).unwrap_err()),
        "max_rate_hz"
    );
    assert_eq!(
        param(RateEncoder::poisson(100.0, f64::NAN, 10).unwrap_err()),
        "dt_ms"
    );
    assert_eq!(param(TtfsEncoder::linear(1, 0.0).unwrap_err()), "steps");
    assert_eq!(
        param(TtfsEncoder::linear(10, 1.0).unwrap_err()),
        "threshold"
    );
    assert_eq!(param(TtfsEncoder::log(10, 0.0).unwrap_err()), "x_min");
    assert_eq!(param(PhaseEncoder::new(0, 10).unwrap_err()), "bits");
    assert_eq!(param(PhaseEncoder::new(8, 4).unwrap_err()), "steps");
    assert_eq!(
        param(BurstEncoder::new(5, 3, 2, 100).unwrap_err()),
        "isi_min_steps"
    );
    assert_eq!(param(BurstEncoder::new(5, 2, 10, 20).unwrap_err()), "steps");
    assert_eq!(
        param(PopulationEncoder::new(1, 1.5, 10, 0.1).unwrap_err()),
        "neurons_per_feature"
    );
    assert_eq!(
        param(PopulationEncoder::new(4, 0.0, 10, 0.1).unwrap_err()),
        "beta"
    );
    assert_eq!(
        param(PopulationEncoder::new(4, 1.5, 10, 0.0).unwrap_err()),
        "threshold"
    );
    assert_eq!(
        param(DeltaEncoder::send_on_delta(0.0).unwrap_err()),
        "threshold"
    );
    // A threshold far too small for the signal is refused rather than exhausting memory.
    let tiny = DeltaEncoder::send_on_delta(1e-12).unwrap();
    assert_eq!(param(tiny.encode(&[0.0, 1e6], 1).unwrap_err()), "threshold");

    let enc = RateEncoder::poisson(100.0, 1.0, 10).unwrap();
    let e = enc
        .encode(&[0.0, f32::NAN], Normalize::UNIT, 0)
        .unwrap_err();
    assert!(
        matches!(e, EncodeError::NonFinite { index: 1, value } if value.is_nan()),
        "{e:?}"
    );
    assert_eq!(e.to_string(), "input value 1 is not finite (NaN)");
    assert!(matches!(
        enc.encode_batch(&[0.0, 1.0, 0.0, f32::INFINITY], 2, Normalize::UNIT, 0, 0),
        Err(EncodeError::NonFinite { index: 3, .. })
    ));
    assert!(matches!(
        enc.encode(&[], Normalize::UNIT, 0),
        Err(EncodeError::Empty)
    ));
    assert!(matches!(
        enc.encode_batch(&[0.0; 5], 2, Normalize::UNIT, 0, 0),
        Err(EncodeError::Shape {
            len: 5,
            per_sample: 2
        })
    ));
    assert!(matches!(
        DeltaEncoder::send_on_delta(0.1)
            .unwrap()
            .encode(&[0.0, 1.0, f32::NAN], 1),
        Err(EncodeError::NonFinite { index: 2, .. })
    ));
    // Out-of-range raw values are clamped, not errors.
    let r = enc.encode(&[-5.0, 99.0], Normalize::UNIT, 0).unwrap();
    assert_eq!(r.counts(2)[0], 0);
    let _: SpikeRaster = r;
}

#[test]
fn a_spike_probability_above_one_is_refused() {
    // 5000 Hz at 1 ms is p = 5 per step; 1000 Hz at 1 ms (p = 1) is the largest accepted.
    for (rate, dt) in [(5000.0, 1.0), (1000.0, 1.5), (f64::MAX, 1.0)] {
        match RateEncoder::poisson(rate, dt, 10).unwrap_err() {
            EncodeError::InvalidParameter { name, reason } => {
                assert_eq!(name, "max_rate_hz");
                assert!(reason.contains("above 1"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }
    RateEncoder::regular(1000.0, 1.0, 10).unwrap();
    for bad in [-1.0, 0.0, f64::NAN, f64::INFINITY] {
        assert!(RateEncoder::poisson(bad, 1.0, 10).is_err(), "{bad}");
        assert!(RateEncoder::poisson(100.0, bad, 10).is_err(), "{bad}");
    }
}
