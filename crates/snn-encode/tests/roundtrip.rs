//! decode(encode(x)) recovers x within each encoder's stated quantisation error, for random
//! inputs and parameters.

use proptest::prelude::*;
use snn_encode::{
    BurstEncoder, Encoder, Normalize, PhaseEncoder, PopulationEncoder, RateEncoder, TtfsEncoder,
};

fn features() -> impl Strategy<Value = Vec<f32>> {
    prop::collection::vec(prop_oneof![Just(0.0f32), Just(1.0f32), 0.0f32..=1.0], 1..40)
}

fn check(xs: &[f32], got: &[f32], bound: f32) -> Result<(), TestCaseError> {
    prop_assert_eq!(xs.len(), got.len());
    for (i, (x, d)) in xs.iter().zip(got).enumerate() {
        prop_assert!(
            (x - d).abs() <= bound + 1e-5,
            "feature {}: x = {}, decoded {}, bound {}",
            i,
            x,
            d,
            bound
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn regular_rate_round_trip(xs in features(), steps in 1usize..300, rate in 10.0f64..1000.0, dt in 0.1f64..2.0) {
        // A spike probability above 1 per step is refused by the constructor.
        prop_assume!(rate * dt <= 1000.0);
        let enc = RateEncoder::regular(rate, dt, steps).unwrap();
        let r = enc.encode(&xs, Normalize::UNIT, 0).unwrap();
        check(&xs, &enc.decode(&r, xs.len()), enc.max_abs_error())?;
    }

    #[test]
    fn ttfs_linear_round_trip(xs in features(), steps in 2usize..300, threshold in prop_oneof![Just(0.0f32), 0.0f32..0.5]) {
        let enc = TtfsEncoder::linear(steps, threshold).unwrap();
        let r = enc.encode(&xs, Normalize::UNIT, 0).unwrap();
        check(&xs, &enc.decode(&r, xs.len()), enc.max_abs_error())?;
        prop_assert!(r.counts(xs.len()).iter().all(|&c| c <= 1));
    }

    #[test]
    fn ttfs_log_round_trip(xs in features(), steps in 2usize..300, x_min in 0.001f32..0.5) {
        let enc = TtfsEncoder::log(steps, x_min).unwrap();
        let r = enc.encode(&xs, Normalize::UNIT, 0).unwrap();
        check(&xs, &enc.decode(&r, xs.len()), enc.max_abs_error())?;
    }

    #[test]
    fn population_round_trip(xs in features(), n in 2usize..24, beta in 0.8f64..2.5, steps in 20usize..400) {
        let enc = PopulationEncoder::new(n, beta, steps, 0.05).unwrap();
        let bound = enc.max_abs_error();
        prop_assume!(bound.is_finite());
        let r = enc.encode(&xs, Normalize::UNIT, 0).unwrap();
        check(&xs, &enc.decode(&r, xs.len()), bound)?;
    }

    #[test]
    fn phase_and_burst_round_trip(xs in features(), bits in 1u32..16, n_max in 1u32..12) {
        let phase = PhaseEncoder::new(bits, 2 * bits as usize).unwrap();
        let r = phase.encode(&xs, Normalize::UNIT, 0).unwrap();
        check(&xs, &phase.decode(&r, xs.len()), phase.max_abs_error())?;
        let burst = BurstEncoder::new(n_max, 1, 3, 3 * n_max as usize).unwrap();
        let r = burst.encode(&xs, Normalize::UNIT, 0).unwrap();
        check(&xs, &burst.decode(&r, xs.len()), burst.max_abs_error())?;
    }

    /// Any raw range works: encoding raw values with their (min, max) equals encoding the
    /// normalised values, and the round trip holds in raw units after denormalising.
    #[test]
    fn normalisation_is_explicit(raw in prop::collection::vec(-50.0f32..50.0, 1..20), lo in -60.0f32..-50.0, hi in 50.0f32..60.0) {
        let norm = Normalize::new(lo, hi).unwrap();
        let enc = TtfsEncoder::linear(101, 0.0).unwrap();
        let unit: Vec<f32> = raw.iter().map(|&x| norm.apply(x)).collect();
        let a = enc.encode(&raw, norm, 0).unwrap();
        prop_assert_eq!(&a, &enc.encode(&unit, Normalize::UNIT, 0).unwrap());
        let back: Vec<f32> = enc.decode(&a, raw.len()).into_iter().map(|u| norm.denormalize(u)).collect();
        for (x, y) in raw.iter().zip(&back) {
            prop_assert!((x - y).abs() <= enc.max_abs_error() * (hi - lo) + 1e-3);
        }
    }
}

#[test]
fn stated_bounds_are_tight_enough_to_matter() {
    assert_eq!(
        TtfsEncoder::linear(101, 0.0).unwrap().max_abs_error(),
        0.005
    );
    assert!(
        (RateEncoder::regular(200.0, 1.0, 100)
            .unwrap()
            .max_abs_error()
            - 0.025)
            .abs()
            < 1e-6
    );
    let pop = PopulationEncoder::new(8, 1.5, 100, 0.1).unwrap();
    assert!(pop.max_abs_error() < 0.002, "{}", pop.max_abs_error());
    // A bound that cannot hold is reported as infinite, not as a wrong number.
    assert!(
        PopulationEncoder::new(8, 1.5, 3, 0.1)
            .unwrap()
            .max_abs_error()
            .is_infinite()
    );
    assert!(
        PopulationEncoder::new(8, 1.5, 100, 0.5)
            .unwrap()
            .max_abs_error()
            .is_infinite()
    );
}
