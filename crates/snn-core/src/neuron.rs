//! Neuron models: coefficients and the per-population update kernels.
//!
//! State is structure-of-arrays (`f32` for the float models, `i32` for Loihi's integer model);
//! each kernel updates a whole contiguous range of one population per call, reads and clears that
//! range's slot of the input ring buffers, and writes one spike flag per neuron. The loops are
//! branch-free selects so that the compiler vectorises them; spikes are gathered afterwards from
//! the flags.

use snn_types::{
    AdaptiveThreshold, AdexParams, CondIntegration, InputOrder, IzhikevichParams, LifBetaParams,
    LifCondExpParams, LifDeltaParams, LifExpParams, LoihiLifParams, ResetMode, Step, ms_to_steps,
};

mod exp;
use exp::{NEAR0_MAX, exp_f64, exp_f64_near0};

/// Exact-integration propagators of `iaf_psc_exp` for one step `h` (Rotter & Diesmann 1999, the
/// scheme NEST uses). With membrane potential `V` relative to `E_L`:
///
/// ```text
/// V(t+h)    = P22 V + P21ex I_ex + P21in I_in + P20 (I_e + I_ext)
/// I_ex(t+h) = P11ex I_ex  (+ arriving weights)      I_in likewise with P11in
/// P22 = exp(-h/tau_m)            P11x = exp(-h/tau_x)          P20 = tau_m/C (1 - P22)
/// P21x = tau_m tau_x / (C (tau_x - tau_m)) (P11x - P22)   (-> h/C P22 when tau_x = tau_m)
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LifExpPropagators {
    /// Membrane decay `exp(-h/tau_m)`.
    pub p22: f64,
    /// Excitatory current decay.
    pub p11_ex: f64,
    /// Inhibitory current decay.
    pub p11_in: f64,
    /// Excitatory current to voltage (mV/pA).
    pub p21_ex: f64,
    /// Inhibitory current to voltage (mV/pA).
    pub p21_in: f64,
    /// Constant current to voltage (mV/pA).
    pub p20: f64,
}

fn p21(h: f64, tau_m: f64, tau_s: f64, c_m: f64) -> f64 {
    let p22 = (-h / tau_m).exp();
    let p11 = (-h / tau_s).exp();
    // Relative closeness of the two time constants: use the analytic limit when the general
    // formula would cancel catastrophically.
    if ((tau_s - tau_m) / tau_m).abs() < 1e-9 {
        h / c_m * p22
    } else {
        tau_m * tau_s / (c_m * (tau_s - tau_m)) * (p11 - p22)
    }
}

impl LifExpPropagators {
    /// Propagators of `p` over a step of `h_ms`.
    pub fn new(p: &LifExpParams, h_ms: f64) -> Self {
        let p22 = (-h_ms / p.tau_m_ms).exp();
        Self {
            p22,
            p11_ex: (-h_ms / p.tau_syn_ex_ms).exp(),
            p11_in: (-h_ms / p.tau_syn_in_ms).exp(),
            p21_ex: p21(h_ms, p.tau_m_ms, p.tau_syn_ex_ms, p.c_m_pf),
            p21_in: p21(h_ms, p.tau_m_ms, p.tau_syn_in_ms, p.c_m_pf),
            p20: p.tau_m_ms / p.c_m_pf * (1.0 - p22),
        }
    }
}

/// Number of whole steps in a refractory period (rounded to the nearest step, as NEST does),
/// at most `u32::MAX` (more than any run): a finite period too long to count in steps (say
/// `1e300` ms) is that maximum, a period that never ends, not 0 (it used to be 0: no refractory
/// period at all). Negative, NaN or infinite periods (refused by validation) give 0.
pub fn refractory_steps(t_ref_ms: f64, dt_ms: f64) -> u32 {
    match ms_to_steps(t_ref_ms, dt_ms) {
        Some(s) => s.min(u32::MAX as u64) as u32,
        None if t_ref_ms.is_finite() && t_ref_ms > 0.0 && dt_ms.is_finite() && dt_ms > 0.0 => {
            u32::MAX
        }
        None => 0,
    }
}

/// Exact propagators of `iaf_psc_delta` for one step `h`: `V(t+h) = P22 V + P20 (I_e + I_ext)`
/// plus the weights arriving in the step, with `P22 = exp(-h/tau_m)` and
/// `P20 = tau_m/C (1 - P22)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LifDeltaPropagators {
    /// Membrane decay `exp(-h/tau_m)`.
    pub p22: f64,
    /// Constant current to voltage (mV/pA).
    pub p20: f64,
}

impl LifDeltaPropagators {
    /// Propagators of `p` over a step of `h_ms`.
    pub fn new(p: &LifDeltaParams, h_ms: f64) -> Self {
        let p22 = (-h_ms / p.tau_m_ms).exp();
        Self {
            p22,
            p20: p.tau_m_ms / p.c_m_pf * (1.0 - p22),
        }
    }
}

/// Coefficients of the `lif_exp` kernel. State and coefficients are `f64` (as in NEST): in `f32`
/// the fixed point `P20 I / (1 - P22)` is off by ~1e-4 relative at small steps, which shifts
/// spike times by several steps near rheobase.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LifExpCoef {
    p22: f64,
    p11_ex: f64,
    p11_in: f64,
    p21_ex: f64,
    p21_in: f64,
    p20: f64,
    i_e: f64,
    /// Threshold relative to E_L.
    th: f64,
    /// Reset relative to E_L.
    reset: f64,
    /// Refractory steps as `f64` so the kernel runs in 64-bit lanes only (vectorises).
    ref_steps: f64,
    pub(crate) e_l: f64,
}

impl LifExpCoef {
    /// The refractory period in steps (an integer, as `f64`).
    pub(crate) fn ref_steps(&self) -> f64 {
        self.ref_steps
    }

    pub(crate) fn new(p: &LifExpParams, dt_ms: f64) -> Self {
        let k = LifExpPropagators::new(p, dt_ms);
        Self {
            p22: k.p22,
            p11_ex: k.p11_ex,
            p11_in: k.p11_in,
            p21_ex: k.p21_ex,
            p21_in: k.p21_in,
            p20: k.p20,
            i_e: p.i_e_pa,
            th: (p.v_th_mv - p.e_l_mv),
            reset: (p.v_reset_mv - p.e_l_mv),
            ref_steps: refractory_steps(p.t_ref_ms, dt_ms) as f64,
            e_l: p.e_l_mv,
        }
    }
}

/// Coefficients of an adaptive threshold ([`snn_types::AdaptiveThreshold`]) for one step.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ThetaCoef {
    /// `exp(-dt/tau_theta)`.
    pub(crate) decay: f64,
    /// `theta_plus` (mV).
    pub(crate) plus: f64,
    /// Initial `theta` (mV).
    pub(crate) init: f64,
    /// `(1 - decay) theta_rest` (mV): added after the decay, so `theta` relaxes toward
    /// `theta_rest` (exactly 0 for the default rest, leaving the arithmetic unchanged).
    pub(crate) rest_term: f64,
}

impl ThetaCoef {
    /// Placeholder for the fixed-threshold kernels (never read).
    pub(crate) const FIXED: ThetaCoef = ThetaCoef {
        decay: 1.0,
        plus: 0.0,
        init: 0.0,
        rest_term: 0.0,
    };

    pub(crate) fn new(a: &AdaptiveThreshold, dt_ms: f64) -> Self {
        let decay = (-dt_ms / a.tau_theta_ms).exp();
        Self {
            decay,
            plus: a.theta_plus_mv,
            init: a.theta_init_mv,
            rest_term: (1.0 - decay) * a.theta_rest_mv,
        }
    }

    /// The coefficients of a frozen threshold: `theta` neither decays nor grows.
    pub(crate) fn frozen(&self) -> Self {
        Self {
            decay: 1.0,
            plus: 0.0,
            init: self.init,
            rest_term: 0.0,
        }
    }
}

/// The threshold test shared by the LIF kernels, fixed (`ADAPT = false`: spike when
/// `V >= th`) or adaptive (`theta` relaxes toward `theta_rest` by `exp(-dt/tau_theta)` before
/// the test, the neuron spikes when `V >= th + theta`, and a spike adds `theta_plus`).
/// Monomorphised, so the fixed kernels carry no trace of the adaptive path.
#[inline(always)]
fn threshold<const ADAPT: bool>(
    v1: f64,
    th: f64,
    kt: &ThetaCoef,
    theta: &mut [f64],
    i: usize,
) -> bool {
    if ADAPT {
        let t = kt.decay * theta[i] + kt.rest_term;
        let spike = v1 >= th + t;
        theta[i] = if spike { t + kt.plus } else { t };
        spike
    } else {
        v1 >= th
    }
}

/// One step of `lif_exp` over a range (NEST `iaf_psc_exp` order): integrate V unless refractory
/// (else count the refractory period down), decay the currents and add this step's arrivals,
/// then spike and reset if `V >= V_th` (plus `theta` when `ADAPT`; `theta` is unused otherwise).
/// An empty `i_ext` means no external current: the loop then neither loads nor converts one
/// (the constant term `P20 (I_e + 0)` is the same value, so results are unchanged).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn lif_exp_kernel<const ADAPT: bool>(
    k: &LifExpCoef,
    kt: &ThetaCoef,
    v: &mut [f64],
    i_ex: &mut [f64],
    i_in: &mut [f64],
    refr: &mut [f64],
    theta: &mut [f64],
    in_ex: &mut [f32],
    in_in: &mut [f32],
    i_ext: &[f32],
    flags: &mut [u8],
) {
    if i_ext.is_empty() {
        lif_exp_loop::<ADAPT, false>(
            k, kt, v, i_ex, i_in, refr, theta, in_ex, in_in, i_ext, flags,
        )
    } else {
        lif_exp_loop::<ADAPT, true>(
            k, kt, v, i_ex, i_in, refr, theta, in_ex, in_in, i_ext, flags,
        )
    }
}

/// The loop of [`lif_exp_kernel`], with (`EXT`) or without an external current.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn lif_exp_loop<const ADAPT: bool, const EXT: bool>(
    k: &LifExpCoef,
    kt: &ThetaCoef,
    v: &mut [f64],
    i_ex: &mut [f64],
    i_in: &mut [f64],
    refr: &mut [f64],
    theta: &mut [f64],
    in_ex: &mut [f32],
    in_in: &mut [f32],
    i_ext: &[f32],
    flags: &mut [u8],
) {
    let n = v.len();
    let (i_ex, i_in, refr, in_ex, in_in, flags) = (
        &mut i_ex[..n],
        &mut i_in[..n],
        &mut refr[..n],
        &mut in_ex[..n],
        &mut in_in[..n],
        &mut flags[..n],
    );
    let i_ext = if EXT { &i_ext[..n] } else { i_ext };
    let theta = if ADAPT { &mut theta[..n] } else { theta };
    // `I_e + 0.0`, as the generic expression with a zero external current.
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
        let integrated = k.p22 * vi + k.p21_ex * ie + k.p21_in * ii + drive;
        let v1 = if r <= 0.0 { integrated } else { vi };
        i_ex[i] = k.p11_ex * ie + in_ex[i] as f64;
        i_in[i] = k.p11_in * ii + in_in[i] as f64;
        in_ex[i] = 0.0;
        in_in[i] = 0.0;
        let spike = threshold::<ADAPT>(v1, k.th, kt, theta, i);
        v[i] = if spike { k.reset } else { v1 };
        refr[i] = if spike {
            k.ref_steps
        } else {
            (r - 1.0).max(0.0)
        };
        flags[i] = spike as u8;
    }
}

/// Two steps of `lif_exp` (fixed threshold) in one pass over the neurons, for networks whose
/// every input arrives at least one step after the spike that caused it: `V` of a step depends
/// on the currents of the step before, never on the step's own arrivals, so the second step's
/// `V` needs only the first step's arrivals, which are in the ring before the pass. Each
/// neuron's state is then loaded and stored once per two steps (the loop is bound by moving its
/// state between L1 and L2, not by arithmetic: 24% less time per neuron and step).
///
/// The refractory period is read from `ref_until`, the last step of each neuron's refractory
/// period (`V` is held while the step is at most that), which the kernel does not write: the
/// caller sets it for the few neurons that fired, from the spike lists (with the refractory
/// counter of the step-by-step kernel, every neuron stored its counter every step; 12% less
/// time per neuron and step). `x` is step `t` as `f64`. Holding while `t <= ref_until` is the
/// step-by-step kernel's `refr > 0` with `refr = ref_until - t + 1`.
///
/// The currents lag by one step: after a pass over steps `t` and `t + 1`, `i_ex` and `i_in` hold
/// the currents of step `t`, and step `t + 1`'s arrivals (`ra`, the spikes of step `t`, delivered
/// after the pass) are taken by the next pass (which starts with them) or by
/// [`lif_exp_take_arrivals`]. `LEAD` starts from caught-up currents (no `ra`). `rb` holds step
/// `t`'s arrivals; `flags` gets the two steps' spikes as bits 0 and 1 (one byte to store and to
/// scan for both); the caller then sets `ref_until` to `t + ref_steps` for neurons with bit 0
/// and then to `t + 1 + ref_steps` for those with bit 1. Every value is computed by
/// the same expressions in the same order as [`lif_exp_kernel`] computes it step by step, so
/// results are bit-identical (`engine.rs::tests::paired_steps_are_the_single_steps`).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn lif_exp_pair_loop<const LEAD: bool, const EXT: bool>(
    k: &LifExpCoef,
    v: &mut [f64],
    i_ex: &mut [f64],
    i_in: &mut [f64],
    x: f64,
    ref_until: &[f64],
    ra_ex: &mut [f32],
    ra_in: &mut [f32],
    rb_ex: &mut [f32],
    rb_in: &mut [f32],
    i_ext: &[f32],
    flags: &mut [u8],
) {
    let n = v.len();
    let (i_ex, i_in, ref_until, rb_ex, rb_in, flags) = (
        &mut i_ex[..n],
        &mut i_in[..n],
        &ref_until[..n],
        &mut rb_ex[..n],
        &mut rb_in[..n],
        &mut flags[..n],
    );
    let (ra_ex, ra_in) = if LEAD {
        (ra_ex, ra_in)
    } else {
        (&mut ra_ex[..n], &mut ra_in[..n])
    };
    let i_ext = if EXT { &i_ext[..n] } else { i_ext };
    let drive0 = k.p20 * (k.i_e + 0.0);
    for i in 0..n {
        let (mut ie, mut ii) = (i_ex[i], i_in[i]);
        if !LEAD {
            // The previous pass's last step: its arrivals.
            ie = k.p11_ex * ie + ra_ex[i] as f64;
            ii = k.p11_in * ii + ra_in[i] as f64;
            ra_ex[i] = 0.0;
            ra_in[i] = 0.0;
        }
        let drive = if EXT {
            k.p20 * (k.i_e + i_ext[i] as f64)
        } else {
            drive0
        };
        // Step t.
        let ru = ref_until[i];
        let vi = v[i];
        let integrated = k.p22 * vi + k.p21_ex * ie + k.p21_in * ii + drive;
        let v1 = if x > ru { integrated } else { vi };
        ie = k.p11_ex * ie + rb_ex[i] as f64;
        ii = k.p11_in * ii + rb_in[i] as f64;
        rb_ex[i] = 0.0;
        rb_in[i] = 0.0;
        let spike_a = v1 >= k.th;
        let va = if spike_a { k.reset } else { v1 };
        let ru = if spike_a { x + k.ref_steps } else { ru };
        // Step t + 1 (its arrivals come with the next pass).
        let integrated = k.p22 * va + k.p21_ex * ie + k.p21_in * ii + drive;
        let v1 = if x + 1.0 > ru { integrated } else { va };
        let spike = v1 >= k.th;
        v[i] = if spike { k.reset } else { v1 };
        flags[i] = spike_a as u8 | (spike as u8) << 1;
        i_ex[i] = ie;
        i_in[i] = ii;
    }
}

/// [`lif_exp_pair_loop`] picked by `lead` and by whether there is an external current.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn update_lif_exp_pair_body(
    k: &LifExpCoef,
    lead: bool,
    v: &mut [f64],
    i_ex: &mut [f64],
    i_in: &mut [f64],
    x: f64,
    ref_until: &[f64],
    ra_ex: &mut [f32],
    ra_in: &mut [f32],
    rb_ex: &mut [f32],
    rb_in: &mut [f32],
    i_ext: &[f32],
    flags: &mut [u8],
) {
    macro_rules! go {
        ($lead:literal, $ext:literal) => {
            lif_exp_pair_loop::<$lead, $ext>(
                k, v, i_ex, i_in, x, ref_until, ra_ex, ra_in, rb_ex, rb_in, i_ext, flags,
            )
        };
    }
    match (lead, i_ext.is_empty()) {
        (true, true) => go!(true, false),
        (true, false) => go!(true, true),
        (false, true) => go!(false, false),
        (false, false) => go!(false, true),
    }
}

/// Takes a step's arrivals into the currents of `lif_exp` neurons whose currents lag after
/// [`update_lif_exp_pair`] (the expressions of [`lif_exp_kernel`]), and clears the ring cells.
pub(crate) fn lif_exp_take_arrivals(
    k: &LifExpCoef,
    i_ex: &mut [f64],
    i_in: &mut [f64],
    in_ex: &mut [f32],
    in_in: &mut [f32],
) {
    for (((ie, ii), a), b) in i_ex.iter_mut().zip(i_in.iter_mut()).zip(in_ex).zip(in_in) {
        *ie = k.p11_ex * *ie + *a as f64;
        *ii = k.p11_in * *ii + *b as f64;
        *a = 0.0;
        *b = 0.0;
    }
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn update_lif_exp_body(
    k: &LifExpCoef,
    v: &mut [f64],
    i_ex: &mut [f64],
    i_in: &mut [f64],
    refr: &mut [f64],
    in_ex: &mut [f32],
    in_in: &mut [f32],
    i_ext: &[f32],
    flags: &mut [u8],
) {
    lif_exp_kernel::<false>(
        k,
        &ThetaCoef::FIXED,
        v,
        i_ex,
        i_in,
        refr,
        &mut [],
        in_ex,
        in_in,
        i_ext,
        flags,
    )
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn update_lif_exp_theta_body(
    k: &LifExpCoef,
    kt: &ThetaCoef,
    v: &mut [f64],
    i_ex: &mut [f64],
    i_in: &mut [f64],
    refr: &mut [f64],
    theta: &mut [f64],
    in_ex: &mut [f32],
    in_in: &mut [f32],
    i_ext: &[f32],
    flags: &mut [u8],
) {
    lif_exp_kernel::<true>(
        k, kt, v, i_ex, i_in, refr, theta, in_ex, in_in, i_ext, flags,
    )
}

/// Coefficients of the `lif_cond_exp` kernel (NEST `iaf_cond_exp`). State and coefficients are
/// `f64`; `V` is stored in absolute mV.
///
/// **Integration scheme.** The conductances decay exactly (`g(t+h) = exp(-h/tau) g(t)`, then
/// this step's arrivals are added). `V` has no closed form with time-varying conductances; it is
/// advanced by *exponential Euler with step-averaged conductances*: with
/// `g_x* = g_x(t) tau_x/h (1 - exp(-h/tau_x))`, the exact mean of the conductance over the step,
///
/// ```text
/// G      = g_L + g_ex* + g_in*
/// V_inf  = (g_L E_L + g_ex* E_ex + g_in* E_in + I_e + I_ext) / G
/// V(t+h) = V_inf + (V(t) - V_inf) exp(-h G / C_m)
/// ```
///
/// Every conductance's integral over the step is exact (so fast synapses, even `tau_syn` of two
/// steps, deliver the right charge); the only approximation is that the driving forces see the
/// conductances' mean rather than their time course. The scheme is unconditionally stable: `V`
/// relaxes towards a convex combination of the reversal potentials (plus `I/G`), so no weight,
/// however large, makes it overshoot or diverge.
///
/// **The `exp`.** One `exp` per neuron and step (`f64`), computed by the crate's own
/// `exp_f64` (`neuron/exp.rs`), not libm's: Cody-Waite reduction by `ln 2`, a degree-13 Taylor
/// polynomial (Estrin's scheme) and `2^n` built from bits, only `*` and `+` (no FMA), so the loop
/// vectorises and the baseline, AVX2 and AVX-512 builds stay bit-identical. It is within 1 ulp of
/// libm's `f64::exp` (measured on 4.8 million points of `[-708, 709]`; arguments below -708 give
/// 0, above 709 `exp(709)`); in the kernel's range (`-h G / C_m`, small and negative) it nearly
/// always equals libm's result: COBA 4,000 for 10 s (with exponential Euler, its scheme until
/// session 14) gives the same 724,121 spikes, raster byte-identical, as with libm. It took COBA's CPU time from about 1.46 s to 0.50 s per
/// simulated 10 s (docs/benchmarks.md). Blocks whose arguments are all within
/// [`NEAR0_MAX`] use [`exp_f64_near0`] (the same bits without the range reduction,
/// [`cond_exp_near0`]): another 12% off COBA.
///
/// **`integration = "pade"`** keeps the scheme and replaces `exp(-z)`, `z = h G / C_m`, by
/// `1 / (1 + z + z^2/2 + z^3/6 + z^4/24)` ([`pade_terms`]): no `exp`, one division, the factor
/// in `(0, 1)` for every `z > 0` (as stable as the `exp`), about `z^5/120` of `V - V_inf` from
/// it per step.
/// **`integration = "euler"`** is forward Euler (see `CondIntegration::Euler`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct LifCondExpCoef {
    /// Conductance decay over a step, `exp(-h/tau_syn_ex)`.
    p_ex: f64,
    p_in: f64,
    /// Mean of a unit conductance over a step, `tau/h (1 - exp(-h/tau))`.
    avg_ex: f64,
    avg_in: f64,
    g_l: f64,
    /// `g_L E_L` (pA).
    gl_el: f64,
    e_ex: f64,
    e_in: f64,
    i_e: f64,
    /// `-h / C_m` (ms/pF).
    neg_h_over_c: f64,
    th: f64,
    reset: f64,
    /// Refractory steps as `f64` so the kernel runs in 64-bit lanes only.
    ref_steps: f64,
    /// `input_order = "brian"`: this step's arrivals join the conductances before `V` is
    /// integrated.
    input_first: bool,
    /// `integration = "euler"`: forward Euler (`p_ex`, `p_in` are then `1 - h/tau`).
    euler: bool,
    /// `integration = "pade"`: exponential Euler with `V`'s factor `1 / (1 + z + ... + z^4/24)`.
    pade: bool,
    /// `h / C_m` (ms/pF), for forward Euler.
    h_over_c: f64,
    /// Conductance time constants (ms), for the quiet-advance bound.
    tau_ex: f64,
    tau_in: f64,
    /// Membrane capacitance (pF).
    c_m: f64,
    /// The step of a neuron without conductance, arrivals or external current, precomputed by
    /// the generic expressions with those terms `0` (so the result is the same): exponential
    /// Euler's `V_inf` and factor `exp(-h g_L / C_m)`, forward Euler's drive and total
    /// conductance. See [`QUIET_BLOCK`].
    quiet_v_inf: f64,
    quiet_decay: f64,
    quiet_drive: f64,
    quiet_g: f64,
    /// The Padé scheme's numerator term and denominator ([`pade_terms`]) of a quiet neuron, by
    /// the generic expressions.
    quiet_pade_add: f64,
    quiet_pade_den: f64,
    /// Conductances below these (nS) are set to `0` after each step: their whole remaining
    /// charge could move `V` by less than [`FLUSH_MV`] (see there).
    flush_ex: f64,
    flush_in: f64,
}

/// A conductance whose whole remaining effect on `V` is below this (mV) is set to exactly `0`
/// by `flush_conductances` at the start of every [`FLUSH_EVERY_STEPS`]-th step:
/// `g < FLUSH_MV C_m / (tau_syn span)`, with `span` the distance between the lowest and highest
/// of `E_L`, `E_ex`, `E_in`, `V_th` and `V_reset` (a bound on the driving force while `V` stays
/// between them). A decaying conductance would otherwise stay positive for about 745 `tau_syn`
/// before it underflows; set to `0`, a neuron at rest takes the cheap path of
/// `step_lif_cond_exp` (no `exp`, no division). The change to `V` is far below `f64` rounding
/// of the state over a run. The flush depends only on the neuron's own state and the step
/// number, so results do not depend on the thread count.
pub const FLUSH_MV: f64 = 1e-12;

/// Conductances are flushed ([`FLUSH_MV`]) at steps that are multiples of this: rarely enough to
/// cost nothing measurable in busy populations (a select per conductance and step in the kernel
/// cost COBA 5%), often enough that a spent conductance reaches 0 within this many steps of
/// falling below the level.
pub const FLUSH_EVERY_STEPS: u64 = 16;

/// Sets every conductance below its flush level ([`FLUSH_MV`]) to `0` (`NaN` is left alone).
#[inline(always)]
fn flush_conductances_body(k: &LifCondExpCoef, g_ex: &mut [f64], g_in: &mut [f64]) {
    for g in g_ex.iter_mut() {
        if *g < k.flush_ex {
            *g = 0.0;
        }
    }
    for g in g_in.iter_mut() {
        if *g < k.flush_in {
            *g = 0.0;
        }
    }
}

impl LifCondExpCoef {
    pub(crate) fn new(p: &LifCondExpParams, dt_ms: f64) -> Self {
        let k = Self::new_without_quiet(p, dt_ms);
        // The generic kernel's expressions with `g_ex = g_in = I_ext = 0`, term by term.
        let (ge, gi, i_ext) = (0.0f64, 0.0f64, 0.0f64);
        let gem = k.avg_ex * ge;
        let gim = k.avg_in * gi;
        let g_tot = k.g_l + gem + gim;
        let (pade_add, pade_den) = pade_terms(&k, gem, gim, i_ext, k.neg_h_over_c * g_tot);
        let span = [p.e_ex_mv, p.e_in_mv, p.v_th_mv, p.v_reset_mv]
            .iter()
            .fold((p.e_l_mv, p.e_l_mv), |(lo, hi), &x| (lo.min(x), hi.max(x)));
        let span = (span.1 - span.0).max(1.0);
        Self {
            flush_ex: FLUSH_MV * p.c_m_pf / (p.tau_syn_ex_ms * span),
            flush_in: FLUSH_MV * p.c_m_pf / (p.tau_syn_in_ms * span),
            quiet_v_inf: (k.gl_el + gem * k.e_ex + gim * k.e_in + k.i_e + i_ext) / g_tot,
            quiet_decay: exp_f64(k.neg_h_over_c * g_tot),
            quiet_drive: k.gl_el + ge * k.e_ex + gi * k.e_in + k.i_e + i_ext,
            quiet_g: k.g_l + ge + gi,
            quiet_pade_add: pade_add,
            quiet_pade_den: pade_den,
            ..k
        }
    }

    fn new_without_quiet(p: &LifCondExpParams, dt_ms: f64) -> Self {
        let euler = p.integration == CondIntegration::Euler;
        let decay = |tau: f64| {
            if euler {
                1.0 - dt_ms / tau
            } else {
                (-dt_ms / tau).exp()
            }
        };
        Self {
            input_first: p.input_order == InputOrder::Brian,
            euler,
            pade: p.integration == CondIntegration::Pade,
            h_over_c: dt_ms / p.c_m_pf,
            tau_ex: p.tau_syn_ex_ms,
            tau_in: p.tau_syn_in_ms,
            c_m: p.c_m_pf,
            p_ex: decay(p.tau_syn_ex_ms),
            p_in: decay(p.tau_syn_in_ms),
            avg_ex: p.tau_syn_ex_ms / dt_ms * -(-dt_ms / p.tau_syn_ex_ms).exp_m1(),
            avg_in: p.tau_syn_in_ms / dt_ms * -(-dt_ms / p.tau_syn_in_ms).exp_m1(),
            g_l: p.g_l_ns,
            gl_el: p.g_l_ns * p.e_l_mv,
            e_ex: p.e_ex_mv,
            e_in: p.e_in_mv,
            i_e: p.i_e_pa,
            neg_h_over_c: -dt_ms / p.c_m_pf,
            th: p.v_th_mv,
            reset: p.v_reset_mv,
            ref_steps: refractory_steps(p.t_ref_ms, dt_ms) as f64,
            quiet_v_inf: 0.0,
            quiet_decay: 0.0,
            quiet_drive: 0.0,
            quiet_g: 0.0,
            quiet_pade_add: 0.0,
            quiet_pade_den: 0.0,
            flush_ex: 0.0,
            flush_in: 0.0,
        }
    }
}

/// The largest change of `V` (mV) that the conductances left at the start of a quiet window
/// may still cause, for `LifCondExpCoef::can_relax` (their remaining charge times the largest
/// driving force, over `C_m`; the closed form leaves it out).
pub const QUIET_TOLERANCE_MV: f64 = 1e-3;

impl LifCondExpCoef {
    /// Whether `n` steps of a neuron with state `(v, g_ex, g_in, refr)`, external current
    /// `i_ext` and threshold offset range `theta_lo..` (the lowest `theta` the window can
    /// reach) can be taken in closed form ([`Self::relax`]): no input arrives (the caller
    /// checks), the conductances' remaining effect on `V` is below [`QUIET_TOLERANCE_MV`] and
    /// no spike can
    /// happen (`V` moves monotonically toward `V_inf` while the threshold stays at least
    /// `th + theta_lo`).
    pub(crate) fn can_relax(
        &self,
        v: f64,
        g_ex: f64,
        g_in: f64,
        i_ext: f64,
        theta_lo: f64,
    ) -> bool {
        let v_inf = (self.gl_el + self.i_e + i_ext) / self.g_l;
        let (lo, hi) = (v.min(v_inf), v.max(v_inf));
        // Largest change the remaining conductances can make: their charge times the drive.
        let bump = (g_ex * self.tau_ex * (self.e_ex - lo).abs()
            + g_in * self.tau_in * (self.e_in - hi).abs())
            / self.c_m;
        bump < QUIET_TOLERANCE_MV && hi < self.th + theta_lo
    }

    /// The factors of [`relax`](Self::relax) for `n` silent steps, computed once for a
    /// population: `V`'s per-step factor (`exp(-h g_L / C_m)`; `1 - h g_L / C_m` for Euler;
    /// `1 / T4(h g_L / C_m)` for the Padé scheme, [`pade_terms`]),
    /// its `n`-th power, and the conductances' per-step decays to the power `n`.
    pub(crate) fn relax_factors(&self, n: u64) -> RelaxFactors {
        let f1 = if self.euler {
            1.0 + self.neg_h_over_c * self.g_l
        } else if self.pade {
            let x = self.neg_h_over_c * self.g_l;
            1.0 / (1.0 - x * (1.0 - x * (0.5 - x * (1.0 / 6.0 - x * (1.0 / 24.0)))))
        } else {
            (self.neg_h_over_c * self.g_l).exp()
        };
        RelaxFactors {
            n,
            f1,
            v_n: f1.powf(n as f64),
            ex_n: self.p_ex.powf(n as f64),
            in_n: self.p_in.powf(n as f64),
        }
    }

    /// Advances one neuron by `f.n` silent steps in closed form: refractory steps hold `V`, the
    /// others relax it toward `V_inf = (g_L E_L + I_e + I_ext) / g_L` by the per-step factor to
    /// the power of their number (for a neuron that is not refractory, the population's
    /// precomputed power: the same value); the conductances decay by their factors.
    pub(crate) fn relax(
        &self,
        f: &RelaxFactors,
        v: &mut f64,
        g_ex: &mut f64,
        g_in: &mut f64,
        refr: &mut f64,
        i_ext: f64,
    ) {
        let n = f.n as f64;
        let v_inf = (self.gl_el + self.i_e + i_ext) / self.g_l;
        let decay = if *refr == 0.0 {
            f.v_n
        } else {
            f.f1.powf((n - *refr).max(0.0))
        };
        *v = v_inf + (*v - v_inf) * decay;
        *g_ex *= f.ex_n;
        *g_in *= f.in_n;
        *refr = (*refr - n).max(0.0);
    }
}

/// [`LifCondExpCoef::relax_factors`]: a population's factors for `n` silent steps.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RelaxFactors {
    n: u64,
    f1: f64,
    v_n: f64,
    ex_n: f64,
    in_n: f64,
}

impl ThetaCoef {
    /// The decay of `theta` over `n` steps, `decay^n` (once per population).
    pub(crate) fn decay_over(&self, n: u64) -> f64 {
        self.decay.powf(n as f64)
    }

    /// `theta` after the steps of `decay_n` ([`decay_over`](Self::decay_over)) without spikes:
    /// `rest + (theta - rest) decay^n`.
    pub(crate) fn relax(&self, decay_n: f64, theta: f64) -> f64 {
        let rest = if self.decay < 1.0 {
            self.rest_term / (1.0 - self.decay)
        } else {
            0.0
        };
        rest + (theta - rest) * decay_n
    }

    /// The lowest `theta` reached within the steps of `decay_n` from `theta`.
    pub(crate) fn lowest(&self, decay_n: f64, theta: f64) -> f64 {
        theta.min(self.relax(decay_n, theta))
    }
}

/// One step of `lif_cond_exp` over a range, in the order of `lif_exp`: integrate V unless
/// refractory (see [`LifCondExpCoef`] for the scheme), decay the conductances and add this
/// step's arrivals (clamped at 0), then spike and reset if `V >= V_th` (plus `theta` when
/// `ADAPT`; `theta` is unused otherwise). `NEAR0`: every neuron's `exp` argument is within
/// [`NEAR0_MAX`] ([`cond_exp_near0`] checked), so the `exp` skips its range reduction (same
/// bits).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn lif_cond_exp_kernel<
    const ADAPT: bool,
    const INPUT_FIRST: bool,
    const S: u8,
    const NEAR0: bool,
>(
    k: &LifCondExpCoef,
    kt: &ThetaCoef,
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
    let (g_ex, g_in, refr, in_ex, in_in, i_ext, flags) = (
        &mut g_ex[..n],
        &mut g_in[..n],
        &mut refr[..n],
        &mut in_ex[..n],
        &mut in_in[..n],
        &i_ext[..n],
        &mut flags[..n],
    );
    let theta = if ADAPT { &mut theta[..n] } else { theta };
    for i in 0..n {
        let r = refr[i];
        let vi = v[i];
        let (ge, gi) = cond_step_g::<INPUT_FIRST>(k, g_ex[i], g_in[i], in_ex[i], in_in[i]);
        let integrated = if S == S_EULER {
            // Forward Euler with the conductances at the start of the step.
            let drive = k.gl_el + ge * k.e_ex + gi * k.e_in + k.i_e + i_ext[i] as f64;
            vi + k.h_over_c * (drive - (k.g_l + ge + gi) * vi)
        } else if S == S_PADE {
            let (gem, gim, x) = cond_exp_arg(k, ge, gi);
            let (add, den) = pade_terms(k, gem, gim, i_ext[i] as f64, x);
            (vi + add) / den
        } else {
            let (gem, gim, x) = cond_exp_arg(k, ge, gi);
            let g_tot = k.g_l + gem + gim;
            let v_inf = (k.gl_el + gem * k.e_ex + gim * k.e_in + k.i_e + i_ext[i] as f64) / g_tot;
            let decay = if NEAR0 { exp_f64_near0(x) } else { exp_f64(x) };
            v_inf + (vi - v_inf) * decay
        };
        let v1 = if r <= 0.0 { integrated } else { vi };
        if INPUT_FIRST {
            g_ex[i] = ge;
            g_in[i] = gi;
        } else {
            g_ex[i] = (k.p_ex * ge + in_ex[i] as f64).max(0.0);
            g_in[i] = (k.p_in * gi + in_in[i] as f64).max(0.0);
        }
        in_ex[i] = 0.0;
        in_in[i] = 0.0;
        let spike = threshold::<ADAPT>(v1, k.th, kt, theta, i);
        v[i] = if spike { k.reset } else { v1 };
        refr[i] = if spike {
            k.ref_steps
        } else {
            (r - 1.0).max(0.0)
        };
        flags[i] = spike as u8;
    }
}

/// The conductances a `lif_cond_exp` step integrates with: in Brian's order (`INPUT_FIRST`) the
/// decayed ones plus the step's arrivals (clamped at 0), in NEST's the ones at the step's start.
#[inline(always)]
fn cond_step_g<const INPUT_FIRST: bool>(
    k: &LifCondExpCoef,
    g_ex: f64,
    g_in: f64,
    in_ex: f32,
    in_in: f32,
) -> (f64, f64) {
    if INPUT_FIRST {
        (
            (k.p_ex * g_ex + in_ex as f64).max(0.0),
            (k.p_in * g_in + in_in as f64).max(0.0),
        )
    } else {
        (g_ex, g_in)
    }
}

/// The integration schemes of [`lif_cond_exp_kernel`] and [`lif_cond_exp_quiet`] (their `S`
/// parameter): exponential Euler, forward Euler, exponential Euler with the Padé factor.
const S_EXP: u8 = 0;
const S_EULER: u8 = 1;
const S_PADE: u8 = 2;

/// The scheme constant of `k` ([`S_EXP`], [`S_EULER`], [`S_PADE`]).
#[inline(always)]
fn scheme(k: &LifCondExpCoef) -> u8 {
    if k.euler {
        S_EULER
    } else if k.pade {
        S_PADE
    } else {
        S_EXP
    }
}

/// The Padé scheme's step `V <- (V + add) / den` (`integration = "pade"`): with the step-mean
/// conductances `gem`, `gim` and `x = -z = -h G / C_m` ([`cond_exp_arg`]),
/// `w = 1 + z/2 + z^2/6 + z^3/24`, `add = h/C_m (g_L E_L + gem E_ex + gim E_in + I_e + I_ext) w`
/// and `den = 1 + z w`. This is `V_inf + (V - V_inf) / T(z)` with `T(z) = 1 + z w = 1 + z +
/// z^2/2 + z^3/6 + z^4/24` (exponential Euler with `exp(-z)` replaced by its (0, 4) Padé
/// approximant `1 / T(z)`) without dividing by `G`. Degree 4 rather than 2: in Diehl & Cook's
/// inhibitory neurons a partner's spike gives `z` about 0.46 in one step, where `1 / (1 + z +
/// z^2/2)` is 1.2% above `exp(-z)` and moved `V` 0.4 mV, next to the threshold (the 400-neuron
/// classifier learned 87.2% instead of 88.6%); degree 4 is within 7.4e-5 there (`1 / T4(z) -
/// exp(-z)` lies in `(0, z^5/120)`).
#[inline(always)]
fn pade_terms(k: &LifCondExpCoef, gem: f64, gim: f64, i_ext: f64, x: f64) -> (f64, f64) {
    let hac = k.h_over_c * (k.gl_el + gem * k.e_ex + gim * k.e_in + k.i_e + i_ext);
    // w = (T4(z) - 1) / z = 1 + z/2 + z^2/6 + z^3/24 with z = -x, by Horner's scheme.
    let w = 1.0 - x * (0.5 - x * (1.0 / 6.0 - x * (1.0 / 24.0)));
    (hac * w, 1.0 - x * w)
}

/// The step-mean conductances of exponential Euler and the `exp` argument `-h G / C_m`.
#[inline(always)]
fn cond_exp_arg(k: &LifCondExpCoef, ge: f64, gi: f64) -> (f64, f64, f64) {
    let gem = k.avg_ex * ge;
    let gim = k.avg_in * gi;
    (gem, gim, k.neg_h_over_c * (k.g_l + gem + gim))
}

/// Whether every neuron's `exp` argument in this exponential-Euler step is within
/// [`NEAR0_MAX`] (computed by the kernel's own expressions, so the kernel sees the same values;
/// `NaN` counts as outside): then the kernel may use [`exp_f64_near0`], same bits, a third fewer
/// operations. In Diehl & Cook's and COBA's populations it nearly always is (`h G / C_m` is about
/// `h / tau_m`, 0.005 there, plus the conductances' share). One pass over the conductances and
/// arrivals, an OR of comparisons (vectorises).
#[inline(always)]
fn cond_exp_near0<const INPUT_FIRST: bool>(
    k: &LifCondExpCoef,
    g_ex: &[f64],
    g_in: &[f64],
    in_ex: &[f32],
    in_in: &[f32],
) -> bool {
    let n = g_ex.len();
    let (g_in, in_ex, in_in) = (&g_in[..n], &in_ex[..n], &in_in[..n]);
    let mut near = true;
    for i in 0..n {
        let (ge, gi) = cond_step_g::<INPUT_FIRST>(k, g_ex[i], g_in[i], in_ex[i], in_in[i]);
        let x = cond_exp_arg(k, ge, gi).2;
        near &= x.abs() <= NEAR0_MAX;
    }
    near
}

/// Neurons per block of the `lif_cond_exp` kernel's choice of `exp` ([`cond_exp_near0`]): large
/// enough that the check and the call cost little per neuron, small enough that a block with
/// one large conductance does not send a whole population to the full `exp`.
const NEAR0_BLOCK: usize = 64;

/// The end of the [`NEAR0_BLOCK`] that starts at `a` of `n` neurons: the last block takes a short
/// remainder (under half a block) with it.
#[inline(always)]
fn near0_block_end(a: usize, n: usize) -> usize {
    if n - a < NEAR0_BLOCK + NEAR0_BLOCK / 2 {
        n
    } else {
        a + NEAR0_BLOCK
    }
}

/// Neurons per block of the `lif_cond_exp` update ([`step_lif_cond_exp`]). A block whose
/// neurons all have zero conductances, no arrivals and no external current this step (a
/// population at rest, such as Diehl & Cook's inhibitory neurons between their partners'
/// spikes) takes [`lif_cond_exp_quiet`], which needs neither the `exp` nor the division: the
/// generic expressions with those terms `0` are constants (`LifCondExpCoef::quiet_v_inf` and the
/// others, computed by the same operations), so both paths give the same values (up to the sign
/// of a zero). Other blocks take the generic kernel.
pub(crate) const QUIET_BLOCK: usize = 16;

/// Steps for which [`step_lif_cond_exp`] does not look for quiet blocks after finding none
/// (which path a block takes does not change its result, so this only saves the scan in busy
/// populations).
const QUIET_RESCAN_STEPS: u32 = 32;

/// Marks the blocks of [`QUIET_BLOCK`] neurons whose `busy` bytes are all 0 (with `and_mask`,
/// only among those already marked), one 16-byte test per block; returns how many are marked.
#[inline(always)]
fn block_mask(busy: &[u8], mask: &mut [bool], and_mask: bool) -> usize {
    let mut c = 0;
    for (m, chunk) in mask.iter_mut().zip(busy.chunks_exact(QUIET_BLOCK)) {
        let clean = u128::from_ne_bytes(chunk.try_into().expect("16 bytes")) == 0;
        let quiet = clean && (*m || !and_mask);
        *m = quiet;
        c += quiet as usize;
    }
    c
}

/// Marks each block of [`QUIET_BLOCK`] neurons whose conductances, arrivals and external
/// currents are all zero (`NaN` counts as not zero), and counts them. `busy` is scratch of one
/// byte per neuron.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn cond_quiet_mask_body(
    g_ex: &[f64],
    g_in: &[f64],
    in_ex: &[f32],
    in_in: &[f32],
    i_ext: &[f32],
    busy: &mut [u8],
    mask: &mut [bool],
    count: &mut usize,
) {
    let n = busy.len();
    let (g_ex, g_in, in_ex, in_in, i_ext) = (
        &g_ex[..n],
        &g_in[..n],
        &in_ex[..n],
        &in_in[..n],
        &i_ext[..n],
    );
    // `x != 0` for any float is `bits << 1 != 0` (the sign bit shifted out; NaN is non-zero):
    // one straight loop of integer ORs, which vectorises, then one 16-byte test per block.
    for i in 0..n {
        let a = (g_ex[i].to_bits() | g_in[i].to_bits()) << 1;
        let b = (in_ex[i].to_bits() | in_in[i].to_bits() | i_ext[i].to_bits()) << 1;
        busy[i] = ((a | b as u64) != 0) as u8;
    }
    *count = block_mask(busy, mask, false);
}

/// Keeps marked only the blocks of `mask` (quiet last step: conductances 0) whose arrivals and
/// external currents are all zero this step, and counts them. `busy` is scratch.
#[inline(always)]
fn cond_input_mask_body(
    in_ex: &[f32],
    in_in: &[f32],
    i_ext: &[f32],
    busy: &mut [u8],
    mask: &mut [bool],
    count: &mut usize,
) {
    let n = busy.len();
    let (in_ex, in_in, i_ext) = (&in_ex[..n], &in_in[..n], &i_ext[..n]);
    for i in 0..n {
        busy[i] =
            (((in_ex[i].to_bits() | in_in[i].to_bits() | i_ext[i].to_bits()) << 1) != 0) as u8;
    }
    *count = block_mask(busy, mask, true);
}

/// The `lif_cond_exp` step of a quiet block ([`QUIET_BLOCK`]): `V` relaxes by the precomputed
/// constants (held while refractory), the conductances stay `0` (not written), then the
/// threshold as in
/// [`lif_cond_exp_kernel`].
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn lif_cond_exp_quiet<const ADAPT: bool, const S: u8>(
    k: &LifCondExpCoef,
    kt: &ThetaCoef,
    v: &mut [f64],
    refr: &mut [f64],
    theta: &mut [f64],
    flags: &mut [u8],
) {
    let n = v.len();
    let (refr, flags) = (&mut refr[..n], &mut flags[..n]);
    let theta = if ADAPT { &mut theta[..n] } else { theta };
    for i in 0..n {
        let r = refr[i];
        let vi = v[i];
        let integrated = if S == S_EULER {
            vi + k.h_over_c * (k.quiet_drive - k.quiet_g * vi)
        } else if S == S_PADE {
            (vi + k.quiet_pade_add) / k.quiet_pade_den
        } else {
            k.quiet_v_inf + (vi - k.quiet_v_inf) * k.quiet_decay
        };
        let v1 = if r <= 0.0 { integrated } else { vi };
        let spike = threshold::<ADAPT>(v1, k.th, kt, theta, i);
        v[i] = if spike { k.reset } else { v1 };
        refr[i] = if spike {
            k.ref_steps
        } else {
            (r - 1.0).max(0.0)
        };
        flags[i] = spike as u8;
    }
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn update_lif_cond_exp_quiet_body(
    k: &LifCondExpCoef,
    v: &mut [f64],
    refr: &mut [f64],
    flags: &mut [u8],
) {
    let kt = &ThetaCoef::FIXED;
    match scheme(k) {
        S_EULER => lif_cond_exp_quiet::<false, S_EULER>(k, kt, v, refr, &mut [], flags),
        S_PADE => lif_cond_exp_quiet::<false, S_PADE>(k, kt, v, refr, &mut [], flags),
        _ => lif_cond_exp_quiet::<false, S_EXP>(k, kt, v, refr, &mut [], flags),
    }
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn update_lif_cond_exp_quiet_theta_body(
    k: &LifCondExpCoef,
    kt: &ThetaCoef,
    v: &mut [f64],
    refr: &mut [f64],
    theta: &mut [f64],
    flags: &mut [u8],
) {
    match scheme(k) {
        S_EULER => lif_cond_exp_quiet::<true, S_EULER>(k, kt, v, refr, theta, flags),
        S_PADE => lif_cond_exp_quiet::<true, S_PADE>(k, kt, v, refr, theta, flags),
        _ => lif_cond_exp_quiet::<true, S_EXP>(k, kt, v, refr, theta, flags),
    }
}

/// Per-population scratch of [`step_lif_cond_exp`]: which blocks are quiet this step, and for
/// how many more steps not to look (after a scan found none).
#[derive(Debug, Clone, Default)]
pub(crate) struct CondQuiet {
    busy: Vec<u8>,
    mask: Vec<bool>,
    skip: u32,
    /// `mask` holds the last step's quiet blocks: their conductances are still 0, so only
    /// their inputs need looking at (busy blocks stay busy until the next full scan, at the
    /// next flush step).
    valid: bool,
}

/// One `lif_cond_exp` step `t` of a population (`kt` and `theta` for an adaptive threshold,
/// else `None` and empty): at every [`FLUSH_EVERY_STEPS`]-th step the spent conductances are
/// flushed to 0 ([`flush_conductances`]); then maximal runs of quiet blocks ([`QUIET_BLOCK`])
/// take the cheap path and the other neurons the generic kernel, in as long ranges as possible.
/// Same result as the flush (on those steps) followed by [`update_lif_cond_exp`] /
/// [`update_lif_cond_exp_theta`] over the whole range.
#[allow(clippy::too_many_arguments)]
pub(crate) fn step_lif_cond_exp(
    t: Step,
    k: &LifCondExpCoef,
    kt: Option<&ThetaCoef>,
    v: &mut [f64],
    g_ex: &mut [f64],
    g_in: &mut [f64],
    refr: &mut [f64],
    theta: &mut [f64],
    in_ex: &mut [f32],
    in_in: &mut [f32],
    i_ext: &[f32],
    flags: &mut [u8],
    q: &mut CondQuiet,
) {
    const B: usize = QUIET_BLOCK;
    if t.is_multiple_of(FLUSH_EVERY_STEPS) {
        flush_conductances(k, g_ex, g_in);
    }
    let n = v.len();
    let blocks = n / B;
    let m = blocks * B;
    let mut count = 0;
    if blocks == 0 || q.skip > 0 {
        q.skip = q.skip.saturating_sub(1);
        q.valid = false;
    } else {
        let full = !q.valid || q.mask.len() != blocks || t.is_multiple_of(FLUSH_EVERY_STEPS);
        q.mask.resize(blocks, false);
        q.busy.resize(m, 0);
        if full {
            cond_quiet_mask(
                &g_ex[..m],
                &g_in[..m],
                &in_ex[..m],
                &in_in[..m],
                &i_ext[..m],
                &mut q.busy,
                &mut q.mask,
                &mut count,
            );
        } else {
            cond_input_mask(
                &in_ex[..m],
                &in_in[..m],
                &i_ext[..m],
                &mut q.busy,
                &mut q.mask,
                &mut count,
            );
        }
        q.valid = count > 0;
        if count == 0 {
            q.skip = QUIET_RESCAN_STEPS;
        }
    }
    // One range through the generic kernel or the quiet one.
    let mut run = |r: std::ops::Range<usize>, quiet: bool| {
        let th: &mut [f64] = if kt.is_some() {
            &mut theta[r.clone()]
        } else {
            &mut []
        };
        match (kt, quiet) {
            (Some(kt), false) => update_lif_cond_exp_theta(
                k,
                kt,
                &mut v[r.clone()],
                &mut g_ex[r.clone()],
                &mut g_in[r.clone()],
                &mut refr[r.clone()],
                th,
                &mut in_ex[r.clone()],
                &mut in_in[r.clone()],
                &i_ext[r.clone()],
                &mut flags[r],
            ),
            (None, false) => update_lif_cond_exp(
                k,
                &mut v[r.clone()],
                &mut g_ex[r.clone()],
                &mut g_in[r.clone()],
                &mut refr[r.clone()],
                &mut in_ex[r.clone()],
                &mut in_in[r.clone()],
                &i_ext[r.clone()],
                &mut flags[r],
            ),
            (Some(kt), true) => update_lif_cond_exp_quiet_theta(
                k,
                kt,
                &mut v[r.clone()],
                &mut refr[r.clone()],
                th,
                &mut flags[r],
            ),
            (None, true) => {
                update_lif_cond_exp_quiet(k, &mut v[r.clone()], &mut refr[r.clone()], &mut flags[r])
            }
        }
    };
    if count == 0 {
        run(0..n, false);
        return;
    }
    let mut b = 0;
    while b < blocks {
        let quiet = q.mask[b];
        let mut e = b;
        while e < blocks && q.mask[e] == quiet {
            e += 1;
        }
        // The remainder (never quiet) joins a busy run at the end.
        let end = if !quiet && e == blocks { n } else { e * B };
        run(b * B..end, quiet);
        b = e;
    }
    if q.mask[blocks - 1] && m < n {
        run(m..n, false);
    }
}

/// Runs the kernel variant of `k`'s input order and integration scheme. Direct calls (not
/// function pointers), so each variant inlines into the caller's instruction-set build.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn lif_cond_exp_variant<const ADAPT: bool>(
    k: &LifCondExpCoef,
    kt: &ThetaCoef,
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
    match (scheme(k), k.input_first) {
        (S_EULER, true) => {
            return lif_cond_exp_kernel::<ADAPT, true, S_EULER, false>(
                k, kt, v, g_ex, g_in, refr, theta, in_ex, in_in, i_ext, flags,
            );
        }
        (S_EULER, false) => {
            return lif_cond_exp_kernel::<ADAPT, false, S_EULER, false>(
                k, kt, v, g_ex, g_in, refr, theta, in_ex, in_in, i_ext, flags,
            );
        }
        (S_PADE, true) => {
            return lif_cond_exp_kernel::<ADAPT, true, S_PADE, false>(
                k, kt, v, g_ex, g_in, refr, theta, in_ex, in_in, i_ext, flags,
            );
        }
        (S_PADE, false) => {
            return lif_cond_exp_kernel::<ADAPT, false, S_PADE, false>(
                k, kt, v, g_ex, g_in, refr, theta, in_ex, in_in, i_ext, flags,
            );
        }
        _ => {}
    }
    // Exponential Euler, block by block: a block whose `exp` arguments are all near 0 (nearly
    // every block in practice) takes the `exp` without range reduction, same bits.
    let n = v.len();
    let mut a = 0;
    while a < n {
        let e = near0_block_end(a, n);
        let (v, g_ex, g_in, refr) = (
            &mut v[a..e],
            &mut g_ex[a..e],
            &mut g_in[a..e],
            &mut refr[a..e],
        );
        let (in_ex, in_in, i_ext, flags) = (
            &mut in_ex[a..e],
            &mut in_in[a..e],
            &i_ext[a..e],
            &mut flags[a..e],
        );
        let theta: &mut [f64] = if ADAPT { &mut theta[a..e] } else { &mut [] };
        match (
            k.input_first,
            if k.input_first {
                cond_exp_near0::<true>(k, g_ex, g_in, in_ex, in_in)
            } else {
                cond_exp_near0::<false>(k, g_ex, g_in, in_ex, in_in)
            },
        ) {
            (true, false) => lif_cond_exp_kernel::<ADAPT, true, S_EXP, false>(
                k, kt, v, g_ex, g_in, refr, theta, in_ex, in_in, i_ext, flags,
            ),
            (true, true) => lif_cond_exp_kernel::<ADAPT, true, S_EXP, true>(
                k, kt, v, g_ex, g_in, refr, theta, in_ex, in_in, i_ext, flags,
            ),
            (false, false) => lif_cond_exp_kernel::<ADAPT, false, S_EXP, false>(
                k, kt, v, g_ex, g_in, refr, theta, in_ex, in_in, i_ext, flags,
            ),
            (false, true) => lif_cond_exp_kernel::<ADAPT, false, S_EXP, true>(
                k, kt, v, g_ex, g_in, refr, theta, in_ex, in_in, i_ext, flags,
            ),
        }
        a = e;
    }
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn update_lif_cond_exp_body(
    k: &LifCondExpCoef,
    v: &mut [f64],
    g_ex: &mut [f64],
    g_in: &mut [f64],
    refr: &mut [f64],
    in_ex: &mut [f32],
    in_in: &mut [f32],
    i_ext: &[f32],
    flags: &mut [u8],
) {
    lif_cond_exp_variant::<false>(
        k,
        &ThetaCoef::FIXED,
        v,
        g_ex,
        g_in,
        refr,
        &mut [],
        in_ex,
        in_in,
        i_ext,
        flags,
    )
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn update_lif_cond_exp_theta_body(
    k: &LifCondExpCoef,
    kt: &ThetaCoef,
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
    lif_cond_exp_variant::<true>(
        k, kt, v, g_ex, g_in, refr, theta, in_ex, in_in, i_ext, flags,
    )
}

/// Coefficients of the `lif_delta` kernel.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LifDeltaCoef {
    p22: f64,
    p20: f64,
    i_e: f64,
    th: f64,
    reset: f64,
    /// Refractory steps as `f64` so the kernel runs in 64-bit lanes only (vectorises).
    ref_steps: f64,
    pub(crate) e_l: f64,
}

impl LifDeltaCoef {
    pub(crate) fn new(p: &LifDeltaParams, dt_ms: f64) -> Self {
        let LifDeltaPropagators { p22, p20 } = LifDeltaPropagators::new(p, dt_ms);
        Self {
            p22,
            p20,
            i_e: p.i_e_pa,
            th: (p.v_th_mv - p.e_l_mv),
            reset: (p.v_reset_mv - p.e_l_mv),
            ref_steps: refractory_steps(p.t_ref_ms, dt_ms) as f64,
            e_l: p.e_l_mv,
        }
    }
}

/// One step of `lif_delta` (NEST `iaf_psc_delta` order): unless refractory,
/// `V = P22 V + P20 (I_e + I_ext) + sum of arriving weights` (arrivals during the refractory
/// period are dropped); spike and reset if `V >= V_th`.
#[inline(always)]
fn update_lif_delta_body(
    k: &LifDeltaCoef,
    v: &mut [f64],
    refr: &mut [f64],
    input: &mut [f32],
    i_ext: &[f32],
    flags: &mut [u8],
) {
    let n = v.len();
    let (refr, input, i_ext, flags) = (
        &mut refr[..n],
        &mut input[..n],
        &i_ext[..n],
        &mut flags[..n],
    );
    for i in 0..n {
        let r = refr[i];
        let vi = v[i];
        let integrated = k.p22 * vi + k.p20 * (k.i_e + i_ext[i] as f64) + input[i] as f64;
        input[i] = 0.0;
        let v1 = if r <= 0.0 { integrated } else { vi };
        let spike = v1 >= k.th;
        v[i] = if spike { k.reset } else { v1 };
        refr[i] = if spike {
            k.ref_steps
        } else {
            (r - 1.0).max(0.0)
        };
        flags[i] = spike as u8;
    }
}

/// Coefficients of the discrete `lif_beta` kernel.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LifBetaCoef {
    beta: f32,
    th: f32,
    bias: f32,
    subtract: bool,
    delayed: bool,
}

impl LifBetaCoef {
    pub(crate) fn new(p: &LifBetaParams) -> Self {
        Self {
            beta: p.beta as f32,
            th: p.threshold as f32,
            bias: p.bias as f32,
            subtract: p.reset == ResetMode::Subtract,
            delayed: p.reset == ResetMode::SubtractDelayed,
        }
    }
}

/// One step of the discrete LIF: `v = beta v + (I + bias)`, spike if `v > threshold`, then reset
/// by subtraction or to zero. `I` is this step's arrivals plus any external current. The sum
/// `I + bias` is formed first, so a trainer computing `beta * v + (x + b)` matches bit for bit.
///
/// With the delayed reset (snnTorch's `Leaky`) `v` holds the membrane before any reset, and the
/// reset of the previous step's spike (`v > threshold`) is subtracted after the decay:
/// `v = (beta v + (I + bias)) - threshold`, in snnTorch's order of operations.
#[inline(always)]
fn update_lif_beta_body(
    k: &LifBetaCoef,
    v: &mut [f32],
    input: &mut [f32],
    i_ext: &[f32],
    flags: &mut [u8],
) {
    let n = v.len();
    let (input, i_ext, flags) = (&mut input[..n], &i_ext[..n], &mut flags[..n]);
    if k.delayed {
        for i in 0..n {
            let x = input[i] + i_ext[i] + k.bias;
            input[i] = 0.0;
            let reset = if v[i] > k.th { k.th } else { 0.0 };
            let v1 = (k.beta * v[i] + x) - reset;
            v[i] = v1;
            flags[i] = (v1 > k.th) as u8;
        }
        return;
    }
    for i in 0..n {
        let x = input[i] + i_ext[i] + k.bias;
        input[i] = 0.0;
        let v1 = k.beta * v[i] + x;
        let spike = v1 > k.th;
        let reset = if k.subtract { v1 - k.th } else { 0.0 };
        v[i] = if spike { reset } else { v1 };
        flags[i] = spike as u8;
    }
}

/// Bound on `|v|` (mV) of the `izhikevich` kernel, applied to every RK4 stage and to the result.
/// Far outside any physiological range; it keeps the state finite under absurd input.
pub const IZH_V_BOUND: f64 = 1e4;
/// Bound on `|u|` and on the total input current of the `izhikevich` kernel (paper's units).
pub const IZH_U_BOUND: f64 = 1e12;

/// Coefficients of the `izhikevich` kernel (see [`IzhikevichParams`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct IzhikevichCoef {
    a: f64,
    b: f64,
    pub(crate) c: f64,
    d: f64,
    v_peak: f64,
    i_e: f64,
    /// Step (ms).
    h: f64,
}

impl IzhikevichCoef {
    pub(crate) fn new(p: &IzhikevichParams, dt_ms: f64) -> Self {
        Self {
            a: p.a,
            b: p.b,
            c: p.c_mv,
            d: p.d,
            v_peak: p.v_peak_mv,
            i_e: p.i_e,
            h: dt_ms,
        }
    }

    /// An initial membrane value clamped to `±IZH_V_BOUND`.
    pub(crate) fn clamp_v(&self, v0: f64) -> f64 {
        v0.clamp(-IZH_V_BOUND, IZH_V_BOUND)
    }

    /// The initial recovery variable for a membrane value `v0`: `u = b v0`, as in the paper.
    pub(crate) fn u0(&self, v0: f64) -> f64 {
        (self.b * v0).clamp(-IZH_U_BOUND, IZH_U_BOUND)
    }
}

/// One classic RK4 step of length `k.h` of the Izhikevich equations with the current `cur` held
/// constant over the step. Every stage's `v` is clamped to `±IZH_V_BOUND` and `u` to
/// `±IZH_U_BOUND`, so the result is finite for any finite input (the quadratic term blows up in
/// finite time past threshold; the step that crosses `v_peak` only needs to land above it).
#[inline(always)]
fn izhikevich_rk4(k: &IzhikevichCoef, v0: f64, u0: f64, cur: f64) -> (f64, f64) {
    let fv = |v: f64, u: f64| 0.04 * v * v + 5.0 * v + 140.0 - u + cur;
    // Past v_peak the trajectory only decides that the neuron fires; u sees at most v_peak, so
    // the step that crosses the peak does not feed u with the blow-up of v.
    let fu = |v: f64, u: f64| k.a * (k.b * v.min(k.v_peak) - u);
    let cv = |x: f64| x.clamp(-IZH_V_BOUND, IZH_V_BOUND);
    let cu = |x: f64| x.clamp(-IZH_U_BOUND, IZH_U_BOUND);
    let hh = 0.5 * k.h;
    let (k1v, k1u) = (fv(v0, u0), fu(v0, u0));
    let (v2, u2) = (cv(v0 + hh * k1v), cu(u0 + hh * k1u));
    let (k2v, k2u) = (fv(v2, u2), fu(v2, u2));
    let (v3, u3) = (cv(v0 + hh * k2v), cu(u0 + hh * k2u));
    let (k3v, k3u) = (fv(v3, u3), fu(v3, u3));
    let (v4, u4) = (cv(v0 + k.h * k3v), cu(u0 + k.h * k3u));
    let (k4v, k4u) = (fv(v4, u4), fu(v4, u4));
    let h6 = k.h / 6.0;
    (
        cv(v0 + h6 * (k1v + 2.0 * k2v + 2.0 * k3v + k4v)),
        cu(u0 + h6 * (k1u + 2.0 * k2u + 2.0 * k3u + k4u)),
    )
}

/// One step of `izhikevich` over a range: RK4 over `dt` with `I = i_e + I_ext` (clamped to
/// `±IZH_U_BOUND`), then the arriving weights are added to `v` (delta synapses, mV), then
/// spike and reset (`v = c`, `u += d`) if `v >= v_peak`.
#[inline(always)]
fn update_izhikevich_body(
    k: &IzhikevichCoef,
    v: &mut [f64],
    u: &mut [f64],
    input: &mut [f32],
    i_ext: &[f32],
    flags: &mut [u8],
) {
    let n = v.len();
    let (u, input, i_ext, flags) = (&mut u[..n], &mut input[..n], &i_ext[..n], &mut flags[..n]);
    for i in 0..n {
        let cur = (k.i_e + i_ext[i] as f64).clamp(-IZH_U_BOUND, IZH_U_BOUND);
        let (v1, u1) = izhikevich_rk4(k, v[i], u[i], cur);
        let v1 = (v1 + input[i] as f64).clamp(-IZH_V_BOUND, IZH_V_BOUND);
        input[i] = 0.0;
        let spike = v1 >= k.v_peak;
        v[i] = if spike { k.c } else { v1 };
        u[i] = if spike {
            (u1 + k.d).clamp(-IZH_U_BOUND, IZH_U_BOUND)
        } else {
            u1
        };
        flags[i] = spike as u8;
    }
}

/// Longest RK4 substep (ms) of the `adex` kernel: each engine step is cut into
/// `ceil(dt / ADEX_H_MAX_MS)` equal substeps.
pub const ADEX_H_MAX_MS: f64 = 0.025;
/// Cap on the exponent `(V - V_th)/Delta_T` of the `adex` kernel (`e^60 ~ 1e26`); it binds only
/// far into the upswing, where the neuron fires within the substep either way. The kernel's
/// `exp` is the crate's `exp_f64` (within 1 ulp of libm's; exponents below -708, i.e. `V` far
/// below `V_th`, give exactly 0 where libm gives a subnormal or 0).
pub const ADEX_EXP_ARG_MAX: f64 = 60.0;
/// Bound on `|V|` (mV) of the `adex` kernel after every stage and substep.
pub const ADEX_V_BOUND: f64 = 1e4;
/// Bound on `|w|` and the total current (pA) and on the conductances (nS) of the `adex` kernel.
pub const ADEX_BOUND: f64 = 1e15;

/// Coefficients of the `adex` kernel (see [`AdexParams`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct AdexCoef {
    inv_c: f64,
    g_l: f64,
    pub(crate) e_l: f64,
    v_th: f64,
    delta_t: f64,
    inv_delta_t: f64,
    inv_tau_w: f64,
    a: f64,
    b: f64,
    v_reset: f64,
    v_peak: f64,
    e_ex: f64,
    e_in: f64,
    i_e: f64,
    /// Substep (ms) and substeps per step.
    h: f64,
    n_sub: u32,
    /// Conductance decay over half and a whole substep.
    ex_half: f64,
    ex_full: f64,
    in_half: f64,
    in_full: f64,
    /// Refractory steps as `f64`.
    ref_steps: f64,
}

impl AdexCoef {
    pub(crate) fn new(p: &AdexParams, dt_ms: f64) -> Self {
        let n_sub = (dt_ms / ADEX_H_MAX_MS - 1e-9).ceil().clamp(1.0, 1e6) as u32;
        let h = dt_ms / n_sub as f64;
        Self {
            inv_c: 1.0 / p.c_m_pf,
            g_l: p.g_l_ns,
            e_l: p.e_l_mv,
            v_th: p.v_th_mv,
            delta_t: p.delta_t_mv,
            inv_delta_t: 1.0 / p.delta_t_mv,
            inv_tau_w: 1.0 / p.tau_w_ms,
            a: p.a_ns,
            b: p.b_pa,
            v_reset: p.v_reset_mv,
            v_peak: p.v_peak_mv,
            e_ex: p.e_ex_mv,
            e_in: p.e_in_mv,
            i_e: p.i_e_pa,
            h,
            n_sub,
            ex_half: (-0.5 * h / p.tau_syn_ex_ms).exp(),
            ex_full: (-h / p.tau_syn_ex_ms).exp(),
            in_half: (-0.5 * h / p.tau_syn_in_ms).exp(),
            in_full: (-h / p.tau_syn_in_ms).exp(),
            ref_steps: refractory_steps(p.t_ref_ms, dt_ms) as f64,
        }
    }

    /// An initial membrane value clamped to `±ADEX_V_BOUND`.
    pub(crate) fn clamp_v(&self, v0: f64) -> f64 {
        v0.clamp(-ADEX_V_BOUND, ADEX_V_BOUND)
    }

    /// Right-hand side `(dV/dt, dw/dt)` as NEST's `aeif_cond_exp` writes it: `V` is taken as
    /// `min(V, V_peak)` (or `V_reset` while refractory, when `dV/dt = 0`).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn rhs(&self, v: f64, w: f64, gex: f64, gin: f64, cur: f64, refractory: bool) -> (f64, f64) {
        let vv = if refractory {
            self.v_reset
        } else {
            v.min(self.v_peak)
        };
        let arg = ((vv - self.v_th) * self.inv_delta_t).min(ADEX_EXP_ARG_MAX);
        let i_spike = self.g_l * self.delta_t * exp_f64(arg);
        let dv = (-self.g_l * (vv - self.e_l) + i_spike
            - gex * (vv - self.e_ex)
            - gin * (vv - self.e_in)
            - w
            + cur)
            * self.inv_c;
        let dw = (self.a * (vv - self.e_l) - w) * self.inv_tau_w;
        (if refractory { 0.0 } else { dv }, dw)
    }
}

/// `x` clamped to `±bound`, or `fallback` when it is NaN (only absurd parameters get there).
#[inline(always)]
fn bounded(x: f64, bound: f64, fallback: f64) -> f64 {
    if x.is_nan() {
        fallback
    } else {
        x.clamp(-bound, bound)
    }
}

/// One step of `adex` over a range: `n_sub` RK4 substeps of `(V, w)` with the conductances
/// decaying exactly (their values at the stage times are used); after each substep a neuron
/// that is not refractory and has `V >= V_peak` fires (`V = V_reset`, `w += b`, refractory for
/// the rest of the step and `t_ref` more), and a refractory one is held at `V_reset`. Then the
/// refractory count goes down (not in the step that fired) and the magnitudes of this step's
/// arrivals are added to `g_ex` and `g_in`. Neurons are processed in blocks of 64 with the
/// substep loop outside the neuron loop, so that the latter (four `exp_f64` per neuron and
/// substep) vectorises; every neuron sees the same operations in the same order either way.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn update_adex_body(
    k: &AdexCoef,
    v: &mut [f64],
    w: &mut [f64],
    g_ex: &mut [f64],
    g_in: &mut [f64],
    refr: &mut [f64],
    in_ex: &mut [f32],
    in_in: &mut [f32],
    i_ext: &[f32],
    flags: &mut [u8],
) {
    let n = v.len();
    let (w, g_ex, g_in, refr, in_ex, in_in, i_ext, flags) = (
        &mut w[..n],
        &mut g_ex[..n],
        &mut g_in[..n],
        &mut refr[..n],
        &mut in_ex[..n],
        &mut in_in[..n],
        &i_ext[..n],
        &mut flags[..n],
    );
    let hh = 0.5 * k.h;
    let h6 = k.h / 6.0;
    let cv = |x: f64, fb: f64| bounded(x, ADEX_V_BOUND, fb);
    let cw = |x: f64| bounded(x, ADEX_BOUND, 0.0);
    // Blocks of ADEX_BLOCK neurons, the substeps outside and the neurons inside (see above).
    const ADEX_BLOCK: usize = 64;
    let mut start = 0;
    while start < n {
        let m = (n - start).min(ADEX_BLOCK);
        let mut vb = [0.0f64; ADEX_BLOCK];
        let mut wb = [0.0f64; ADEX_BLOCK];
        let mut geb = [0.0f64; ADEX_BLOCK];
        let mut gib = [0.0f64; ADEX_BLOCK];
        let mut rb = [0.0f64; ADEX_BLOCK];
        let mut curb = [0.0f64; ADEX_BLOCK];
        let mut firedb = [false; ADEX_BLOCK];
        for j in 0..m {
            let i = start + j;
            curb[j] = bounded(k.i_e + i_ext[i] as f64, ADEX_BOUND, 0.0);
            (vb[j], wb[j], geb[j], gib[j], rb[j]) = (v[i], w[i], g_ex[i], g_in[i], refr[i]);
        }
        for _ in 0..k.n_sub {
            for j in 0..m {
                let (vi, wi, ge, gi, r, cur) = (vb[j], wb[j], geb[j], gib[j], rb[j], curb[j]);
                let refractory = r > 0.0;
                let (ge2, gi2) = (ge * k.ex_half, gi * k.in_half);
                let (ge4, gi4) = (ge * k.ex_full, gi * k.in_full);
                let (k1v, k1w) = k.rhs(vi, wi, ge, gi, cur, refractory);
                let (v2, w2) = (cv(vi + hh * k1v, k.v_reset), cw(wi + hh * k1w));
                let (k2v, k2w) = k.rhs(v2, w2, ge2, gi2, cur, refractory);
                let (v3, w3) = (cv(vi + hh * k2v, k.v_reset), cw(wi + hh * k2w));
                let (k3v, k3w) = k.rhs(v3, w3, ge2, gi2, cur, refractory);
                let (v4, w4) = (cv(vi + k.h * k3v, k.v_reset), cw(wi + k.h * k3w));
                let (k4v, k4w) = k.rhs(v4, w4, ge4, gi4, cur, refractory);
                let v1 = cv(vi + h6 * (k1v + 2.0 * k2v + 2.0 * k3v + k4v), k.v_reset);
                let w1 = cw(wi + h6 * (k1w + 2.0 * k2w + 2.0 * k3w + k4w));
                geb[j] = ge4;
                gib[j] = gi4;
                let fire = !refractory & (v1 >= k.v_peak);
                vb[j] = if refractory | fire { k.v_reset } else { v1 };
                wb[j] = if fire { cw(w1 + k.b) } else { w1 };
                rb[j] = if fire { k.ref_steps } else { r };
                firedb[j] |= fire;
            }
        }
        for j in 0..m {
            let i = start + j;
            let (fired, r) = (firedb[j], rb[j]);
            v[i] = vb[j];
            w[i] = wb[j];
            refr[i] = if fired { r } else { (r - 1.0).max(0.0) };
            g_ex[i] = (geb[j] + (in_ex[i] as f64).abs()).min(ADEX_BOUND);
            g_in[i] = (gib[j] + (in_in[i] as f64).abs()).min(ADEX_BOUND);
            in_ex[i] = 0.0;
            in_in[i] = 0.0;
            flags[i] = fired as u8;
        }
        start += m;
    }
}

/// Runs a kernel body compiled for AVX-512 (F, BW, VL, DQ) or AVX2 when the CPU has them (detected
/// once and cached by std), else the baseline build. The body is the same source in every case and
/// Rust never contracts a multiply and an add into a fused multiply-add (LLVM only fuses under
/// fast-math flags, which Rust does not emit; AVX-512 implies the FMA unit but not its use), so
/// every path gives bit-identical results; `kernels_agree_across_instruction_sets` checks it.
macro_rules! dispatch {
    ($name:ident, $body:ident, $avx:ident, $avx512:ident, ($($arg:ident : $ty:ty),*)) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2")]
        #[allow(clippy::too_many_arguments)]
        fn $avx($($arg: $ty),*) {
            $body($($arg),*)
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq")]
        #[allow(clippy::too_many_arguments)]
        fn $avx512($($arg: $ty),*) {
            $body($($arg),*)
        }

        #[allow(clippy::too_many_arguments)]
        pub(crate) fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                let isa = isa();
                if isa == Isa::Avx512 {
                    // SAFETY: `isa()` saw every feature the function enables (F, BW, VL, DQ).
                    unsafe { $avx512($($arg),*) };
                    return;
                }
                if isa == Isa::Avx2 {
                    // SAFETY: the CPU supports AVX2, the only feature the function enables.
                    unsafe { $avx($($arg),*) };
                    return;
                }
            }
            $body($($arg),*)
        }
    };
}

/// Instruction-set tiers of the kernels, ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Isa {
    /// The baseline build.
    Base,
    /// AVX2.
    Avx2,
    /// AVX-512 F, BW, VL and DQ.
    Avx512,
}

static ISA_OVERRIDE: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(u8::MAX);

/// The best tier this CPU supports, capped by [`force_isa`] (tests).
#[inline]
pub(crate) fn isa() -> Isa {
    let cap = match ISA_OVERRIDE.load(std::sync::atomic::Ordering::Relaxed) {
        0 => Isa::Base,
        1 => Isa::Avx2,
        _ => Isa::Avx512,
    };
    #[cfg(target_arch = "x86_64")]
    let have = if std::is_x86_feature_detected!("avx512f")
        && std::is_x86_feature_detected!("avx512bw")
        && std::is_x86_feature_detected!("avx512vl")
        && std::is_x86_feature_detected!("avx512dq")
    {
        Isa::Avx512
    } else if std::is_x86_feature_detected!("avx2") {
        Isa::Avx2
    } else {
        Isa::Base
    };
    #[cfg(not(target_arch = "x86_64"))]
    let have = Isa::Base;
    have.min(cap)
}

/// Caps the kernels' instruction set (process-wide) so tests can compare the tiers.
#[cfg(test)]
pub(crate) fn force_isa(cap: Option<Isa>) {
    let v = match cap {
        Some(Isa::Base) => 0,
        Some(Isa::Avx2) => 1,
        Some(Isa::Avx512) | None => u8::MAX,
    };
    ISA_OVERRIDE.store(v, std::sync::atomic::Ordering::Relaxed);
}

dispatch!(update_lif_exp, update_lif_exp_body, update_lif_exp_avx2, update_lif_exp_avx512, (
    k: &LifExpCoef, v: &mut [f64], i_ex: &mut [f64], i_in: &mut [f64], refr: &mut [f64],
    in_ex: &mut [f32], in_in: &mut [f32], i_ext: &[f32], flags: &mut [u8]
));
dispatch!(update_lif_exp_pair, update_lif_exp_pair_body, update_lif_exp_pair_avx2,
    update_lif_exp_pair_avx512, (
    k: &LifExpCoef, lead: bool, v: &mut [f64], i_ex: &mut [f64], i_in: &mut [f64], x: f64,
    ref_until: &[f64], ra_ex: &mut [f32], ra_in: &mut [f32], rb_ex: &mut [f32], rb_in: &mut [f32],
    i_ext: &[f32], flags: &mut [u8]
));
dispatch!(update_lif_cond_exp, update_lif_cond_exp_body, update_lif_cond_exp_avx2,
    update_lif_cond_exp_avx512, (
    k: &LifCondExpCoef, v: &mut [f64], g_ex: &mut [f64], g_in: &mut [f64], refr: &mut [f64],
    in_ex: &mut [f32], in_in: &mut [f32], i_ext: &[f32], flags: &mut [u8]
));
dispatch!(update_lif_exp_theta, update_lif_exp_theta_body, update_lif_exp_theta_avx2, update_lif_exp_theta_avx512, (
    k: &LifExpCoef, kt: &ThetaCoef, v: &mut [f64], i_ex: &mut [f64], i_in: &mut [f64],
    refr: &mut [f64], theta: &mut [f64], in_ex: &mut [f32], in_in: &mut [f32], i_ext: &[f32],
    flags: &mut [u8]
));
dispatch!(update_lif_cond_exp_theta, update_lif_cond_exp_theta_body,
    update_lif_cond_exp_theta_avx2, update_lif_cond_exp_theta_avx512, (
    k: &LifCondExpCoef, kt: &ThetaCoef, v: &mut [f64], g_ex: &mut [f64], g_in: &mut [f64],
    refr: &mut [f64], theta: &mut [f64], in_ex: &mut [f32], in_in: &mut [f32], i_ext: &[f32],
    flags: &mut [u8]
));
dispatch!(update_lif_cond_exp_quiet, update_lif_cond_exp_quiet_body,
    update_lif_cond_exp_quiet_avx2, update_lif_cond_exp_quiet_avx512, (
    k: &LifCondExpCoef, v: &mut [f64], refr: &mut [f64], flags: &mut [u8]
));
dispatch!(update_lif_cond_exp_quiet_theta, update_lif_cond_exp_quiet_theta_body,
    update_lif_cond_exp_quiet_theta_avx2, update_lif_cond_exp_quiet_theta_avx512, (
    k: &LifCondExpCoef, kt: &ThetaCoef, v: &mut [f64], refr: &mut [f64], theta: &mut [f64],
    flags: &mut [u8]
));
dispatch!(flush_conductances, flush_conductances_body, flush_conductances_avx2,
    flush_conductances_avx512, (k: &LifCondExpCoef, g_ex: &mut [f64], g_in: &mut [f64]));
dispatch!(cond_input_mask, cond_input_mask_body, cond_input_mask_avx2, cond_input_mask_avx512, (
    in_ex: &[f32], in_in: &[f32], i_ext: &[f32], busy: &mut [u8], mask: &mut [bool],
    count: &mut usize
));
dispatch!(cond_quiet_mask, cond_quiet_mask_body, cond_quiet_mask_avx2, cond_quiet_mask_avx512, (
    g_ex: &[f64], g_in: &[f64], in_ex: &[f32], in_in: &[f32], i_ext: &[f32], busy: &mut [u8],
    mask: &mut [bool], count: &mut usize
));
dispatch!(update_lif_delta, update_lif_delta_body, update_lif_delta_avx2, update_lif_delta_avx512, (
    k: &LifDeltaCoef, v: &mut [f64], refr: &mut [f64], input: &mut [f32], i_ext: &[f32],
    flags: &mut [u8]
));
dispatch!(update_lif_beta, update_lif_beta_body, update_lif_beta_avx2, update_lif_beta_avx512, (
    k: &LifBetaCoef, v: &mut [f32], input: &mut [f32], i_ext: &[f32], flags: &mut [u8]
));
dispatch!(update_izhikevich, update_izhikevich_body, update_izhikevich_avx2, update_izhikevich_avx512, (
    k: &IzhikevichCoef, v: &mut [f64], u: &mut [f64], input: &mut [f32], i_ext: &[f32],
    flags: &mut [u8]
));
dispatch!(update_adex, update_adex_body, update_adex_avx2, update_adex_avx512, (
    k: &AdexCoef, v: &mut [f64], w: &mut [f64], g_ex: &mut [f64], g_in: &mut [f64],
    refr: &mut [f64], in_ex: &mut [f32], in_in: &mut [f32], i_ext: &[f32], flags: &mut [u8]
));

/// Loihi's signed 24-bit range limit for `v`.
pub const LOIHI_V_MAX: i32 = (1 << 23) - 1;

/// Division by `2^12` rounding toward zero.
#[inline(always)]
pub fn rtz12(x: i64) -> i64 {
    if x >= 0 { x >> 12 } else { -((-x) >> 12) }
}

/// Wraps to a signed 24-bit integer (two's complement).
#[inline(always)]
pub fn wrap24(x: i64) -> i32 {
    ((x as i32) << 8) >> 8
}

/// Loihi's integer CUBA LIF with its per-population constants precomputed: the fixed-point
/// arithmetic that is the contract between the engine and the chip model (both call
/// [`step`](Self::step); see [`LoihiLifParams`] for the equations):
///
/// ```text
/// u[t] = wrap24( rtz(u[t-1] * (4096 - du - 1), 12) + (a_in << 6) )
/// v[t] = clip( rtz(v[t-1] * (4096 - dv), 12) + u[t] + (bias_mant << bias_exp), -(2^23-1), 2^23-1 )
/// spike when v[t] > vth_mant << 6; then v[t] = 0 (u is not reset)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoihiCoef {
    /// `4096 - du - 1`.
    pub u_keep: i64,
    /// `4096 - dv`.
    pub v_keep: i64,
    /// `bias_mant << bias_exp`.
    pub bias: i64,
    /// `vth_mant << 6`.
    pub vth: i64,
}

impl LoihiCoef {
    /// The constants of `p`.
    pub fn new(p: &LoihiLifParams) -> Self {
        Self {
            u_keep: 4096 - p.du as i64 - 1,
            v_keep: 4096 - p.dv as i64,
            bias: (p.bias_mant as i64) << p.bias_exp,
            vth: (p.vth_mant as i64) << 6,
        }
    }

    /// Constants of a compartment that never fires and keeps zero state (a placeholder for
    /// neurons without dynamics, such as inputs).
    pub fn silent() -> Self {
        Self {
            u_keep: 0,
            v_keep: 0,
            bias: 0,
            vth: i64::MAX,
        }
    }

    /// One step of one compartment: the new `(u, v, spiked)`.
    #[inline(always)]
    pub fn step(&self, u: i32, v: i32, a_in: i32) -> (i32, i32, bool) {
        self.step_biased(u, v, a_in, 0)
    }

    /// One step of one compartment whose own bias `extra` (integer `v` units per step, the
    /// compartment's share of Loihi's per-compartment bias, e.g. from a current stimulus) adds
    /// to the population's: `v[t] = clip(rtz(v[t-1] (4096 - dv), 12) + u[t] + (bias + extra))`.
    /// Integer sums, so the order of the terms does not matter.
    #[inline(always)]
    pub fn step_biased(&self, u: i32, v: i32, a_in: i32, extra: i64) -> (i32, i32, bool) {
        let u1 = wrap24(rtz12(u as i64 * self.u_keep) + ((a_in as i64) << 6));
        let v1 = (rtz12(v as i64 * self.v_keep) + u1 as i64 + self.bias.saturating_add(extra))
            .clamp(-(LOIHI_V_MAX as i64), LOIHI_V_MAX as i64);
        if v1 > self.vth {
            (u1, 0, true)
        } else {
            (u1, v1 as i32, false)
        }
    }
}

/// One step of Loihi's integer LIF for a single neuron: returns the new `(u, v, spike)`
/// (`LoihiCoef::new(p).step(u, v, a_in)`).
pub fn loihi_step(p: &LoihiLifParams, u: i32, v: i32, a_in: i32) -> (i32, i32, bool) {
    LoihiCoef::new(p).step(u, v, a_in)
}

/// One step of `loihi_lif` over a range. Arrivals are summed as `f32` (exact for integer
/// weights while `|a_in| < 2^24`, which validation guarantees per synapse) and converted. The
/// external current `i_ext` (current stimuli, run-time currents) is each compartment's own bias:
/// truncated toward zero to an integer and added to `v` with the population's bias
/// ([`LoihiCoef::step_biased`]), as Loihi's per-compartment `bias_mant << bias_exp`.
pub(crate) fn update_loihi(
    k: &LoihiCoef,
    u: &mut [i32],
    v: &mut [i32],
    input: &mut [f32],
    i_ext: &[f32],
    flags: &mut [u8],
) {
    let n = v.len();
    let (u, input, i_ext, flags) = (&mut u[..n], &mut input[..n], &i_ext[..n], &mut flags[..n]);
    for i in 0..n {
        let a_in = input[i] as i32;
        input[i] = 0.0;
        let (u1, v1, s) = k.step_biased(u[i], v[i], a_in, i_ext[i] as i64);
        u[i] = u1;
        v[i] = v1;
        flags[i] = s as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The AVX-512, AVX2 and baseline builds of the `lif_exp` and `lif_cond_exp` kernels give
    /// bit-identical state and spikes (lengths not a multiple of the vector width, refractory and
    /// spiking neurons included).
    #[test]
    fn lif_exp_pairs_equal_single_steps_on_every_instruction_set() {
        let n = 203;
        let x = |i: usize, k: u64| {
            (crate::rng::mix64(i as u64 * 7 + k) >> 11) as f64 / (1u64 << 53) as f64
        };
        let ke = LifExpCoef::new(
            &LifExpParams {
                i_e_pa: 400.0,
                t_ref_ms: 0.3,
                ..Default::default()
            },
            0.1,
        );
        let arrivals = |step: usize| -> (Vec<f32>, Vec<f32>) {
            let s = step as u64;
            (
                (0..n).map(|i| (60.0 * x(i, 10 + s)) as f32).collect(),
                (0..n).map(|i| (-30.0 * x(i, 900 + s)) as f32).collect(),
            )
        };
        type State = (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>);
        let init = || -> State {
            (
                (0..n).map(|i| -5.0 + 25.0 * x(i, 1)).collect(),
                (0..n).map(|i| 300.0 * x(i, 2)).collect(),
                (0..n).map(|i| 300.0 * x(i, 3)).collect(),
                (0..n)
                    .map(|i| if x(i, 4) < 0.2 { 3.0 } else { 0.0 })
                    .collect(),
            )
        };
        let steps = 51;
        for ext in [false, true] {
            let i_ext: Vec<f32> = if ext {
                (0..n).map(|i| (200.0 * x(i, 5)) as f32).collect()
            } else {
                Vec::new()
            };
            // Step by step on the baseline build.
            force_isa(Some(Isa::Base));
            let (mut v, mut a, mut b, mut refr) = init();
            let mut flags = vec![0u8; n];
            let mut want = Vec::new();
            for step in 0..steps {
                let (mut e, mut i) = arrivals(step);
                update_lif_exp(
                    &ke, &mut v, &mut a, &mut b, &mut refr, &mut e, &mut i, &i_ext, &mut flags,
                );
                want.push(flags.clone());
            }
            let want_state = (v, a, b, refr);
            assert!(want.iter().flatten().filter(|&&f| f != 0).count() > 100);
            for isa in [Isa::Base, Isa::Avx2, Isa::Avx512] {
                force_isa(Some(isa));
                let (mut v, mut a, mut b, mut refr) = init();
                // Last refractory steps from the counters at step 0 (as the engine does).
                let mut until: Vec<f64> = refr.iter().map(|&r| -1.0 + r).collect();
                // Two ring slots per receptor; step s's arrivals go into slot s % 2.
                let mut ring: [(Vec<f32>, Vec<f32>); 2] =
                    [(vec![0.0; n], vec![0.0; n]), (vec![0.0; n], vec![0.0; n])];
                let mut got: Vec<Vec<u8>> = Vec::new();
                let mut lag: Option<usize> = None;
                let mut t = 0;
                while t + 1 < steps {
                    ring[t % 2] = arrivals(t);
                    let [s0, s1] = &mut ring;
                    let (ra, rb) = if t % 2 == 0 { (s1, s0) } else { (s0, s1) };
                    let mut pair_flags = vec![0u8; n];
                    update_lif_exp_pair(
                        &ke,
                        lag.is_none(),
                        &mut v,
                        &mut a,
                        &mut b,
                        t as f64,
                        &until,
                        &mut ra.0,
                        &mut ra.1,
                        &mut rb.0,
                        &mut rb.1,
                        &i_ext,
                        &mut pair_flags,
                    );
                    got.push(pair_flags.iter().map(|f| f & 1).collect());
                    got.push(pair_flags.iter().map(|f| f >> 1).collect());
                    for bit in [1u8, 2] {
                        let x = t as f64 + (bit - 1) as f64;
                        for (u, &f) in until.iter_mut().zip(&pair_flags) {
                            if f & bit != 0 {
                                *u = x + ke.ref_steps();
                            }
                        }
                    }
                    // Step t + 1's arrivals (the spikes of step t) come after the pass.
                    ring[(t + 1) % 2] = arrivals(t + 1);
                    lag = Some(t + 1);
                    t += 2;
                }
                let l = lag.expect("paired");
                let (e, i) = &mut ring[l % 2];
                lif_exp_take_arrivals(&ke, &mut a, &mut b, e, i);
                for (c, &u) in refr.iter_mut().zip(&until) {
                    *c = (u - l as f64).max(0.0);
                }
                // The odd last step, step by step.
                let (mut e, mut i) = arrivals(t);
                update_lif_exp(
                    &ke, &mut v, &mut a, &mut b, &mut refr, &mut e, &mut i, &i_ext, &mut flags,
                );
                got.push(flags.clone());
                force_isa(None);
                assert!(
                    ring.iter()
                        .all(|(e, i)| e.iter().chain(i).all(|&c| c == 0.0)),
                    "{isa:?}: every arrival taken"
                );
                assert_eq!(got, want, "{isa:?}, external current {ext}: spikes");
                let same =
                    |p: &[f64], q: &[f64]| p.iter().zip(q).all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(
                    same(&v, &want_state.0)
                        && same(&a, &want_state.1)
                        && same(&b, &want_state.2)
                        && same(&refr, &want_state.3),
                    "{isa:?}, external current {ext}: state"
                );
            }
        }
    }

    #[test]
    fn kernels_agree_across_instruction_sets() {
        let n = 203;
        let x = |i: usize, k: u64| {
            (crate::rng::mix64(i as u64 * 7 + k) >> 11) as f64 / (1u64 << 53) as f64
        };
        let pe = LifExpParams {
            i_e_pa: 120.0,
            ..Default::default()
        };
        let ke = LifExpCoef::new(&pe, 0.1);
        let kcs = [
            CondIntegration::ExponentialEuler,
            CondIntegration::Euler,
            CondIntegration::Pade,
        ]
        .map(|integration| {
            LifCondExpCoef::new(
                &LifCondExpParams {
                    integration,
                    ..Default::default()
                },
                0.1,
            )
        });
        type State = (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>, Vec<u8>);
        // `scheme` only with `cond`: the index of the integration in `kcs`.
        let run = |isa: Isa, cond: bool, scheme: usize| -> State {
            force_isa(Some(isa));
            let mut v: Vec<f64> = (0..n).map(|i| -20.0 + 25.0 * x(i, 1)).collect();
            if cond {
                v.iter_mut().for_each(|v| *v -= 50.0);
            }
            let mut a: Vec<f64> = (0..n).map(|i| 300.0 * x(i, 2)).collect();
            let mut b: Vec<f64> = (0..n).map(|i| 300.0 * x(i, 3)).collect();
            let mut refr: Vec<f64> = (0..n)
                .map(|i| if x(i, 4) < 0.2 { 3.0 } else { 0.0 })
                .collect();
            let mut flags = vec![0u8; n];
            let mut spikes = Vec::new();
            for step in 0..50u64 {
                let mut in_ex: Vec<f32> = (0..n).map(|i| (40.0 * x(i, 10 + step)) as f32).collect();
                let mut in_in: Vec<f32> = (0..n).map(|i| (30.0 * x(i, 90 + step)) as f32).collect();
                let i_ext: Vec<f32> = (0..n).map(|i| (200.0 * x(i, 5)) as f32).collect();
                if cond {
                    update_lif_cond_exp(
                        &kcs[scheme],
                        &mut v,
                        &mut a,
                        &mut b,
                        &mut refr,
                        &mut in_ex,
                        &mut in_in,
                        &i_ext,
                        &mut flags,
                    );
                } else {
                    update_lif_exp(
                        &ke, &mut v, &mut a, &mut b, &mut refr, &mut in_ex, &mut in_in, &i_ext,
                        &mut flags,
                    );
                }
                assert!(in_ex.iter().chain(&in_in).all(|&c| c == 0.0));
                spikes.extend_from_slice(&flags);
            }
            force_isa(None);
            (v, a, b, refr, spikes)
        };
        let bits = |s: &State| {
            let f = |v: &Vec<f64>| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            (f(&s.0), f(&s.1), f(&s.2), f(&s.3), s.4.clone())
        };
        for (cond, scheme) in [(false, 0), (true, 0), (true, 1), (true, 2)] {
            let base = run(Isa::Base, cond, scheme);
            assert!(
                base.4.iter().any(|&f| f != 0),
                "some neurons spike (cond {cond}, scheme {scheme})"
            );
            assert_eq!(
                bits(&base),
                bits(&run(Isa::Avx2, cond, scheme)),
                "AVX2 (cond {cond}, scheme {scheme})"
            );
            assert_eq!(
                bits(&base),
                bits(&run(Isa::Avx512, cond, scheme)),
                "AVX-512 (cond {cond}, scheme {scheme})"
            );
        }
    }

    /// The `lif_exp` kernels without an external current (an empty `i_ext`, as the engine passes
    /// when every current is 0) give the bits of the generic loop with zero currents, on every
    /// instruction set, with and without an adaptive threshold, with `I_e` of either sign and
    /// zero; a non-zero current changes the result (the test sees the current).
    #[test]
    fn lif_exp_without_current_equals_zero_current() {
        let n = 77;
        let x = |i: usize, k: u64| {
            (crate::rng::mix64(i as u64 * 13 + k) >> 11) as f64 / (1u64 << 53) as f64
        };
        let theta_k = ThetaCoef::new(
            &snn_types::AdaptiveThreshold {
                theta_plus_mv: 0.5,
                tau_theta_ms: 50.0,
                ..Default::default()
            },
            0.1,
        );
        type Out = (Vec<u64>, Vec<u64>, Vec<u64>, Vec<u64>, Vec<u64>, Vec<u8>);
        let run = |isa: Isa, i_e: f64, adapt: bool, i_ext: &[f32]| -> Out {
            force_isa(Some(isa));
            let k = LifExpCoef::new(
                &LifExpParams {
                    i_e_pa: i_e,
                    ..Default::default()
                },
                0.1,
            );
            let mut v: Vec<f64> = (0..n).map(|i| -5.0 + 20.0 * x(i, 1)).collect();
            let mut a: Vec<f64> = (0..n).map(|i| 300.0 * x(i, 2)).collect();
            let mut b: Vec<f64> = (0..n).map(|i| -300.0 * x(i, 3)).collect();
            let mut refr: Vec<f64> = (0..n)
                .map(|i| if x(i, 4) < 0.2 { 3.0 } else { 0.0 })
                .collect();
            let mut theta: Vec<f64> = (0..n).map(|i| x(i, 6)).collect();
            let mut flags = vec![0u8; n];
            let mut spikes = Vec::new();
            for step in 0..60u64 {
                let mut in_ex: Vec<f32> =
                    (0..n).map(|i| (900.0 * x(i, 10 + step)) as f32).collect();
                let mut in_in: Vec<f32> =
                    (0..n).map(|i| (300.0 * x(i, 90 + step)) as f32).collect();
                if adapt {
                    update_lif_exp_theta(
                        &k, &theta_k, &mut v, &mut a, &mut b, &mut refr, &mut theta, &mut in_ex,
                        &mut in_in, i_ext, &mut flags,
                    );
                } else {
                    update_lif_exp(
                        &k, &mut v, &mut a, &mut b, &mut refr, &mut in_ex, &mut in_in, i_ext,
                        &mut flags,
                    );
                }
                spikes.extend_from_slice(&flags);
            }
            force_isa(None);
            let f = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            (f(&v), f(&a), f(&b), f(&refr), f(&theta), spikes)
        };
        let zeros = vec![0.0f32; n];
        let neg_zeros = vec![-0.0f32; n];
        let some = vec![1.0f32; n];
        for isa in [Isa::Base, Isa::Avx2, Isa::Avx512] {
            for i_e in [0.0, -0.0, 150.0, -40.0] {
                for adapt in [false, true] {
                    let generic = run(isa, i_e, adapt, &zeros);
                    assert!(generic.5.iter().any(|&f| f != 0), "some neurons spike");
                    assert_eq!(
                        run(isa, i_e, adapt, &[]),
                        generic,
                        "{isa:?} I_e {i_e} {adapt}"
                    );
                    assert_eq!(run(isa, i_e, adapt, &neg_zeros), generic);
                    assert_ne!(run(isa, i_e, adapt, &some), generic);
                }
            }
        }
    }

    /// [`step_lif_cond_exp`] (quiet blocks on the cheap path, the rest on the generic kernel)
    /// gives the values and spikes of the generic kernel over the whole range, for both input
    /// orders and integration schemes, with and without an adaptive threshold, including quiet
    /// neurons that are refractory or that spike (a bias current in `E_L` above threshold makes
    /// a quiet neuron fire), and a population length that is not a multiple of the block.
    /// The `lif_cond_exp` update (exponential Euler) checks each block of [`NEAR0_BLOCK`]
    /// neurons and takes the `exp` without range reduction where every argument is near 0: the
    /// same bits as the kernel with the full `exp` over the whole range, on every instruction
    /// set, both input orders, with and without an adaptive threshold, population sizes around
    /// the block size (the last block takes a short remainder), and with blocks whose large
    /// inhibitory conductances (`h G / C_m` up to about 2; inhibitory, so that those neurons do
    /// not fire and reset, which would hide a wrong `V`) need the full `exp`. The test sees both
    /// paths (it counts them), and the reduced `exp` would be wrong in the far blocks.
    /// A fast adaptive threshold at 0.1 ms for the `lif_cond_exp` tests.
    fn test_theta() -> ThetaCoef {
        let at = AdaptiveThreshold {
            theta_plus_mv: 0.5,
            tau_theta_ms: 50.0,
            theta_init_mv: 0.0,
            theta_rest_mv: -1.0,
        };
        ThetaCoef::new(&at, 0.1)
    }

    #[test]
    fn near0_blocks_give_the_full_exp_result() {
        let x = |i: usize, k: u64| {
            (crate::rng::mix64(i as u64 * 31 + k) >> 11) as f64 / (1u64 << 53) as f64
        };
        let kt = test_theta();
        let (mut near, mut far, mut spiked) = (0, 0, false);
        for n in [0usize, 1, 63, 64, 65, 95, 96, 97, 200, 276] {
            // Neurons in blocks 1 and 3 (of 64) get large conductances (a far block), the others
            // ordinary ones.
            let big = |i: usize| matches!(i / 64, 1 | 3) && i.is_multiple_of(7);
            for order in [InputOrder::Nest, InputOrder::Brian] {
                let p = LifCondExpParams {
                    input_order: order,
                    ..Default::default()
                };
                let k = LifCondExpCoef::new(&p, 0.1);
                for adapt in [false, true] {
                    type St = (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>, Vec<u8>);
                    let init: St = (
                        (0..n).map(|i| -75.0 + 25.0 * x(i, 1)).collect(),
                        (0..n).map(|i| 40.0 * x(i, 2)).collect(),
                        (0..n)
                            .map(|i| if big(i) { 5000.0 } else { 40.0 } * x(i, 3))
                            .collect(),
                        (0..n)
                            .map(|i| if x(i, 4) < 0.2 { 3.0 } else { 0.0 })
                            .collect(),
                        (0..n).map(|i| 2.0 * x(i, 5)).collect(),
                        vec![0; n],
                    );
                    let inputs = |step: u64| -> (Vec<f32>, Vec<f32>, Vec<f32>) {
                        (
                            (0..n).map(|i| (30.0 * x(i, 10 + step)) as f32).collect(),
                            (0..n)
                                .map(|i| {
                                    (if big(i) { 900.0 } else { 6.0 } * x(i, 90 + step)) as f32
                                })
                                .collect(),
                            (0..n).map(|i| (150.0 * x(i, 7)) as f32).collect(),
                        )
                    };
                    // The reference: the full `exp` over the whole range.
                    let mut want = init.clone();
                    for step in 0..30u64 {
                        let (mut ie, mut ii, ext) = inputs(step);
                        let w = &mut want;
                        let th: &mut [f64] = if adapt { &mut w.4 } else { &mut [] };
                        let kt = if adapt { &kt } else { &ThetaCoef::FIXED };
                        macro_rules! full {
                            ($a:literal, $f:literal) => {
                                lif_cond_exp_kernel::<$a, $f, S_EXP, false>(
                                    &k, kt, &mut w.0, &mut w.1, &mut w.2, &mut w.3, th, &mut ie,
                                    &mut ii, &ext, &mut w.5,
                                )
                            };
                        }
                        match (adapt, order == InputOrder::Brian) {
                            (false, false) => full!(false, false),
                            (false, true) => full!(false, true),
                            (true, false) => full!(true, false),
                            (true, true) => full!(true, true),
                        }
                    }
                    for isa in [Isa::Base, Isa::Avx2, Isa::Avx512] {
                        force_isa(Some(isa));
                        let mut got = init.clone();
                        for step in 0..30u64 {
                            let (mut ie, mut ii, ext) = inputs(step);
                            let g = &mut got;
                            if step == 0 {
                                let mut a = 0;
                                while a < n {
                                    let e = near0_block_end(a, n);
                                    let ok = if order == InputOrder::Brian {
                                        cond_exp_near0::<true>(
                                            &k,
                                            &g.1[a..e],
                                            &g.2[a..e],
                                            &ie[a..e],
                                            &ii[a..e],
                                        )
                                    } else {
                                        cond_exp_near0::<false>(
                                            &k,
                                            &g.1[a..e],
                                            &g.2[a..e],
                                            &ie[a..e],
                                            &ii[a..e],
                                        )
                                    };
                                    if ok {
                                        near += 1;
                                    } else {
                                        far += 1;
                                    }
                                    a = e;
                                }
                            }
                            if adapt {
                                update_lif_cond_exp_theta(
                                    &k, &kt, &mut g.0, &mut g.1, &mut g.2, &mut g.3, &mut g.4,
                                    &mut ie, &mut ii, &ext, &mut g.5,
                                );
                            } else {
                                update_lif_cond_exp(
                                    &k, &mut g.0, &mut g.1, &mut g.2, &mut g.3, &mut ie, &mut ii,
                                    &ext, &mut g.5,
                                );
                            }
                        }
                        force_isa(None);
                        let bits = |s: &St| {
                            let f =
                                |v: &Vec<f64>| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                            (f(&s.0), f(&s.1), f(&s.2), f(&s.3), f(&s.4), s.5.clone())
                        };
                        assert!(
                            bits(&got) == bits(&want),
                            "n {n}, {order:?}, adaptive {adapt}, {isa:?}: V differs first at {:?}",
                            (0..n).find(|&i| got.0[i].to_bits() != want.0[i].to_bits())
                        );
                        spiked |= got.5.iter().any(|&f| f != 0);
                    }
                }
            }
        }
        assert!(
            near > 20 && far > 20,
            "both paths taken: {near} near, {far} far"
        );
        assert!(spiked, "some neurons fire (and reset)");
    }

    #[test]
    fn quiet_blocks_give_the_generic_result() {
        let n = 16 * 12 + 5;
        let x = |i: usize, k: u64| {
            (crate::rng::mix64(i as u64 * 13 + k) >> 11) as f64 / (1u64 << 53) as f64
        };
        // Blocks 0, 3, 4, 5 and 9 start without conductance and input; block 3 gets input from
        // step 100 on (quiet, then busy). Block 1 gets input until step 40 only (busy, then quiet
        // once its conductances are flushed). Blocks 2 and 6 also get an external current.
        let quiet_block = |i: usize| matches!(i / QUIET_BLOCK, 0 | 3 | 4 | 5 | 9);
        let kt = test_theta();
        let mut quiet_seen = 0;
        let mut block1_quiet_later = false;
        let mut block3_wrong = None;
        for order in [InputOrder::Nest, InputOrder::Brian] {
            for integration in [
                CondIntegration::ExponentialEuler,
                CondIntegration::Euler,
                CondIntegration::Pade,
            ] {
                for adapt in [false, true] {
                    // `E_L` above threshold: quiet neurons relax towards it and fire.
                    let p = LifCondExpParams {
                        e_l_mv: -40.0,
                        v_th_mv: -52.0,
                        input_order: order,
                        integration,
                        ..Default::default()
                    };
                    let k = LifCondExpCoef::new(&p, 0.1);
                    let init = |i: usize| -> (f64, f64, f64, f64, f64) {
                        let q = quiet_block(i);
                        (
                            -75.0 + 20.0 * x(i, 1),
                            if q { 0.0 } else { 20.0 * x(i, 2) },
                            if q { 0.0 } else { 20.0 * x(i, 3) },
                            if x(i, 4) < 0.2 { 3.0 } else { 0.0 },
                            2.0 * x(i, 5),
                        )
                    };
                    type St = (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>, Vec<u8>);
                    let mut a: St = (vec![], vec![], vec![], vec![], vec![], vec![]);
                    for i in 0..n {
                        let (v, ge, gi, r, th) = init(i);
                        a.0.push(v);
                        a.1.push(ge);
                        a.2.push(gi);
                        a.3.push(r);
                        a.4.push(th);
                    }
                    let mut b = a.clone();
                    let mut q = CondQuiet::default();
                    for step in 0..800u64 {
                        let input = |i: usize, s: u64| -> f32 {
                            let b = i / QUIET_BLOCK;
                            let off = (quiet_block(i) && !(b == 3 && step >= 100))
                                || (b == 1 && step >= 40);
                            if off || step % 7 == 3 {
                                0.0
                            } else {
                                (5.0 * x(i, 100 + s)) as f32
                            }
                        };
                        let mk = || -> (Vec<f32>, Vec<f32>) {
                            (
                                (0..n).map(|i| input(i, 2 * step)).collect(),
                                (0..n).map(|i| input(i, 2 * step + 1)).collect(),
                            )
                        };
                        let i_ext: Vec<f32> = (0..n)
                            .map(|i| {
                                if matches!(i / QUIET_BLOCK, 2 | 6) {
                                    3.0
                                } else {
                                    0.0
                                }
                            })
                            .collect();
                        let (mut ie, mut ii) = mk();
                        let mut fa = vec![0u8; n];
                        if step.is_multiple_of(FLUSH_EVERY_STEPS) {
                            flush_conductances(&k, &mut a.1, &mut a.2);
                        }
                        if adapt {
                            update_lif_cond_exp_theta(
                                &k, &kt, &mut a.0, &mut a.1, &mut a.2, &mut a.3, &mut a.4, &mut ie,
                                &mut ii, &i_ext, &mut fa,
                            );
                        } else {
                            update_lif_cond_exp(
                                &k, &mut a.0, &mut a.1, &mut a.2, &mut a.3, &mut ie, &mut ii,
                                &i_ext, &mut fa,
                            );
                        }
                        let (mut ie, mut ii) = mk();
                        let mut fb = vec![0u8; n];
                        step_lif_cond_exp(
                            step,
                            &k,
                            adapt.then_some(&kt),
                            &mut b.0,
                            &mut b.1,
                            &mut b.2,
                            &mut b.3,
                            if adapt { &mut b.4 } else { &mut [] },
                            &mut ie,
                            &mut ii,
                            &i_ext,
                            &mut fb,
                            &mut q,
                        );
                        assert!(ie.iter().chain(&ii).all(|&c| c == 0.0), "arrivals consumed");
                        quiet_seen += q.mask.iter().filter(|&&m| m).count();
                        if step >= 40 && q.mask.get(1) == Some(&true) {
                            block1_quiet_later = true;
                        }
                        if (step < 100) != (q.mask.get(3) == Some(&true)) {
                            block3_wrong = Some(step);
                        }
                        a.5.extend_from_slice(&fa);
                        b.5.extend_from_slice(&fb);
                    }
                    let ctx = format!("{order:?} {integration:?} adapt {adapt}");
                    assert_eq!(a.0, b.0, "V, {ctx}");
                    assert_eq!(a.1, b.1, "g_ex, {ctx}");
                    assert_eq!(a.2, b.2, "g_in, {ctx}");
                    assert_eq!(a.3, b.3, "refractory counts, {ctx}");
                    assert_eq!(a.4, b.4, "theta, {ctx}");
                    assert_eq!(a.5, b.5, "spikes, {ctx}");
                    let quiet_spikes = (0..a.5.len())
                        .filter(|&j| a.5[j] != 0 && quiet_block(j % n))
                        .count();
                    assert!(quiet_spikes > 0, "quiet neurons fire, {ctx}");
                }
            }
        }
        assert!(quiet_seen > 0, "the quiet path was taken");
        assert!(block1_quiet_later, "a busy block turns quiet once flushed");
        assert_eq!(
            block3_wrong, None,
            "block 3 quiet before its input, busy after"
        );
    }

    /// Flushing spent conductances to 0 ([`FLUSH_MV`], every [`FLUSH_EVERY_STEPS`] steps)
    /// changes `V` by less than the bound: one neuron with a large excitatory and inhibitory
    /// kick, 3,000 steps with and without the flush; the conductances do reach exactly 0.
    #[test]
    fn flushed_conductances_change_v_by_less_than_the_bound() {
        for order in [InputOrder::Nest, InputOrder::Brian] {
            let p = LifCondExpParams {
                input_order: order,
                ..Default::default()
            };
            let k = LifCondExpCoef::new(&p, 0.1);
            let unflushed = LifCondExpCoef {
                flush_ex: 0.0,
                flush_in: 0.0,
                ..k
            };
            let run = |k: &LifCondExpCoef| {
                let (mut v, mut ge, mut gi, mut r) = ([p.e_l_mv], [0.0], [0.0], [0.0]);
                let mut trace = Vec::new();
                let mut q = CondQuiet::default();
                for t in 0..3000 {
                    let kick = if t == 0 { 60.0f32 } else { 0.0 };
                    let (mut ie, mut ii, mut flag) = ([kick], [kick], [0u8]);
                    step_lif_cond_exp(
                        t,
                        k,
                        None,
                        &mut v,
                        &mut ge,
                        &mut gi,
                        &mut r,
                        &mut [],
                        &mut ie,
                        &mut ii,
                        &[0.0],
                        &mut flag,
                        &mut q,
                    );
                    trace.push((v[0], ge[0], gi[0]));
                }
                trace
            };
            let (a, b) = (run(&k), run(&unflushed));
            let worst = a
                .iter()
                .zip(&b)
                .map(|(x, y)| (x.0 - y.0).abs())
                .fold(0.0, f64::max);
            assert!(
                worst <= 2.0 * FLUSH_MV,
                "{order:?}: V differs by {worst} mV"
            );
            let last = a.last().expect("steps");
            assert_eq!((last.1, last.2), (0.0, 0.0), "{order:?}: flushed to 0");
            let kept = b.last().expect("steps");
            assert!(
                kept.1 > 0.0 && kept.2 > 0.0,
                "{order:?}: unflushed still positive"
            );
        }
    }

    /// Tier identity of `exp_f64` itself and of the `adex` kernel, calling each build directly.
    #[cfg(target_arch = "x86_64")]
    mod tiers {
        use super::*;

        #[inline(always)]
        fn exp_slice_body(x: &[f64], y: &mut [f64]) {
            let y = &mut y[..x.len()];
            for i in 0..x.len() {
                y[i] = exp_f64(x[i]);
            }
        }
        dispatch!(exp_slice, exp_slice_body, exp_slice_avx2, exp_slice_avx512, (
            x: &[f64], y: &mut [f64]
        ));

        /// Runs `f` with the baseline, AVX2 and AVX-512 builds (those this CPU has), calling each
        /// build directly (not through the process-wide [`force_isa`]).
        fn each_tier<T>(
            base: impl Fn() -> T,
            avx2: impl Fn() -> T,
            avx512: impl Fn() -> T,
        ) -> Vec<T> {
            let mut out = vec![base()];
            if std::is_x86_feature_detected!("avx2") {
                out.push(avx2());
            }
            if std::is_x86_feature_detected!("avx512f")
                && std::is_x86_feature_detected!("avx512bw")
                && std::is_x86_feature_detected!("avx512vl")
                && std::is_x86_feature_detected!("avx512dq")
            {
                out.push(avx512());
            }
            out
        }

        /// `exp_f64` in a vectorised loop gives the same bits in every build, and the same as a
        /// scalar call, over the whole range, both ends and beyond, and NaN.
        #[test]
        fn exp_f64_agrees_across_instruction_sets() {
            let mut x: Vec<f64> = (0..20_011)
                .map(|i| {
                    let u = (crate::rng::mix64(i as u64) >> 11) as f64 / (1u64 << 53) as f64;
                    match i % 3 {
                        0 => -800.0 + 1600.0 * u,
                        1 => -5.0 * u,
                        _ => 1e-3 * (u - 0.5),
                    }
                })
                .collect();
            x.extend([
                0.0,
                -0.0,
                -708.0,
                709.0,
                -745.0,
                1e300,
                f64::INFINITY,
                f64::NEG_INFINITY,
            ]);
            let bits = |y: Vec<f64>| y.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            let run = |f: &dyn Fn(&[f64], &mut [f64])| {
                let mut y = vec![0.0; x.len()];
                f(&x, &mut y);
                bits(y)
            };
            let outs = each_tier(
                || run(&exp_slice_body),
                // SAFETY: called only when the CPU has the features.
                || run(&|a, b| unsafe { exp_slice_avx2(a, b) }),
                || run(&|a, b| unsafe { exp_slice_avx512(a, b) }),
            );
            let scalar = bits(x.iter().map(|&v| exp_f64(v)).collect());
            eprintln!("{} builds compared", outs.len());
            for o in &outs {
                assert_eq!(*o, scalar);
            }
            let mut y = vec![0.0; 1];
            exp_slice(&[f64::NAN], &mut y);
            assert!(y[0].is_nan());
        }

        /// The builds of the `adex` kernel (which calls `exp_f64` four times per substep) give
        /// bit-identical state and spikes.
        #[test]
        fn adex_agrees_across_instruction_sets() {
            let n = 67;
            let x = |i: usize, k: u64| {
                (crate::rng::mix64(i as u64 * 11 + k) >> 11) as f64 / (1u64 << 53) as f64
            };
            let k = AdexCoef::new(&AdexParams::default(), 0.1);
            type State = (Vec<u64>, Vec<u64>, Vec<u64>, Vec<u8>);
            // Tier 0: baseline, 1: AVX2, 2: AVX-512.
            let run = |tier: u8| -> State {
                let mut v: Vec<f64> = (0..n).map(|i| -75.0 + 30.0 * x(i, 1)).collect();
                let mut w: Vec<f64> = (0..n).map(|i| 50.0 * x(i, 2)).collect();
                let mut ge = vec![0.0; n];
                let mut gi = vec![0.0; n];
                let mut refr = vec![0.0; n];
                let mut flags = vec![0u8; n];
                let mut spikes = Vec::new();
                let i_ext: Vec<f32> = (0..n).map(|i| (1500.0 * x(i, 3)) as f32).collect();
                for step in 0..400u64 {
                    let mut in_ex: Vec<f32> =
                        (0..n).map(|i| (5.0 * x(i, 10 + step)) as f32).collect();
                    let mut in_in: Vec<f32> =
                        (0..n).map(|i| (5.0 * x(i, 900 + step)) as f32).collect();
                    let (v, w, g, r) = (&mut v, &mut w, (&mut ge, &mut gi), &mut refr);
                    let (ie, ii, e, fl) = (&mut in_ex, &mut in_in, &i_ext, &mut flags);
                    match tier {
                        0 => update_adex_body(&k, v, w, g.0, g.1, r, ie, ii, e, fl),
                        // SAFETY: `each_tier` runs tier 1 only with AVX2 present.
                        1 => unsafe { update_adex_avx2(&k, v, w, g.0, g.1, r, ie, ii, e, fl) },
                        // SAFETY: `each_tier` runs tier 2 only with AVX-512 F/BW/VL/DQ present.
                        _ => unsafe { update_adex_avx512(&k, v, w, g.0, g.1, r, ie, ii, e, fl) },
                    }
                    spikes.extend_from_slice(&flags);
                }
                let b = |v: &Vec<f64>| v.iter().map(|x| x.to_bits()).collect();
                (b(&v), b(&w), b(&ge), spikes)
            };
            let outs = each_tier(|| run(0), || run(1), || run(2));
            assert!(outs[0].3.iter().any(|&f| f != 0), "some neurons spike");
            for o in &outs[1..] {
                assert_eq!(*o, outs[0]);
            }
        }
    }

    #[test]
    fn rtz_rounds_toward_zero_and_wraps() {
        assert_eq!(rtz12(4095), 0);
        assert_eq!(rtz12(-4095), 0);
        assert_eq!(rtz12(-4097), -1);
        assert_eq!(wrap24(1 << 23), -(1 << 23));
        assert_eq!(wrap24(-(1 << 23) - 1), (1 << 23) - 1);
    }

    #[test]
    fn loihi_matches_hand_computation() {
        let p = LoihiLifParams {
            du: 410,
            dv: 205,
            vth_mant: 10,
            bias_mant: 0,
            bias_exp: 0,
        };
        // a_in = 3: u = 0*... + 3*64 = 192; v = 0 + 192 = 192 < 640
        let (u, v, s) = loihi_step(&p, 0, 0, 3);
        assert_eq!((u, v, s), (192, 192, false));
        // u = rtz(192*(4096-411), 12) = rtz(707520,12) = 172; v = rtz(192*3891,12)=182 + 172 = 354
        let (u, v, s) = loihi_step(&p, u, v, 0);
        assert_eq!((u, v, s), (172, 354, false));
        let (_, v, s) = loihi_step(&p, 172, 354, 10); // u = 154 + 640 = 794... spike
        assert!(s);
        assert_eq!(v, 0);
    }

    /// A refractory period too long to count in steps is the longest one, not none.
    #[test]
    fn huge_refractory_periods_saturate() {
        assert_eq!(refractory_steps(2.0, 0.1), 20);
        assert_eq!(refractory_steps(0.0, 0.1), 0);
        assert_eq!(refractory_steps(1e12, 0.1), u32::MAX);
        for t in [9.3e17, 1e18, 1e300, f64::MAX] {
            assert_eq!(refractory_steps(t, 0.1), u32::MAX, "{t} ms");
        }
        for t in [-1.0, f64::NAN, f64::INFINITY] {
            assert_eq!(refractory_steps(t, 0.1), 0, "{t} ms");
        }
    }

    #[test]
    fn p21_limit_is_continuous() {
        let mut p = LifExpParams {
            tau_syn_ex_ms: 10.0,
            tau_m_ms: 10.0,
            ..Default::default()
        };
        let a = LifExpPropagators::new(&p, 0.1).p21_ex;
        p.tau_syn_ex_ms = 10.0 + 1e-6;
        let b = LifExpPropagators::new(&p, 0.1).p21_ex;
        assert!(((a - b) / a).abs() < 1e-6, "{a} vs {b}");
    }

    /// One `lif_cond_exp` neuron driven by a constant current above rheobase plus regular
    /// excitatory and inhibitory conductance inputs, for 1 s at h = 0.1 ms: the kernel's spike
    /// steps against a reference that integrates (V, g_ex, g_in) with RK4 at h/100 and applies
    /// inputs, threshold, reset and refractoriness at the same step boundaries. Required: the same
    /// number of spikes, every spike within one step (0.1 ms). Measured: every spike at the same
    /// step, for both parameter sets.
    #[test]
    fn lif_cond_exp_matches_a_fine_rk4_reference() {
        // NEST's defaults (fast tau_syn_ex = 0.2 ms: two steps) and COBA's neuron.
        let nest = LifCondExpParams {
            i_e_pa: 300.0,
            ..Default::default()
        };
        let coba = coba_neuron(CondIntegration::ExponentialEuler);
        for p in [nest, coba] {
            check_against_rk4(&p, 1, 0, 0);
        }
    }

    /// COBA's neuron (Brette et al. 2007, benchmark 1, with a constant current above rheobase)
    /// in the given integration scheme.
    fn coba_neuron(integration: CondIntegration) -> LifCondExpParams {
        LifCondExpParams {
            c_m_pf: 200.0,
            g_l_ns: 10.0,
            e_l_mv: -60.0,
            v_th_mv: -50.0,
            v_reset_mv: -60.0,
            t_ref_ms: 5.0,
            e_in_mv: -80.0,
            tau_syn_ex_ms: 5.0,
            tau_syn_in_ms: 10.0,
            i_e_pa: 110.0,
            integration,
            ..Default::default()
        }
    }

    /// Runs the kernel for `p` (10,000 steps of 0.1 ms, regular excitatory and inhibitory
    /// inputs) in both input orders against a textbook scalar loop: conductances `g <- g p_x +
    /// arrivals` (before `V` with Brian's order, after with NEST's), `V <- v_step(V, g_ex, g_in)`
    /// unless refractory, then threshold and reset. Same spikes, `V` and conductances within
    /// 1e-9 at every step, more than 20 spikes.
    fn check_against_scalar(
        p: &LifCondExpParams,
        (p_ex, p_in): (f64, f64),
        v_step: impl Fn(f64, f64, f64) -> f64,
    ) {
        let h = 0.1;
        let input = |t: usize| -> (f64, f64) {
            (
                if t.is_multiple_of(50) { 20.0 } else { 0.0 },
                if t.is_multiple_of(130) { 30.0 } else { 0.0 },
            )
        };
        for order in [InputOrder::Nest, InputOrder::Brian] {
            let p = LifCondExpParams {
                input_order: order,
                ..*p
            };
            let brian = order == InputOrder::Brian;
            let k = LifCondExpCoef::new(&p, h);
            let (mut v, mut ge, mut gi, mut r) = (vec![p.e_l_mv], vec![0.0], vec![0.0], vec![0.0]);
            let (mut rv, mut rge, mut rgi, mut rr) = (p.e_l_mv, 0.0f64, 0.0f64, 0u32);
            let ref_steps = refractory_steps(p.t_ref_ms, h);
            let mut spikes = 0;
            for t in 0..10_000 {
                let (we, wi) = input(t);
                let (mut ie, mut ii, mut flag) = ([we as f32], [wi as f32], [0u8]);
                update_lif_cond_exp(
                    &k,
                    &mut v,
                    &mut ge,
                    &mut gi,
                    &mut r,
                    &mut ie,
                    &mut ii,
                    &[0.0],
                    &mut flag,
                );
                // The textbook update.
                if brian {
                    rge = rge * p_ex + we;
                    rgi = rgi * p_in + wi;
                }
                if rr > 0 {
                    rr -= 1;
                } else {
                    rv = v_step(rv, rge, rgi);
                }
                if !brian {
                    rge = rge * p_ex + we;
                    rgi = rgi * p_in + wi;
                }
                let spike = rv >= p.v_th_mv;
                if spike {
                    rv = p.v_reset_mv;
                    rr = ref_steps;
                    spikes += 1;
                }
                assert_eq!(flag[0] != 0, spike, "{order:?}: step {t}");
                assert!(
                    (v[0] - rv).abs() < 1e-9,
                    "{order:?}: step {t}: {} vs {rv}",
                    v[0]
                );
                assert!((ge[0] - rge).abs() < 1e-9 && (gi[0] - rgi).abs() < 1e-9);
            }
            assert!(spikes > 20, "{order:?}: {spikes} spikes");
        }
    }

    /// `integration = "euler"` is forward Euler on the three equations (Brian's
    /// `method = 'euler'`) in either input order: the kernel equals a textbook scalar
    /// implementation ([`check_against_scalar`]), and as a first-order scheme it stays within a
    /// few steps of the fine RK4 reference (exponential Euler: within one).
    #[test]
    fn lif_cond_exp_euler_is_forward_euler_and_first_order() {
        let p = coba_neuron(CondIntegration::Euler);
        let h = 0.1;
        let decay = |tau: f64| 1.0 - h / tau;
        check_against_scalar(
            &p,
            (decay(p.tau_syn_ex_ms), decay(p.tau_syn_in_ms)),
            |v, ge, gi| {
                let dv = (-p.g_l_ns * (v - p.e_l_mv) - ge * (v - p.e_ex_mv) - gi * (v - p.e_in_mv)
                    + p.i_e_pa)
                    / p.c_m_pf;
                v + h * dv
            },
        );
        // First order: the spike trains drift apart over seconds (a near-threshold neuron),
        // but the first 16 spikes (1.4 s) are within one step of the reference.
        check_against_rk4(&p, 1, usize::MAX, 16);
    }

    /// The Padé scheme's closed-form rest: its per-step factor is bit for bit the quiet step's
    /// `1 / den`, and [`LifCondExpCoef::relax`] over 5 steps equals 5 simulated steps (within
    /// 1e-12 mV) at a large `z = h g_L / C_m = 0.5`, where exponential Euler's factor differs by
    /// 1.7e-4 a step (its closed form lands 1e-4 mV away: the test can tell them apart).
    #[test]
    fn pade_relax_is_its_quiet_steps_in_closed_form() {
        let p = LifCondExpParams {
            c_m_pf: 20.0,
            g_l_ns: 10.0,
            e_l_mv: -70.0,
            v_th_mv: -50.0,
            v_reset_mv: -75.0,
            i_e_pa: 50.0, // V_inf = -65 mV
            integration: CondIntegration::Pade,
            ..Default::default()
        };
        let h = 1.0;
        let k = LifCondExpCoef::new(&p, h);
        let f = k.relax_factors(5);
        assert_eq!(f.f1.to_bits(), (1.0 / k.quiet_pade_den).to_bits());
        let (mut v, mut ge, mut gi, mut r) = (vec![-74.0], vec![0.0], vec![0.0], vec![0.0]);
        for _ in 0..5 {
            update_lif_cond_exp(
                &k,
                &mut v,
                &mut ge,
                &mut gi,
                &mut r,
                &mut [0.0],
                &mut [0.0],
                &[0.0],
                &mut [0],
            );
        }
        let closed = |k: &LifCondExpCoef| {
            let (mut v, mut ge, mut gi, mut r) = (-74.0, 0.0, 0.0, 0.0);
            k.relax(&k.relax_factors(5), &mut v, &mut ge, &mut gi, &mut r, 0.0);
            v
        };
        assert!(
            (closed(&k) - v[0]).abs() < 1e-12,
            "{} vs {}",
            closed(&k),
            v[0]
        );
        let ke = LifCondExpCoef::new(
            &LifCondExpParams {
                integration: CondIntegration::ExponentialEuler,
                ..p
            },
            h,
        );
        assert!((closed(&ke) - v[0]).abs() > 1e-5, "the schemes differ here");
    }

    /// `integration = "pade"` is exponential Euler with `exp(-z)` replaced by
    /// `1 / T(z)`, `T(z) = 1 + z + z^2/2 + z^3/6 + z^4/24`: in either input order the kernel
    /// equals a textbook scalar implementation of `V_inf + (V - V_inf) / T(z)` with the
    /// step-mean conductances ([`check_against_scalar`]); it fires at the same steps as the
    /// fine RK4 reference (as exponential Euler does) for NEST's and COBA's neurons; and a
    /// conductance far too large for forward Euler takes `V` to `E_in` without passing it.
    #[test]
    fn lif_cond_exp_pade_is_exponential_euler_with_a_rational_factor() {
        let coba = coba_neuron(CondIntegration::Pade);
        let p = coba;
        let h = 0.1;
        let mean = |tau: f64| tau / h * (1.0 - (-h / tau).exp());
        let decay = |tau: f64| (-h / tau).exp();
        check_against_scalar(
            &p,
            (decay(p.tau_syn_ex_ms), decay(p.tau_syn_in_ms)),
            |v, ge, gi| {
                let (me, mi) = (ge * mean(p.tau_syn_ex_ms), gi * mean(p.tau_syn_in_ms));
                let g = p.g_l_ns + me + mi;
                let v_inf = (p.g_l_ns * p.e_l_mv + me * p.e_ex_mv + mi * p.e_in_mv + p.i_e_pa) / g;
                let z = h * g / p.c_m_pf;
                let t = 1.0 + z + z * z / 2.0 + z * z * z / 6.0 + z * z * z * z / 24.0;
                v_inf + (v - v_inf) / t
            },
        );
        let nest = LifCondExpParams {
            i_e_pa: 300.0,
            integration: CondIntegration::Pade,
            ..Default::default()
        };
        // Every spike at the reference's step (`max_steps` 0), as exponential Euler measures.
        for p in [nest, coba] {
            check_against_rk4(&p, 0, 0, 0);
        }
        // A huge inhibitory conductance (h G / C_m about 500): V reaches E_in's neighbourhood in
        // one step and never goes below E_in; forward Euler would overshoot by hundreds of mV.
        let k = LifCondExpCoef::new(&coba, h);
        let (mut v, mut ge, mut gi, mut r) = (vec![-55.0], vec![0.0], vec![1e6], vec![0.0]);
        let last = v[0];
        for step in 0..50 {
            let (mut ie, mut ii, mut flag) = ([0.0f32], [0.0f32], [0u8]);
            update_lif_cond_exp(
                &k,
                &mut v,
                &mut ge,
                &mut gi,
                &mut r,
                &mut ie,
                &mut ii,
                &[0.0],
                &mut flag,
            );
            // Never below E_in; at E_in after one step (afterwards the leak and the current
            // pull V back up as g_in decays).
            assert!(v[0] >= coba.e_in_mv, "step {step}: below E_in: {}", v[0]);
            if step == 0 {
                assert!(v[0] < -79.99, "one step reaches E_in: {last} -> {}", v[0]);
            }
        }
    }

    /// Compares the kernel's spike steps with classic RK4 at `h/100`: counts within
    /// `max_count`, and the first `first` spikes (all when 0) within `max_steps` steps.
    fn check_against_rk4(p: &LifCondExpParams, max_steps: usize, max_count: usize, first: usize) {
        let p = *p;
        let h = 0.1;
        let steps = 10_000;
        let input = |t: usize| -> (f64, f64) {
            (
                if t.is_multiple_of(50) { 20.0 } else { 0.0 },
                if t.is_multiple_of(130) { 30.0 } else { 0.0 },
            )
        };
        // The kernel.
        let k = LifCondExpCoef::new(&p, h);
        let (mut v, mut ge, mut gi, mut r) = (vec![p.e_l_mv], vec![0.0], vec![0.0], vec![0.0]);
        let mut fast = Vec::new();
        for t in 0..steps {
            let (we, wi) = input(t);
            let (mut ie, mut ii, mut flag) = ([we as f32], [wi as f32], [0u8]);
            update_lif_cond_exp(
                &k,
                &mut v,
                &mut ge,
                &mut gi,
                &mut r,
                &mut ie,
                &mut ii,
                &[0.0],
                &mut flag,
            );
            if flag[0] != 0 {
                fast.push(t);
            }
        }
        // The reference.
        let f = |y: [f64; 3]| -> [f64; 3] {
            let [v, ge, gi] = y;
            [
                (-p.g_l_ns * (v - p.e_l_mv) - ge * (v - p.e_ex_mv) - gi * (v - p.e_in_mv)
                    + p.i_e_pa)
                    / p.c_m_pf,
                -ge / p.tau_syn_ex_ms,
                -gi / p.tau_syn_in_ms,
            ]
        };
        let ref_steps = refractory_steps(p.t_ref_ms, h);
        let (mut y, mut refr) = ([p.e_l_mv, 0.0, 0.0], 0u32);
        let mut slow = Vec::new();
        let hs = h / 100.0;
        for t in 0..steps {
            let v0 = y[0];
            for _ in 0..100 {
                let add = |a: [f64; 3], b: [f64; 3], c: f64| [0, 1, 2].map(|i| a[i] + c * b[i]);
                let k1 = f(y);
                let k2 = f(add(y, k1, hs / 2.0));
                let k3 = f(add(y, k2, hs / 2.0));
                let k4 = f(add(y, k3, hs));
                y = [0, 1, 2]
                    .map(|i| y[i] + hs / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]));
            }
            if refr > 0 {
                y[0] = v0;
                refr -= 1;
            }
            let (we, wi) = input(t);
            y[1] += we;
            y[2] += wi;
            if y[0] >= p.v_th_mv {
                slow.push(t);
                y[0] = p.v_reset_mv;
                refr = ref_steps;
            }
        }
        assert!(slow.len() > 20, "the reference must fire ({})", slow.len());
        assert!(
            fast.len().abs_diff(slow.len()) <= max_count,
            "{fast:?}\n{slow:?}"
        );
        let d: Vec<usize> = fast
            .iter()
            .zip(&slow)
            .map(|(a, b)| a.abs_diff(*b))
            .collect();
        eprintln!(
            "{} spikes; largest difference {:?} steps; {} differ",
            d.len(),
            d.iter().max(),
            d.iter().filter(|&&x| x > 0).count()
        );
        let first = if first == 0 { usize::MAX } else { first };
        for (a, b) in fast.iter().zip(&slow).take(first) {
            assert!(a.abs_diff(*b) <= max_steps, "spike at step {a} vs {b}");
        }
    }
}
