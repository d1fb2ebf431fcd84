//! Golden vectors for the weight path, next to the LIF golden vectors of
//! `crates/snn-core/tests/loihi_golden.rs`.
//!
//! Where the numbers come from: Lava's bit-accurate `Dense` process (`PyDenseModelBitAcc` in
//! `lava/proc/dense/models.py`, lava-nc/lava) takes integer weights, applies `clip_weights(w,
//! sign_mode, num_bits=8)` then `truncate_weights(w, sign_mode, num_weight_bits)` from
//! `lava/utils/weightutils.py`, and shifts each step's accumulated input left by `weight_exp`.
//! `truncate_weights` negates inhibitory weights, clears `8 - num_weight_bits + is_mixed` low
//! bits with numpy's arithmetic `>>` then `<<` (rounding toward minus infinity), and negates back.
//! Every expected integer below was derived by hand from those rules (not produced by running
//! Lava); the derivation is in the comment of each row.

use snn_neuromorphic::quantise::{
    SignMode, lava_clip_weight, lava_sign_mode, lava_truncate_weight,
};
use snn_neuromorphic::{ArchSpec, CompileOptions, compile_with};
use snn_types::{Connectivity, NetworkSpec};

/// (weights, num_weight_bits, sign mode) -> Lava's integer weights (8 weight bits).
#[allow(clippy::type_complexity)]
const TABLE: &[(&[i64], u32, SignMode, &[i64])] = &[
    // The issue's example: mixed, k = 8 - 8 + 1 = 1: 5 >> 1 << 1 = 4, -3 >> 1 = -2, << 1 = -4.
    (&[5, -3], 8, SignMode::Mixed, &[4, -4]),
    // k = 2: 5 >> 2 = 1 -> 4; -3 >> 2 = -1 -> -4.
    (&[5, -3], 7, SignMode::Mixed, &[4, -4]),
    // Mixed range [-256, 255]; k = 1: 255 -> 254, -256 stays, -1 >> 1 = -1 -> -2, 1 -> 0.
    (&[255, -256, -1, 1], 8, SignMode::Mixed, &[254, -256, -2, 0]),
    // Clipped first to [-256, 255], then k = 1.
    (&[300, -300], 8, SignMode::Mixed, &[254, -256]),
    // k = 5: 100 >> 5 = 3 -> 96; -100 >> 5 = floor(-3.125) = -4 -> -128.
    (&[100, -100], 4, SignMode::Mixed, &[96, -128]),
    // Mixed, 1 bit: k = 8: everything becomes 0 or -256.
    (&[255, 3, -1, -256], 1, SignMode::Mixed, &[0, 0, -256, -256]),
    // Excitatory at full precision: k = 0, unchanged.
    (&[255, 1, 0], 8, SignMode::Excitatory, &[255, 1, 0]),
    // Excitatory, k = 2: 255 -> 252, 130 -> 128, 7 -> 4, 3 -> 0.
    (
        &[255, 130, 7, 3],
        6,
        SignMode::Excitatory,
        &[252, 128, 4, 0],
    ),
    // Excitatory clips to [0, 255]: 256 -> 255, -5 -> 0.
    (&[256, -5], 8, SignMode::Excitatory, &[255, 0]),
    // Inhibitory, k = 2: negated 255 -> 252, 130 -> 128, 7 -> 4, 3 -> 0, negated back.
    (
        &[-255, -130, -7, -3],
        6,
        SignMode::Inhibitory,
        &[-252, -128, -4, 0],
    ),
    // Inhibitory clips to [-255, 0]: -256 -> -255; k = 0.
    (&[-256, -17], 8, SignMode::Inhibitory, &[-255, -17]),
    // Inhibitory, k = 7: -255 -> -128 (toward zero), -127 -> 0.
    (&[-255, -127], 1, SignMode::Inhibitory, &[-128, 0]),
];

#[test]
fn lava_truncation_table() {
    for (weights, nwb, mode, expect) in TABLE {
        let got: Vec<i64> = weights
            .iter()
            .map(|&w| lava_truncate_weight(lava_clip_weight(w, *mode, 8), *mode, 8, *nwb))
            .collect();
        assert_eq!(&got[..], *expect, "{weights:?} at {nwb} bits, {mode:?}");
    }
}

#[test]
fn lava_sign_modes() {
    assert_eq!(lava_sign_mode(&[5, -3]), SignMode::Mixed);
    assert_eq!(lava_sign_mode(&[0, 3]), SignMode::Excitatory);
    assert_eq!(lava_sign_mode(&[0, 0]), SignMode::Excitatory);
    assert_eq!(lava_sign_mode(&[0, -3]), SignMode::Inhibitory);
}

/// `in` (2 inputs) -> `out` (1 loihi_lif) with explicit integer weights.
fn net(weights: &[i64]) -> NetworkSpec {
    let n = weights.len();
    NetworkSpec::from_toml_str(&format!(
        r#"
        dt_ms = 1.0
        [[populations]]
        name = "in"
        size = {n}
        neuron = {{ model = "input" }}
        [[populations]]
        name = "out"
        size = 1
        neuron = {{ model = "loihi_lif", du = 4095, dv = 0, vth_mant = 100 }}
        [[projections]]
        source = "in"
        target = "out"
        connectivity = {{ rule = "explicit", sources = {:?}, targets = {:?}, weights = {:?} }}
        "#,
        (0..n as u32).collect::<Vec<_>>(),
        vec![0u32; n],
        weights.iter().map(|&w| w as f64).collect::<Vec<_>>(),
    ))
    .unwrap()
}

fn compiled_weights(weights: &[i64], bits: Option<u32>) -> Vec<i64> {
    let arch = ArchSpec::preset("loihi").unwrap();
    let opt = CompileOptions {
        num_weight_bits: bits,
        ..Default::default()
    };
    let q = compile_with(&net(weights), &arch, &opt)
        .unwrap()
        .quantised_spec();
    match &q.projections[0].connectivity {
        Connectivity::Explicit {
            weights: Some(w), ..
        } => w.iter().map(|&x| x as i64).collect(),
        other => panic!("expected explicit weights, got {other:?}"),
    }
}

#[test]
fn the_compiler_follows_lavas_path() {
    // The issue's example, at 8 and 7 bits.
    assert_eq!(compiled_weights(&[5, -3], None), vec![4, -4]);
    assert_eq!(compiled_weights(&[5, -3], Some(7)), vec![4, -4]);
    // Excitatory keeps full precision at 8 bits; 6 bits clear 2 bits.
    assert_eq!(compiled_weights(&[7, 130], None), vec![7, 130]);
    assert_eq!(compiled_weights(&[7, 130], Some(6)), vec![4, 128]);
    // Weight exponent: 1004 and -604 need exponent 2 (mantissas 251 and -151, as a Lava user
    // would write with weight_exp = 2); truncation (k = 1, mixed) gives 250 and -152; Lava
    // shifts the accumulated input left by 2: 1000 and -608 per synapse.
    assert_eq!(compiled_weights(&[1004, -604], None), vec![1000, -608]);
    // Inhibitory with exponent 1: -300 -> mantissa -150, 6 bits (k = 2): -148 -> -296.
    assert_eq!(compiled_weights(&[-300, -10], Some(6)), vec![-296, -8]);
}
