//! Where the cycles of the two hot neuron kernels go: an experiment harness (issue 15).
//!
//! ```text
//! cargo run --release -p snn-benches --example kernel_bounds [-- NEURONS]
//! ```
//!
//! The engine's kernels are crate-private, and what this measures is what happens when parts of
//! them are *removed* (which would give wrong results), so the loops below are stand-alone
//! copies of the engine's `lif_exp` and `lif_cond_exp` step loops (crates/snn-core/src/neuron.rs,
//! same operations in the same order), built for AVX-512 as the engine's fastest tier is. The
//! `exp` is the engine's own source file, included, not copied. Each variant runs `NEURONS`
//! (default 4,000 for `lif_exp`, 400 for `lif_cond_exp`, Diehl & Cook's population) for a fixed
//! number of neuron-steps with sparse synthetic input, and prints nanoseconds per neuron and
//! step and cycles per neuron at the clock a dependent-add loop measures (printed first).
//!
//! Variants of `lif_exp` (CUBA's model): the engine's loop; without clearing the two ring cells
//! (8 bytes stored per neuron and step); without the spike flag; without the external current
//! (what the engine now does when every current is 0); all three removed. A store-only loop
//! (four 64-byte vector stores per 8 elements) gives the store throughput. Variants of
//! `lif_cond_exp` (Diehl & Cook's excitatory kernel: Brian's input order, adaptive threshold):
//! the engine's loop; the division replaced by a multiplication; the `exp` replaced by one
//! multiply-add; two independent halves interleaved in one loop (tests whether the loop is
//! bound by the latency of its dependent chain). Session 9 added, for `lif_exp` without
//! external current: the refractory counter or the ring cells stored only where they change (a
//! masked store costs as much as a store); two steps per pass over the neurons (each neuron's
//! state loaded and stored once per two steps, the engine's paired update); and the same with
//! the refractory period as the last refractory step, read but not stored by the kernel (the
//! engine's paired kernel). Session 10 added, for `lif_cond_exp`: the `exp` without its range
//! reduction (exact where `|x| <= 0.34`, `exp_f64_near0`); the same after a pass that checks
//! every argument (the engine's kernel since session 10, there per block of 64 neurons); and
//! after a cheaper, conservative check (the maxima of the conductances' and arrivals' bits).
//! Results on the 2-core AMD EPYC VM: docs/benchmarks.md, "Session 8", "Session 9" and
//! "Session 10".

#![allow(clippy::too_many_arguments)]

use std::hint::black_box;
use std::io::Write;

/// `println!` that ends the program quietly when standard output is closed (piped into `head`).
macro_rules! out {
    ($($t:tt)*) => {
        if writeln!(std::io::stdout(), $($t)*).is_err() {
            std::process::exit(0);
        }
    };
}
use std::time::Instant;

#[path = "../../crates/snn-core/src/neuron/exp.rs"]
#[allow(dead_code)]
mod exp;
use exp::exp_f64;

/// Cycles per second, from a chain of dependent integer adds (one per cycle).
fn clock_hz() -> f64 {
    let n: u64 = 400_000_000;
    let t = Instant::now();
    let mut x: u64 = black_box(0);
    for _ in 0..n {
        x = black_box(x.wrapping_add(1));
    }
    black_box(x);
    n as f64 / t.elapsed().as_secs_f64()
}

/// `lif_exp` coefficients (CUBA's neuron at 0.1 ms).
#[derive(Clone, Copy)]
struct ExpK {
    p22: f64,
    p11e: f64,
    p11i: f64,
    p21e: f64,
    p21i: f64,
    p20: f64,
    i_e: f64,
    th: f64,
    reset: f64,
    ref_steps: f64,
}

/// One step of the `lif_exp` loop; `ZERO`, `FLAGS`, `EXT` keep the ring clearing, the spike
/// flag and the external current.
#[inline(always)]
fn lif_exp_loop<const ZERO: bool, const FLAGS: bool, const EXT: bool, const COND: u8>(
    k: &ExpK,
    v: &mut [f64],
    i_ex: &mut [f64],
    i_in: &mut [f64],
    refr: &mut [f64],
    in_ex: &mut [f32],
    in_in: &mut [f32],
    i_ext: &[f32],
    flags: &mut [u8],
) {
    let n = v.len();
    let (i_ex, i_in, refr, in_ex, in_in, i_ext, flags) = (
        &mut i_ex[..n],
        &mut i_in[..n],
        &mut refr[..n],
        &mut in_ex[..n],
        &mut in_in[..n],
        &i_ext[..n],
        &mut flags[..n],
    );
    let drive0 = k.p20 * (k.i_e + 0.0);
    for i in 0..n {
        let r = refr[i];
        let vi = v[i];
        let ie = i_ex[i];
        let ii = i_in[i];
        let drive = if EXT {
            k.p20 * (k.i_e + i_ext[i] as f64)
        } else {
            drive0
        };
        let integrated = k.p22 * vi + k.p21e * ie + k.p21i * ii + drive;
        let v1 = if r <= 0.0 { integrated } else { vi };
        i_ex[i] = k.p11e * ie + in_ex[i] as f64;
        i_in[i] = k.p11i * ii + in_in[i] as f64;
        if ZERO {
            if COND & 2 != 0 {
                if in_ex[i] != 0.0 {
                    in_ex[i] = 0.0;
                }
                if in_in[i] != 0.0 {
                    in_in[i] = 0.0;
                }
            } else {
                in_ex[i] = 0.0;
                in_in[i] = 0.0;
            }
        }
        let spike = v1 >= k.th;
        v[i] = if spike { k.reset } else { v1 };
        if COND & 1 != 0 {
            if spike || r > 0.0 {
                refr[i] = if spike {
                    k.ref_steps
                } else {
                    (r - 1.0).max(0.0)
                };
            }
        } else {
            refr[i] = if spike {
                k.ref_steps
            } else {
                (r - 1.0).max(0.0)
            };
        }
        if FLAGS {
            flags[i] = spike as u8;
        }
    }
}

/// The `lif_exp` variants, built for AVX-512.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq")]
fn lif_exp_avx512(
    variant: usize,
    k: &ExpK,
    v: &mut [f64],
    i_ex: &mut [f64],
    i_in: &mut [f64],
    refr: &mut [f64],
    in_ex: &mut [f32],
    in_in: &mut [f32],
    i_ext: &[f32],
    flags: &mut [u8],
) {
    let (a, b) = (v, i_ex);
    match variant {
        0 => lif_exp_loop::<true, true, true, 0>(k, a, b, i_in, refr, in_ex, in_in, i_ext, flags),
        1 => lif_exp_loop::<false, true, true, 0>(k, a, b, i_in, refr, in_ex, in_in, i_ext, flags),
        2 => lif_exp_loop::<true, false, true, 0>(k, a, b, i_in, refr, in_ex, in_in, i_ext, flags),
        3 => lif_exp_loop::<true, true, false, 0>(k, a, b, i_in, refr, in_ex, in_in, i_ext, flags),
        4 => {
            lif_exp_loop::<false, false, false, 0>(k, a, b, i_in, refr, in_ex, in_in, i_ext, flags)
        }
        5 => lif_exp_loop::<true, true, false, 1>(k, a, b, i_in, refr, in_ex, in_in, i_ext, flags),
        6 => lif_exp_loop::<true, true, false, 2>(k, a, b, i_in, refr, in_ex, in_in, i_ext, flags),
        _ => lif_exp_loop::<true, true, false, 3>(k, a, b, i_in, refr, in_ex, in_in, i_ext, flags),
    }
}

/// Two steps of `lif_exp` in one pass (no external current): each neuron's state is loaded and
/// stored once per two steps. The input current lags: the pass first takes the previous pass's
/// last step's arrivals (`ra`), integrates `v` for the first step, takes its arrivals (`rb`),
/// integrates `v` for the second; that step's arrivals are taken by the next pass.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq")]
fn lif_exp_pair_avx512(
    k: &ExpK,
    v: &mut [f64],
    i_ex: &mut [f64],
    i_in: &mut [f64],
    refr: &mut [f64],
    ra: (&mut [f32], &mut [f32]),
    rb: (&mut [f32], &mut [f32]),
    flags_a: &mut [u8],
    flags_b: &mut [u8],
) {
    let n = v.len();
    let (i_ex, i_in, refr, fa, fb) = (
        &mut i_ex[..n],
        &mut i_in[..n],
        &mut refr[..n],
        &mut flags_a[..n],
        &mut flags_b[..n],
    );
    let (ra_ex, ra_in) = (&mut ra.0[..n], &mut ra.1[..n]);
    let (rb_ex, rb_in) = (&mut rb.0[..n], &mut rb.1[..n]);
    let drive0 = k.p20 * (k.i_e + 0.0);
    for i in 0..n {
        let mut r = refr[i];
        let mut vi = v[i];
        let ie = k.p11e * i_ex[i] + ra_ex[i] as f64;
        let ii = k.p11i * i_in[i] + ra_in[i] as f64;
        ra_ex[i] = 0.0;
        ra_in[i] = 0.0;
        let integrated = k.p22 * vi + k.p21e * ie + k.p21i * ii + drive0;
        let v1 = if r <= 0.0 { integrated } else { vi };
        let spike = v1 >= k.th;
        vi = if spike { k.reset } else { v1 };
        r = if spike {
            k.ref_steps
        } else {
            (r - 1.0).max(0.0)
        };
        fa[i] = spike as u8;
        let ie = k.p11e * ie + rb_ex[i] as f64;
        let ii = k.p11i * ii + rb_in[i] as f64;
        rb_ex[i] = 0.0;
        rb_in[i] = 0.0;
        let integrated = k.p22 * vi + k.p21e * ie + k.p21i * ii + drive0;
        let v1 = if r <= 0.0 { integrated } else { vi };
        let spike = v1 >= k.th;
        v[i] = if spike { k.reset } else { v1 };
        refr[i] = if spike {
            k.ref_steps
        } else {
            (r - 1.0).max(0.0)
        };
        fb[i] = spike as u8;
        i_ex[i] = ie;
        i_in[i] = ii;
    }
}

/// As [`lif_exp_pair_avx512`] with the refractory period kept as the last refractory step
/// (`ref_until`), read by the kernel and written only for neurons that fired (the engine does
/// it from its spike lists; the harness times the kernel alone), and the two steps' spikes as
/// two bits of one flag byte: the engine's paired kernel.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq")]
fn lif_exp_pair_until_avx512(
    k: &ExpK,
    x: f64,
    v: &mut [f64],
    i_ex: &mut [f64],
    i_in: &mut [f64],
    ref_until: &[f64],
    ra: (&mut [f32], &mut [f32]),
    rb: (&mut [f32], &mut [f32]),
    flags: &mut [u8],
) {
    let n = v.len();
    let (i_ex, i_in, ref_until, flags) = (
        &mut i_ex[..n],
        &mut i_in[..n],
        &ref_until[..n],
        &mut flags[..n],
    );
    let (ra_ex, ra_in) = (&mut ra.0[..n], &mut ra.1[..n]);
    let (rb_ex, rb_in) = (&mut rb.0[..n], &mut rb.1[..n]);
    let drive0 = k.p20 * (k.i_e + 0.0);
    for i in 0..n {
        let ru = ref_until[i];
        let mut vi = v[i];
        let ie = k.p11e * i_ex[i] + ra_ex[i] as f64;
        let ii = k.p11i * i_in[i] + ra_in[i] as f64;
        ra_ex[i] = 0.0;
        ra_in[i] = 0.0;
        let integrated = k.p22 * vi + k.p21e * ie + k.p21i * ii + drive0;
        let v1 = if x > ru { integrated } else { vi };
        let spike_a = v1 >= k.th;
        vi = if spike_a { k.reset } else { v1 };
        let ru = if spike_a { x + k.ref_steps } else { ru };
        let ie = k.p11e * ie + rb_ex[i] as f64;
        let ii = k.p11i * ii + rb_in[i] as f64;
        rb_ex[i] = 0.0;
        rb_in[i] = 0.0;
        let integrated = k.p22 * vi + k.p21e * ie + k.p21i * ii + drive0;
        let v1 = if x + 1.0 > ru { integrated } else { vi };
        let spike = v1 >= k.th;
        v[i] = if spike { k.reset } else { v1 };
        flags[i] = spike_a as u8 | (spike as u8) << 1;
        i_ex[i] = ie;
        i_in[i] = ii;
    }
}

/// Four 64-byte stores per 8 elements.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq")]
fn store4_avx512(a: &mut [f64], b: &mut [f64], c: &mut [f64], d: &mut [f64], x: f64) {
    let n = a.len();
    let (b, c, d) = (&mut b[..n], &mut c[..n], &mut d[..n]);
    for i in 0..n {
        a[i] = x;
        b[i] = x;
        c[i] = x;
        d[i] = x;
    }
}

/// `lif_cond_exp` coefficients (Diehl & Cook's excitatory neuron at 0.5 ms, adaptive threshold).
#[derive(Clone, Copy)]
struct CondK {
    p_ex: f64,
    p_in: f64,
    avg_ex: f64,
    avg_in: f64,
    g_l: f64,
    gl_el: f64,
    e_ex: f64,
    e_in: f64,
    i_e: f64,
    neg_h_over_c: f64,
    th: f64,
    reset: f64,
    ref_steps: f64,
    theta_decay: f64,
    theta_rest_term: f64,
    theta_plus: f64,
}

/// The slices of one range of `lif_cond_exp` neurons.
struct Cond<'a> {
    v: &'a mut [f64],
    g_ex: &'a mut [f64],
    g_in: &'a mut [f64],
    refr: &'a mut [f64],
    theta: &'a mut [f64],
    in_ex: &'a mut [f32],
    in_in: &'a mut [f32],
    i_ext: &'a [f32],
    flags: &'a mut [u8],
}

/// One neuron of the `lif_cond_exp` loop (Brian's order, exponential Euler, adaptive
/// threshold); `MODE` 0: the engine's loop before session 10, 1: division replaced by a
/// multiplication, 2: `exp` replaced by one multiply-add, 3: `exp` without range reduction
/// (right only for arguments near 0, as here). [`cond_avx512`]'s `MODE` 4 and 5 check first.
#[inline(always)]
fn cond_one<const MODE: u8>(k: &CondK, l: &mut Cond<'_>, i: usize) {
    let r = l.refr[i];
    let vi = l.v[i];
    let ge = (k.p_ex * l.g_ex[i] + l.in_ex[i] as f64).max(0.0);
    let gi = (k.p_in * l.g_in[i] + l.in_in[i] as f64).max(0.0);
    let gem = k.avg_ex * ge;
    let gim = k.avg_in * gi;
    let g_tot = k.g_l + gem + gim;
    let num = k.gl_el + gem * k.e_ex + gim * k.e_in + k.i_e + l.i_ext[i] as f64;
    let v_inf = if MODE == 1 { num * g_tot } else { num / g_tot };
    let decay = if MODE == 2 {
        1.0 + k.neg_h_over_c * g_tot
    } else if MODE == 3 {
        exp::exp_f64_near0(k.neg_h_over_c * g_tot)
    } else {
        exp_f64(k.neg_h_over_c * g_tot)
    };
    let integrated = v_inf + (vi - v_inf) * decay;
    let v1 = if r <= 0.0 { integrated } else { vi };
    l.g_ex[i] = ge;
    l.g_in[i] = gi;
    l.in_ex[i] = 0.0;
    l.in_in[i] = 0.0;
    let t = k.theta_decay * l.theta[i] + k.theta_rest_term;
    let spike = v1 >= k.th + t;
    l.theta[i] = if spike { t + k.theta_plus } else { t };
    l.v[i] = if spike { k.reset } else { v1 };
    l.refr[i] = if spike {
        k.ref_steps
    } else {
        (r - 1.0).max(0.0)
    };
    l.flags[i] = spike as u8;
}

/// The `lif_cond_exp` loop over one range.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq")]
fn cond_avx512<const MODE: u8>(
    k: &CondK,
    v: &mut [f64],
    g_ex: &mut [f64],
    g_in: &mut [f64],
    refr: &mut [f64],
    theta: &mut [f64],
    in_ex: &mut [f32],
    in_in: &mut [f32],
    i_ext: &[f32],
    flags: &mut [u8],
) {
    let n = v.len();
    let mut l = Cond {
        v,
        g_ex: &mut g_ex[..n],
        g_in: &mut g_in[..n],
        refr: &mut refr[..n],
        theta: &mut theta[..n],
        in_ex: &mut in_ex[..n],
        in_in: &mut in_in[..n],
        i_ext: &i_ext[..n],
        flags: &mut flags[..n],
    };
    // 4: every argument checked (the engine's `cond_exp_near0`), then `MODE` 3 if all are
    // near 0; 5: the same after a conservative bound from the maxima of the inputs' bits
    // (non-negative floats order as their bits).
    if MODE == 4 {
        let mut near = true;
        for i in 0..n {
            let ge = (k.p_ex * l.g_ex[i] + l.in_ex[i] as f64).max(0.0);
            let gi = (k.p_in * l.g_in[i] + l.in_in[i] as f64).max(0.0);
            let x = k.neg_h_over_c * (k.g_l + k.avg_ex * ge + k.avg_in * gi);
            near &= x.abs() <= exp::NEAR0_MAX;
        }
        if near {
            for i in 0..n {
                cond_one::<3>(k, &mut l, i);
            }
            return;
        }
    }
    if MODE == 5 {
        let (mut a, mut b, mut c, mut d) = (0u64, 0u64, 0u32, 0u32);
        for i in 0..n {
            a = a.max(l.g_ex[i].to_bits());
            b = b.max(l.g_in[i].to_bits());
            c = c.max(l.in_ex[i].to_bits());
            d = d.max(l.in_in[i].to_bits());
        }
        let ge = (k.p_ex * f64::from_bits(a) + f32::from_bits(c) as f64).max(0.0);
        let gi = (k.p_in * f64::from_bits(b) + f32::from_bits(d) as f64).max(0.0);
        let x = k.neg_h_over_c * (k.g_l + k.avg_ex * ge + k.avg_in * gi);
        if x.abs() <= exp::NEAR0_MAX {
            for i in 0..n {
                cond_one::<3>(k, &mut l, i);
            }
            return;
        }
    }
    for i in 0..n {
        cond_one::<MODE>(k, &mut l, i);
    }
}

/// A `lif_cond_exp` loop variant ([`cond_avx512`]).
type CondKernel = unsafe fn(
    &CondK,
    &mut [f64],
    &mut [f64],
    &mut [f64],
    &mut [f64],
    &mut [f64],
    &mut [f32],
    &mut [f32],
    &[f32],
    &mut [u8],
);

/// Two equal ranges interleaved in one loop (two independent dependency chains per iteration).
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq")]
/// Every slice is its own argument, so the compiler knows none overlaps and vectorises the loop.
fn cond_pair_avx512(
    k: &CondK,
    v1: &mut [f64],
    ge1: &mut [f64],
    gi1: &mut [f64],
    r1: &mut [f64],
    t1: &mut [f64],
    ie1: &mut [f32],
    ii1: &mut [f32],
    x1: &[f32],
    f1: &mut [u8],
    v2: &mut [f64],
    ge2: &mut [f64],
    gi2: &mut [f64],
    r2: &mut [f64],
    t2: &mut [f64],
    ie2: &mut [f32],
    ii2: &mut [f32],
    x2: &[f32],
    f2: &mut [u8],
) {
    let h = v1.len();
    let mut a = Cond {
        v: v1,
        g_ex: &mut ge1[..h],
        g_in: &mut gi1[..h],
        refr: &mut r1[..h],
        theta: &mut t1[..h],
        in_ex: &mut ie1[..h],
        in_in: &mut ii1[..h],
        i_ext: &x1[..h],
        flags: &mut f1[..h],
    };
    let mut b = Cond {
        v: &mut v2[..h],
        g_ex: &mut ge2[..h],
        g_in: &mut gi2[..h],
        refr: &mut r2[..h],
        theta: &mut t2[..h],
        in_ex: &mut ie2[..h],
        in_in: &mut ii2[..h],
        i_ext: &x2[..h],
        flags: &mut f2[..h],
    };
    for i in 0..h {
        cond_one::<0>(k, &mut a, i);
        cond_one::<0>(k, &mut b, i);
    }
}

/// State of `n` neurons of either kernel.
struct State {
    v: Vec<f64>,
    a: Vec<f64>,
    b: Vec<f64>,
    refr: Vec<f64>,
    theta: Vec<f64>,
    in_ex: Vec<f32>,
    in_in: Vec<f32>,
    i_ext: Vec<f32>,
    flags: Vec<u8>,
}

impl State {
    /// The inputs of steps `step` and `step + 1` for a paired pass: the first step's in the
    /// state's own ring cells, the second's in `rb_ex` / `rb_in`.
    fn pair_input(&mut self, step: usize, rb_ex: &mut Vec<f32>, rb_in: &mut Vec<f32>) {
        self.input(step, 30.0, -20.0);
        std::mem::swap(&mut self.in_ex, rb_ex);
        std::mem::swap(&mut self.in_in, rb_in);
        self.input(step + 1, 30.0, -20.0);
        std::mem::swap(&mut self.in_ex, rb_ex);
        std::mem::swap(&mut self.in_in, rb_in);
    }

    fn new(n: usize, v0: f64) -> Self {
        Self {
            v: (0..n).map(|i| v0 + (i % 10) as f64).collect(),
            a: vec![0.0; n],
            b: vec![0.0; n],
            refr: vec![0.0; n],
            theta: vec![0.0; n],
            in_ex: vec![0.0; n],
            in_in: vec![0.0; n],
            i_ext: vec![0.0; n],
            flags: vec![0; n],
        }
    }

    /// Sparse input for step `s` (each neuron every 13th step on the excitatory receptor,
    /// every 50th step a fifth on the inhibitory one).
    fn input(&mut self, s: usize, w_ex: f32, w_in: f32) {
        let n = self.v.len();
        let mut j = s % 13;
        while j < n {
            self.in_ex[j] += w_ex;
            j += 13;
        }
        if s.is_multiple_of(50) {
            let mut j = s % 5;
            while j < n {
                self.in_in[j] += w_in;
                j += 5;
            }
        }
    }
}

fn main() {
    if !std::arch::is_x86_feature_detected!("avx512f")
        || !std::arch::is_x86_feature_detected!("avx512bw")
        || !std::arch::is_x86_feature_detected!("avx512vl")
        || !std::arch::is_x86_feature_detected!("avx512dq")
    {
        eprintln!("kernel_bounds: this harness needs AVX-512 (F, BW, VL, DQ)");
        std::process::exit(2);
    }
    let arg: Option<usize> = std::env::args().nth(1).and_then(|s| s.parse().ok());
    let hz = clock_hz();
    out!("clock from a dependent-add loop: {:.2} GHz", hz / 1e9);
    let report = |name: &str, n: usize, steps: usize, secs: f64| {
        let per = secs / (n * steps) as f64;
        out!(
            "{name:<46} {:.3} ns/neuron-step  {:.2} cycles/neuron",
            per * 1e9,
            per * hz
        );
    };

    // lif_exp: CUBA's neuron (NEST iaf_psc_exp propagators at 0.1 ms).
    let n = arg.unwrap_or(4000).max(8);
    let steps = 400_000_000 / n;
    let (tau_m, c_m, h) = (20.0f64, 20.0f64, 0.1f64);
    let p22 = (-h / tau_m).exp();
    let p21 = |tau_s: f64| {
        let a = (-h / tau_s).exp();
        tau_m * tau_s / (c_m * (tau_s - tau_m)) * (p22 - a)
    };
    let k = ExpK {
        p22,
        p11e: (-h / 5.0f64).exp(),
        p11i: (-h / 10.0f64).exp(),
        p21e: p21(5.0),
        p21i: p21(10.0),
        p20: tau_m / c_m * (1.0 - p22),
        i_e: 0.0,
        th: -1.0,
        reset: -11.0,
        ref_steps: 50.0,
    };
    let names = [
        "lif_exp: the engine's loop",
        "lif_exp: no ring clearing",
        "lif_exp: no spike flag",
        "lif_exp: no external current",
        "lif_exp: none of the three",
        "lif_exp: no ext, refractory stored if changed",
        "lif_exp: no ext, ring cleared if set",
        "lif_exp: no ext, both conditional",
    ];
    out!("lif_exp, {n} neurons, {steps} steps:");
    for (variant, name) in names.iter().enumerate() {
        let mut s = State::new(n, -11.0);
        let t = Instant::now();
        for step in 0..steps {
            s.input(step, 30.0, -20.0);
            // SAFETY: AVX-512 F, BW, VL and DQ were detected above.
            unsafe {
                lif_exp_avx512(
                    variant,
                    &k,
                    &mut s.v,
                    &mut s.a,
                    &mut s.b,
                    &mut s.refr,
                    &mut s.in_ex,
                    &mut s.in_in,
                    &s.i_ext,
                    &mut s.flags,
                )
            };
            if variant == 1 || variant == 4 {
                // These variants leave the input cells set, which would keep adding; clear the
                // cells the input wrote, as a sparse clearing would (timed with the kernel).
                let mut j = step % 13;
                while j < n {
                    s.in_ex[j] = 0.0;
                    j += 13;
                }
                if step.is_multiple_of(50) {
                    s.in_in.fill(0.0);
                }
            }
            black_box(&s.flags);
        }
        report(name, n, steps, t.elapsed().as_secs_f64());
        black_box(s.v.iter().sum::<f64>());
    }
    {
        let mut s = State::new(n, -11.0);
        let (mut rb_ex, mut rb_in, mut fb) = (vec![0.0f32; n], vec![0.0f32; n], vec![0u8; n]);
        let t = Instant::now();
        for step in (0..steps).step_by(2) {
            s.pair_input(step, &mut rb_ex, &mut rb_in);
            // SAFETY: AVX-512 F, BW, VL and DQ were detected above.
            unsafe {
                lif_exp_pair_avx512(
                    &k,
                    &mut s.v,
                    &mut s.a,
                    &mut s.b,
                    &mut s.refr,
                    (&mut s.in_ex, &mut s.in_in),
                    (&mut rb_ex, &mut rb_in),
                    &mut s.flags,
                    &mut fb,
                )
            };
            black_box(&s.flags);
            black_box(&fb);
        }
        report(
            "lif_exp: two steps per pass, no ext",
            n,
            steps,
            t.elapsed().as_secs_f64(),
        );
        black_box(s.v.iter().sum::<f64>());
    }
    {
        let mut s = State::new(n, -11.0);
        let ref_until = vec![-1.0f64; n];
        let (mut rb_ex, mut rb_in) = (vec![0.0f32; n], vec![0.0f32; n]);
        let t = Instant::now();
        for step in (0..steps).step_by(2) {
            s.pair_input(step, &mut rb_ex, &mut rb_in);
            // SAFETY: AVX-512 F, BW, VL and DQ were detected above.
            unsafe {
                lif_exp_pair_until_avx512(
                    &k,
                    step as f64,
                    &mut s.v,
                    &mut s.a,
                    &mut s.b,
                    &ref_until,
                    (&mut s.in_ex, &mut s.in_in),
                    (&mut rb_ex, &mut rb_in),
                    &mut s.flags,
                )
            };
            black_box(&s.flags);
        }
        report(
            "lif_exp: two steps per pass, refractory end step",
            n,
            steps,
            t.elapsed().as_secs_f64(),
        );
        black_box(s.v.iter().sum::<f64>());
    }
    let (mut a, mut b, mut c, mut d) = (vec![0.0; n], vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    let t = Instant::now();
    for step in 0..steps {
        // SAFETY: as above.
        unsafe { store4_avx512(&mut a, &mut b, &mut c, &mut d, step as f64) };
        black_box(&a);
    }
    report(
        "store only: 4 x 64-byte stores per 8 elements",
        n,
        steps,
        t.elapsed().as_secs_f64(),
    );

    // lif_cond_exp: Diehl & Cook's excitatory neuron (tau_m = 100 ms, 0.5 ms steps).
    let n = arg.map_or(400, |a| a.min(4000)).max(16) / 2 * 2;
    let steps = 800_000_000 / n;
    let h = 0.5f64;
    let avg = |tau: f64| tau / h * -(-h / tau).exp_m1();
    let ck = CondK {
        p_ex: (-h / 1.0f64).exp(),
        p_in: (-h / 2.0f64).exp(),
        avg_ex: avg(1.0),
        avg_in: avg(2.0),
        g_l: 1.0,
        gl_el: -65.0,
        e_ex: 0.0,
        e_in: -100.0,
        i_e: 0.0,
        neg_h_over_c: -h / 100.0,
        th: -52.0,
        reset: -65.0,
        ref_steps: 10.0,
        theta_decay: (-h / 1e7f64).exp(),
        theta_rest_term: (1.0 - (-h / 1e7f64).exp()) * -20.0,
        theta_plus: 0.05,
    };
    out!("lif_cond_exp (Brian's order, adaptive threshold), {n} neurons, {steps} steps:");
    let cond_names = [
        "lif_cond_exp: full exp (session 9 engine)",
        "lif_cond_exp: division -> multiplication",
        "lif_cond_exp: exp -> one multiply-add",
        "lif_cond_exp: two halves interleaved",
        "lif_cond_exp: exp without reduction",
        "lif_cond_exp: checked, then without reduction",
        "lif_cond_exp: bounded, then without reduction",
    ];
    for (variant, name) in cond_names.iter().enumerate() {
        let kernel: Option<CondKernel> = match variant {
            0 => Some(cond_avx512::<0>),
            1 => Some(cond_avx512::<1>),
            2 => Some(cond_avx512::<2>),
            4 => Some(cond_avx512::<3>),
            5 => Some(cond_avx512::<4>),
            6 => Some(cond_avx512::<5>),
            _ => None,
        };
        let mut s = State::new(n, -65.0);
        let t = Instant::now();
        for step in 0..steps {
            s.input(step, 0.3, 1.0);
            let h = n / 2;
            match kernel {
                // SAFETY: as above.
                Some(f) => unsafe {
                    f(
                        &ck,
                        &mut s.v,
                        &mut s.a,
                        &mut s.b,
                        &mut s.refr,
                        &mut s.theta,
                        &mut s.in_ex,
                        &mut s.in_in,
                        &s.i_ext,
                        &mut s.flags,
                    )
                },
                None => {
                    let (v1, v2) = s.v.split_at_mut(h);
                    let (ge1, ge2) = s.a.split_at_mut(h);
                    let (gi1, gi2) = s.b.split_at_mut(h);
                    let (r1, r2) = s.refr.split_at_mut(h);
                    let (t1, t2) = s.theta.split_at_mut(h);
                    let (ie1, ie2) = s.in_ex.split_at_mut(h);
                    let (ii1, ii2) = s.in_in.split_at_mut(h);
                    let (x1, x2) = s.i_ext.split_at(h);
                    let (f1, f2) = s.flags.split_at_mut(h);
                    // SAFETY: as above.
                    unsafe {
                        cond_pair_avx512(
                            &ck, v1, ge1, gi1, r1, t1, ie1, ii1, x1, f1, v2, ge2, gi2, r2, t2, ie2,
                            ii2, x2, f2,
                        )
                    }
                }
            }
            black_box(&s.flags);
        }
        report(name, n, steps, t.elapsed().as_secs_f64());
        black_box(s.v.iter().sum::<f64>());
    }
}
