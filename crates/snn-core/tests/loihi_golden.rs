//! Lava's golden vectors for the fixed-point CUBA LIF, the contract between the engine and the
//! chip model (both run `snn_core::neuron::LoihiCoef::step`), through both entry points, plus
//! overflow and saturation edges.

use snn_core::neuron::{LOIHI_V_MAX as V_MAX, LoihiCoef, loihi_step};
use snn_types::LoihiLifParams;

type StepFn = fn(&LoihiLifParams, i32, i32, i32) -> (i32, i32, bool);

/// The per-population constants path, as the chip's soma stage and the engine's kernel call it.
fn coef_step(p: &LoihiLifParams, u: i32, v: i32, a: i32) -> (i32, i32, bool) {
    LoihiCoef::new(p).step(u, v, a)
}

const IMPLS: [(&str, StepFn); 2] = [("loihi_step", loihi_step), ("LoihiCoef::step", coef_step)];

fn p(du: u16, dv: u16, vth_mant: i32, bias_mant: i32, bias_exp: u8) -> LoihiLifParams {
    LoihiLifParams {
        du,
        dv,
        vth_mant,
        bias_mant,
        bias_exp,
    }
}

/// Runs `steps` steps with `a_in` given per step (1-based like Lava's vectors: index 0 is t=1).
fn trace(
    f: StepFn,
    prm: &LoihiLifParams,
    a: &[i32],
    steps: usize,
) -> (Vec<i32>, Vec<i32>, Vec<usize>) {
    let (mut u, mut v) = (0, 0);
    let (mut us, mut vs, mut sp) = (vec![], vec![], vec![]);
    for t in 0..steps {
        let (u1, v1, s) = f(prm, u, v, a.get(t).copied().unwrap_or(0));
        u = u1;
        v = v1;
        us.push(u);
        vs.push(v);
        if s {
            sp.push(t + 1);
        }
    }
    (us, vs, sp)
}

#[test]
fn golden_current_decay() {
    for (name, f) in IMPLS {
        let (u, _, _) = trace(f, &p(2047, 0, 256, 0, 0), &[128], 8);
        assert_eq!(u, vec![8192, 4096, 2048, 1024, 512, 256, 128, 64], "{name}");
    }
}

#[test]
fn golden_voltage_decay() {
    for (name, f) in IMPLS {
        let (_, v, s) = trace(f, &p(0, 2048, 256, 0, 0), &[128], 8);
        assert_eq!(
            v,
            vec![8192, 12286, 14331, 15351, 15859, 16111, 16235, 16295],
            "{name}"
        );
        assert!(s.is_empty(), "{name}");
    }
}

#[test]
fn golden_bias_spikes() {
    for (name, f) in IMPLS {
        let (_, _, s) = trace(f, &p(0, 0, 8, 2, 6), &[], 10);
        assert_eq!(s, vec![5, 10], "{name}");
    }
}

#[test]
fn golden_large_bias() {
    for (name, f) in IMPLS {
        let (_, v, _) = trace(f, &p(0, 0, 1 << 17, 4095, 5), &[], 1);
        assert_eq!(v[0], 4095 * 32, "{name}");
    }
}

#[test]
fn overflow_and_saturation_edges() {
    for (name, f) in IMPLS {
        // u wraps at signed 24 bits: (2^17) << 6 = 2^23 wraps to -2^23.
        let (u, _, _) = f(&p(0, 0, 1000, 0, 0), 0, 0, 1 << 17);
        assert_eq!(u, -(1 << 23), "{name}");
        let (u, _, _) = f(&p(0, 0, 1000, 0, 0), 0, 0, -(1 << 17) - 1);
        assert_eq!(u, (1 << 23) - 64, "{name}");
        // v saturates at +-(2^23 - 1) and a saturated v above threshold spikes and resets.
        let (_, v, s) = f(&p(4095, 0, 1 << 17, 4095, 7), 0, V_MAX, 0);
        assert_eq!(
            (v, s),
            (V_MAX, false),
            "{name}: clip at +max (threshold 2^23 > max)"
        );
        let (_, v, s) = f(&p(4095, 0, (1 << 17) - 1, 4095, 7), 0, V_MAX, 0);
        assert_eq!(
            (v, s),
            (0, true),
            "{name}: saturated v above threshold 2^23-64 spikes"
        );
        let (_, v, s) = f(&p(4095, 0, (1 << 17) - 1, -4095, 7), 0, -V_MAX, 0);
        assert_eq!((v, s), (-V_MAX, false), "{name}: clip at -max");
        // Threshold is strict.
        let (_, v, s) = f(&p(4095, 4096, 1, 0, 0), 0, 0, 1);
        assert_eq!((v, s), (64, false), "{name}");
        let (_, v, s) = f(&p(4095, 4096, 1, 1, 0), 0, 0, 1);
        assert_eq!((v, s), (0, true), "{name}");
        // Rounding toward zero for negative values.
        let (u, _, _) = f(&p(2047, 0, 100, 0, 0), -4097, 0, 0);
        assert_eq!(u, -2048, "{name}");
        // dv = 4096 forgets v entirely; u is not reset by a spike.
        let (u, v, s) = f(&p(0, 4096, 0, 0, 0), 100, 5000, 0);
        assert!(s && v == 0 && u == 99, "{name}: {u} {v} {s}");
    }
}
