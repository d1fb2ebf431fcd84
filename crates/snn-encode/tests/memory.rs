//! Encodings too large for memory are refused before allocating, with the size they would need.

use snn_encode::{
    EncodeError, Encoder, Normalize, PopulationEncoder, RateEncoder, SpikeRaster, TtfsEncoder,
};
use snn_types::budget::MemoryBudget;

#[test]
fn raster_estimates_bound_the_actual_rasters() {
    let x: Vec<f32> = (0..64).map(|i| (i % 17) as f32).collect();
    let norm = Normalize::new(0.0, 16.0).unwrap();
    let rate = RateEncoder::poisson(200.0, 1.0, 1000).unwrap();
    let r = rate.encode(&x, norm, 1).unwrap();
    let bound = rate.max_spikes_per_feature() * 64;
    assert!(r.len() as u64 <= bound, "{} > {bound}", r.len());
    assert!(rate.raster_bytes(64) >= SpikeRaster::estimated_bytes(1000, r.len() as u64));
    let regular = RateEncoder::regular(200.0, 1.0, 1000).unwrap();
    assert!(
        regular.encode(&x, norm, 1).unwrap().len() as u64 <= regular.max_spikes_per_feature() * 64
    );
    assert_eq!(
        TtfsEncoder::linear(50, 0.0)
            .unwrap()
            .max_spikes_per_feature(),
        1
    );
    let pop = PopulationEncoder::new(8, 1.5, 50, 0.1).unwrap();
    assert_eq!(pop.max_spikes_per_feature(), 8);
    assert_eq!(pop.tensor_bytes(2, 64), 50 * 2 * 64 * 8 * 4);
}

#[test]
fn a_budget_refuses_with_the_needed_size() {
    let rate = RateEncoder::poisson(200.0, 1.0, u32::MAX as usize).unwrap();
    let err = rate
        .check_raster_memory(64, &MemoryBudget::limit(64 << 30))
        .unwrap_err();
    let EncodeError::Memory(e) = &err else {
        panic!("{err}")
    };
    assert!(e.needed_bytes > 1 << 40);
    assert!(
        err.to_string()
            .starts_with("encoding 64 features over 4294967295 steps needs about 1.03 TiB"),
        "{err}"
    );
}

#[test]
fn encode_and_encode_batch_refuse_what_no_machine_has() {
    // 65,536 features over 2^32 - 1 steps: petabytes. The input itself is 256 KiB.
    let x = vec![1.0f32; 1 << 16];
    let rate = RateEncoder::poisson(200.0, 1.0, u32::MAX as usize).unwrap();
    let err = rate.encode(&x, Normalize::UNIT, 0).unwrap_err();
    assert!(matches!(err, EncodeError::Memory(_)), "{err}");
    let ttfs = TtfsEncoder::linear(u32::MAX as usize, 0.0).unwrap();
    let err = ttfs.encode_batch(&x, 4, Normalize::UNIT, 0, 0).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("a spike tensor of 4294967295 steps x 16384 samples x 4 neurons"),
        "{err}"
    );
}
