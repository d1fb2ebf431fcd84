//! Semantic checks of a [`NetworkSpec`]: everything a parser cannot see.

use std::collections::HashMap;

use crate::conv::{PoolMode, shape_len};
use crate::error::SpecIssue;
use crate::params::{CondIntegration, LifCondExpParams, NeuronModel};
use crate::plasticity::PlasticitySpec;
use crate::readout::{InputCoding, ReadoutRule, ReadoutSpec};
use crate::spec::{
    Connectivity, Distribution, NetworkSpec, ProjectionSpec, StateVar, StimulusSpec, ValueSpec,
};
use crate::time::{check_dt, check_duration, check_time, ms_to_steps, num};

/// How far (in standard deviations) a truncated normal's bounds may lie beyond its mean
/// before validation refuses it (the redraw loop would almost never accept).
pub const TRUNCATION_SIGMAS: f64 = 5.0;

/// Largest delay accepted, in steps (ring buffers hold `max_delay + 1` slots per neuron).
pub const MAX_DELAY_STEPS: u64 = 65_535;

/// Largest magnitude accepted for an adaptive threshold's `theta_plus_mv`, `theta_init_mv` and
/// `theta_rest_mv` (1 kV): far beyond any model, and small enough that `theta` stays finite
/// (`1e308` overflowed `theta - theta_rest` to infinity and, with a fast decay, `theta` to NaN).
pub const MAX_THETA_MV: f64 = 1e6;

/// Largest magnitude accepted for a neuron model's potentials that enter its arithmetic (`*_mv`:
/// rest, reset, reversal; 1 kV): far beyond any model; `e_l_mv = 1e308` made the conductance
/// kernel's sums overflow and silenced the neuron without an error. Thresholds and peaks are
/// only compared with, so any finite value is accepted there (a threshold of `f32::MAX` is how
/// an imported non-spiking NIR node never fires).
pub const MAX_POTENTIAL_MV: f64 = 1e6;

/// Largest magnitude accepted for a constant current (`i_e_pa`, `i_e`, step currents; 1 A).
pub const MAX_CURRENT_PA: f64 = 1e12;

/// Largest magnitude accepted for a synaptic or stimulus weight, and for what a weight
/// distribution can draw (a normal's mean 8 standard deviations out): far beyond any model,
/// and small enough that the sums of a step's arrivals stay finite in the engine's `f32` input
/// buffers (weights near `f32::MAX` overflowed them to infinity, and a conductance neuron fell
/// silent without an error).
pub const MAX_WEIGHT: f64 = 1e9;

struct Checker {
    issues: Vec<SpecIssue>,
}

impl Checker {
    fn err(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.issues.push(SpecIssue {
            path: path.into(),
            message: message.into(),
        });
    }

    fn finite(&mut self, path: &str, v: f64) -> bool {
        if v.is_finite() {
            true
        } else {
            self.err(path, format!("must be a finite number, got {v}"));
            false
        }
    }

    fn positive(&mut self, path: &str, v: f64) {
        if self.finite(path, v) && v <= 0.0 {
            self.err(path, format!("must be > 0, got {}", num(v)));
        }
    }

    /// Finite and at most `max` in magnitude (`what` names the limit in the message).
    fn bounded(&mut self, path: &str, v: f64, max: f64, what: &str) -> bool {
        if !self.finite(path, v) {
            return false;
        }
        if v.abs() > max {
            self.err(
                path,
                format!("must be within ±{} ({what}), got {}", num(max), num(v)),
            );
            return false;
        }
        true
    }

    /// A model's potential (mV), within [`MAX_POTENTIAL_MV`].
    fn potential(&mut self, path: &str, v: f64) -> bool {
        self.bounded(path, v, MAX_POTENTIAL_MV, "1 kV")
    }

    /// A constant current (pA), within [`MAX_CURRENT_PA`].
    fn current(&mut self, path: &str, v: f64) -> bool {
        self.bounded(path, v, MAX_CURRENT_PA, "1 A")
    }

    /// A weight, within [`MAX_WEIGHT`].
    fn weight(&mut self, path: &str, v: f64) -> bool {
        self.bounded(
            path,
            v,
            MAX_WEIGHT,
            "larger sums overflow the engine's f32 input buffers",
        )
    }

    /// A weight given as a value or a distribution: checked as [`value`](Self::value), then
    /// every weight it can draw ([`ValueSpec::range`]: a normal's within 8 standard deviations)
    /// within [`MAX_WEIGHT`].
    fn weight_value(&mut self, path: &str, v: &ValueSpec) {
        let before = self.issues.len();
        self.value(path, v);
        if self.issues.len() != before {
            return;
        }
        let (lo, hi) = v.range();
        let worst = if lo.abs() > hi.abs() { lo } else { hi };
        self.weight(path, worst);
    }

    /// A stimulus window: `stop_ms` after `start_ms` (an empty or reversed window would
    /// silently do nothing).
    fn start_before_stop(&mut self, path: &str, start_ms: f64, stop_ms: f64) {
        if start_ms.is_finite() && stop_ms.is_finite() && stop_ms <= start_ms {
            self.err(
                format!("{path}.stop_ms"),
                format!(
                    "must be after start_ms ({} ms), got {} ms",
                    num(start_ms),
                    num(stop_ms)
                ),
            );
        }
    }

    fn non_negative(&mut self, path: &str, v: f64) {
        if self.finite(path, v) && v < 0.0 {
            self.err(path, format!("must be >= 0, got {}", num(v)));
        }
    }

    fn value(&mut self, path: &str, v: &ValueSpec) {
        match *v {
            ValueSpec::Constant(x) => {
                self.finite(path, x);
            }
            ValueSpec::Random(Distribution::Uniform { low, high }) => {
                let ok = self.finite(&format!("{path}.low"), low)
                    & self.finite(&format!("{path}.high"), high);
                if ok && low > high {
                    self.err(
                        path,
                        format!("uniform low ({low}) is greater than high ({high})"),
                    );
                } else if ok && !(high - low).is_finite() {
                    self.err(
                        path,
                        format!("uniform range {low}..{high} is too wide to sample"),
                    );
                }
            }
            ValueSpec::Random(Distribution::Normal { mean, std }) => {
                self.finite(&format!("{path}.mean"), mean);
                self.non_negative(&format!("{path}.std"), std);
            }
            ValueSpec::Random(Distribution::TruncatedNormal {
                mean,
                std,
                low,
                high,
            }) => {
                let mut ok = self.finite(&format!("{path}.mean"), mean);
                let before = self.issues.len();
                self.non_negative(&format!("{path}.std"), std);
                ok &= self.issues.len() == before;
                if let Some(l) = low {
                    ok &= self.finite(&format!("{path}.low"), l);
                }
                if let Some(h) = high {
                    ok &= self.finite(&format!("{path}.high"), h);
                }
                if !ok {
                    return;
                }
                let (l, h) = (
                    low.unwrap_or(f64::NEG_INFINITY),
                    high.unwrap_or(f64::INFINITY),
                );
                if l > h {
                    self.err(
                        path,
                        format!("truncated_normal low ({l}) is greater than high ({h})"),
                    );
                } else if std == 0.0 && !(l..=h).contains(&mean) {
                    self.err(
                        path,
                        format!(
                            "truncated_normal with std 0 has its mean {mean} outside [{l}, {h}]"
                        ),
                    );
                } else if std > 0.0
                    && ((l - mean) / std > TRUNCATION_SIGMAS
                        || (h - mean) / std < -TRUNCATION_SIGMAS)
                {
                    self.err(
                        path,
                        format!(
                            "truncated_normal bounds [{l}, {h}] lie more than {TRUNCATION_SIGMAS} standard deviations from the mean {mean}: almost every draw would be redrawn"
                        ),
                    );
                }
            }
        }
    }

    /// A time in ms (a start, a stop, a spike time): finite, `>= 0` and within
    /// [`MAX_STEPS`](crate::MAX_STEPS) steps of `dt`.
    fn time(&mut self, path: &str, ms: f64, dt: f64) {
        if let Err(why) = check_time(ms, dt) {
            self.err(path, why);
        }
    }

    fn delay(&mut self, path: &str, ms: f64, dt: f64) {
        if !self.finite(path, ms) {
            return;
        }
        if dt > 0.0 && dt.is_finite() {
            // Half a step of slack: a delay of exactly dt written as 0.1 must pass.
            if ms < dt * (1.0 - 1e-9) {
                self.err(
                    path,
                    format!("{} ms is shorter than dt = {} ms", num(ms), num(dt)),
                );
            } else if (ms / dt).round() > MAX_DELAY_STEPS as f64 {
                self.err(
                    path,
                    format!(
                        "{} ms exceeds the maximum of {MAX_DELAY_STEPS} steps",
                        num(ms)
                    ),
                );
            }
        }
    }

    fn indices(&mut self, path: &str, idx: &[u32], size: Option<u32>) {
        if let Some(n) = size
            && let Some((i, &bad)) = idx.iter().enumerate().find(|&(_, &x)| x >= n)
        {
            self.err(
                format!("{path}[{i}]"),
                format!("neuron index {bad} is out of range (population has {n})"),
            );
        }
    }
}

fn check_adaptive_threshold(c: &mut Checker, path: &str, m: &NeuronModel) {
    let Some(a) = m.adaptive_threshold() else {
        return;
    };
    let path = format!("{path}.adaptive_threshold");
    c.non_negative(&format!("{path}.theta_plus_mv"), a.theta_plus_mv);
    c.positive(&format!("{path}.tau_theta_ms"), a.tau_theta_ms);
    c.finite(&format!("{path}.theta_init_mv"), a.theta_init_mv);
    c.finite(&format!("{path}.theta_rest_mv"), a.theta_rest_mv);
    for (name, v) in [
        ("theta_plus_mv", a.theta_plus_mv),
        ("theta_init_mv", a.theta_init_mv),
        ("theta_rest_mv", a.theta_rest_mv),
    ] {
        if v.is_finite() && v.abs() > MAX_THETA_MV {
            c.err(
                format!("{path}.{name}"),
                format!("{v:e} mV is out of range: at most {MAX_THETA_MV:e} in magnitude"),
            );
        }
    }
}

/// Forward Euler (`integration = "euler"`) decays a conductance by `1 - dt/tau` and relaxes `V`
/// at rest by `1 - dt g_L / C_m`: both factors must be positive, so `dt < tau_syn_ex,
/// tau_syn_in` and `dt g_L < C_m`.
fn check_euler(c: &mut Checker, path: &str, p: &LifCondExpParams, dt: f64) {
    if p.integration != CondIntegration::Euler || !(dt.is_finite() && dt > 0.0) {
        return;
    }
    let path = format!("{path}.integration");
    for (name, tau) in [
        ("tau_syn_ex_ms", p.tau_syn_ex_ms),
        ("tau_syn_in_ms", p.tau_syn_in_ms),
    ] {
        if tau.is_finite() && tau > 0.0 && dt >= tau {
            c.err(
                path.clone(),
                format!(
                    "forward Euler needs dt_ms ({dt}) below {name} ({tau}): its decay factor \
                     1 - dt/tau would be 0 or negative; use \"exponential_euler\" or a smaller dt"
                ),
            );
        }
    }
    if p.c_m_pf > 0.0 && p.g_l_ns > 0.0 && dt * p.g_l_ns >= p.c_m_pf {
        c.err(
            path,
            format!(
                "forward Euler needs dt_ms x g_l_ns ({}) below c_m_pf ({}): V would overshoot \
                 E_L; use \"exponential_euler\" or a smaller dt",
                dt * p.g_l_ns,
                p.c_m_pf
            ),
        );
    }
}

fn check_model(c: &mut Checker, path: &str, m: &NeuronModel) {
    check_adaptive_threshold(c, path, m);
    match m {
        NeuronModel::LifExp(p) => {
            c.positive(&format!("{path}.tau_m_ms"), p.tau_m_ms);
            c.positive(&format!("{path}.c_m_pf"), p.c_m_pf);
            c.positive(&format!("{path}.tau_syn_ex_ms"), p.tau_syn_ex_ms);
            c.positive(&format!("{path}.tau_syn_in_ms"), p.tau_syn_in_ms);
            c.non_negative(&format!("{path}.t_ref_ms"), p.t_ref_ms);
            c.potential(&format!("{path}.e_l_mv"), p.e_l_mv);
            c.current(&format!("{path}.i_e_pa"), p.i_e_pa);
            if c.finite(&format!("{path}.v_th_mv"), p.v_th_mv)
                & c.potential(&format!("{path}.v_reset_mv"), p.v_reset_mv)
                && p.v_reset_mv >= p.v_th_mv
            {
                c.err(format!("{path}.v_reset_mv"), "must be below v_th_mv");
            }
        }
        NeuronModel::LifDelta(p) => {
            c.positive(&format!("{path}.tau_m_ms"), p.tau_m_ms);
            c.positive(&format!("{path}.c_m_pf"), p.c_m_pf);
            c.non_negative(&format!("{path}.t_ref_ms"), p.t_ref_ms);
            c.potential(&format!("{path}.e_l_mv"), p.e_l_mv);
            c.current(&format!("{path}.i_e_pa"), p.i_e_pa);
            if c.finite(&format!("{path}.v_th_mv"), p.v_th_mv)
                & c.potential(&format!("{path}.v_reset_mv"), p.v_reset_mv)
                && p.v_reset_mv >= p.v_th_mv
            {
                c.err(format!("{path}.v_reset_mv"), "must be below v_th_mv");
            }
        }
        NeuronModel::LifCondExp(p) => {
            c.positive(&format!("{path}.c_m_pf"), p.c_m_pf);
            c.positive(&format!("{path}.g_l_ns"), p.g_l_ns);
            c.positive(&format!("{path}.tau_syn_ex_ms"), p.tau_syn_ex_ms);
            c.positive(&format!("{path}.tau_syn_in_ms"), p.tau_syn_in_ms);
            c.non_negative(&format!("{path}.t_ref_ms"), p.t_ref_ms);
            c.potential(&format!("{path}.e_l_mv"), p.e_l_mv);
            c.current(&format!("{path}.i_e_pa"), p.i_e_pa);
            let th = c.finite(&format!("{path}.v_th_mv"), p.v_th_mv);
            let reset = c.potential(&format!("{path}.v_reset_mv"), p.v_reset_mv);
            if th && reset && p.v_reset_mv >= p.v_th_mv {
                c.err(format!("{path}.v_reset_mv"), "must be below v_th_mv");
            }
            // An excitatory conductance must be able to drive V to threshold, an inhibitory one
            // must pull V below where it restarts.
            if c.potential(&format!("{path}.e_ex_mv"), p.e_ex_mv) && th && p.e_ex_mv <= p.v_th_mv {
                c.err(
                    format!("{path}.e_ex_mv"),
                    format!(
                        "excitatory reversal ({} mV) must be above v_th_mv ({} mV)",
                        p.e_ex_mv, p.v_th_mv
                    ),
                );
            }
            if c.potential(&format!("{path}.e_in_mv"), p.e_in_mv)
                && reset
                && p.e_in_mv >= p.v_reset_mv
            {
                c.err(
                    format!("{path}.e_in_mv"),
                    format!(
                        "inhibitory reversal ({} mV) must be below v_reset_mv ({} mV)",
                        p.e_in_mv, p.v_reset_mv
                    ),
                );
            }
        }
        NeuronModel::LifBeta(p) => {
            if c.finite(&format!("{path}.beta"), p.beta) && !(0.0..=1.0).contains(&p.beta) {
                c.err(
                    format!("{path}.beta"),
                    format!("must be in [0, 1], got {}", p.beta),
                );
            }
            c.positive(&format!("{path}.threshold"), p.threshold);
            c.finite(&format!("{path}.bias"), p.bias);
        }
        NeuronModel::LoihiLif(p) => {
            if p.du > 4095 {
                c.err(
                    format!("{path}.du"),
                    format!("must be in 0..=4095, got {}", p.du),
                );
            }
            if p.dv > 4096 {
                c.err(
                    format!("{path}.dv"),
                    format!("must be in 0..=4096, got {}", p.dv),
                );
            }
            if !(0..=(1 << 17) - 1).contains(&p.vth_mant) {
                c.err(
                    format!("{path}.vth_mant"),
                    format!("must be in 0..=131071, got {}", p.vth_mant),
                );
            }
            if !(-4096..=4095).contains(&p.bias_mant) {
                c.err(
                    format!("{path}.bias_mant"),
                    format!("must be in -4096..=4095, got {}", p.bias_mant),
                );
            }
            if p.bias_exp > 7 {
                c.err(
                    format!("{path}.bias_exp"),
                    format!("must be in 0..=7, got {}", p.bias_exp),
                );
            }
        }
        NeuronModel::Izhikevich(p) => {
            // Bounded so that the kernel's arithmetic stays finite (see snn-core's IZH_* bounds).
            for (f, x, lo) in [("a", p.a, 0.0), ("b", p.b, -1e6), ("d", p.d, -1e6)] {
                if c.finite(&format!("{path}.{f}"), x) && !(lo..=1e6).contains(&x) {
                    c.err(
                        format!("{path}.{f}"),
                        format!("must be in [{lo}, 1e6], got {}", num(x)),
                    );
                }
            }
            c.current(&format!("{path}.i_e"), p.i_e);
            if c.potential(&format!("{path}.c_mv"), p.c_mv)
                & c.finite(&format!("{path}.v_peak_mv"), p.v_peak_mv)
                && p.c_mv >= p.v_peak_mv
            {
                c.err(format!("{path}.c_mv"), "must be below v_peak_mv");
            }
        }
        NeuronModel::Adex(p) => {
            c.positive(&format!("{path}.c_m_pf"), p.c_m_pf);
            c.positive(&format!("{path}.g_l_ns"), p.g_l_ns);
            c.positive(&format!("{path}.delta_t_mv"), p.delta_t_mv);
            c.positive(&format!("{path}.tau_w_ms"), p.tau_w_ms);
            c.positive(&format!("{path}.tau_syn_ex_ms"), p.tau_syn_ex_ms);
            c.positive(&format!("{path}.tau_syn_in_ms"), p.tau_syn_in_ms);
            c.non_negative(&format!("{path}.t_ref_ms"), p.t_ref_ms);
            for (f, x) in [("a_ns", p.a_ns), ("b_pa", p.b_pa)] {
                c.finite(&format!("{path}.{f}"), x);
            }
            for (f, x) in [
                ("e_l_mv", p.e_l_mv),
                ("e_ex_mv", p.e_ex_mv),
                ("e_in_mv", p.e_in_mv),
            ] {
                c.potential(&format!("{path}.{f}"), x);
            }
            c.current(&format!("{path}.i_e_pa"), p.i_e_pa);
            let th = c.finite(&format!("{path}.v_th_mv"), p.v_th_mv);
            let reset = c.potential(&format!("{path}.v_reset_mv"), p.v_reset_mv);
            if c.finite(&format!("{path}.v_peak_mv"), p.v_peak_mv) {
                if reset && p.v_reset_mv >= p.v_peak_mv {
                    c.err(format!("{path}.v_reset_mv"), "must be below v_peak_mv");
                }
                if th && p.v_th_mv >= p.v_peak_mv {
                    c.err(format!("{path}.v_th_mv"), "must be below v_peak_mv");
                }
            }
        }
        NeuronModel::Input => {}
    }
}

/// Whether model `m` has state variable `v` (a trace of it would otherwise be written as NaN).
fn check_state_var(m: &NeuronModel, v: StateVar) -> Result<(), String> {
    let adaptive = m.adaptive_threshold().is_some();
    let (name, has): (&str, &[StateVar]) = match m {
        NeuronModel::LifExp(_) if adaptive => (
            "lif_exp",
            &[
                StateVar::V,
                StateVar::ISynEx,
                StateVar::ISynIn,
                StateVar::Theta,
            ],
        ),
        NeuronModel::LifExp(_) => (
            "lif_exp",
            &[StateVar::V, StateVar::ISynEx, StateVar::ISynIn],
        ),
        NeuronModel::LifCondExp(_) if adaptive => (
            "lif_cond_exp",
            &[StateVar::V, StateVar::GEx, StateVar::GIn, StateVar::Theta],
        ),
        NeuronModel::LifDelta(_) => ("lif_delta", &[StateVar::V]),
        NeuronModel::LifCondExp(_) => {
            ("lif_cond_exp", &[StateVar::V, StateVar::GEx, StateVar::GIn])
        }
        NeuronModel::LifBeta(_) => ("lif_beta", &[StateVar::V]),
        NeuronModel::LoihiLif(_) => ("loihi_lif", &[StateVar::V, StateVar::U]),
        NeuronModel::Izhikevich(_) => ("izhikevich", &[StateVar::V, StateVar::U]),
        NeuronModel::Adex(_) => ("adex", &[StateVar::V, StateVar::U]),
        NeuronModel::Input => {
            return Err(
                "an input population has no state to record (record its spikes instead)".into(),
            );
        }
    };
    if has.contains(&v) {
        return Ok(());
    }
    let var = |v: &StateVar| match v {
        StateVar::V => "v",
        StateVar::ISynEx => "i_syn_ex",
        StateVar::ISynIn => "i_syn_in",
        StateVar::U => "u",
        StateVar::GEx => "g_ex",
        StateVar::GIn => "g_in",
        StateVar::Theta => "theta",
    };
    // "an adex neuron", "an izhikevich neuron", "a lif_exp neuron".
    let a = if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    if v == StateVar::Theta && matches!(m, NeuronModel::LifExp(_) | NeuronModel::LifCondExp(_)) {
        return Err(format!(
            "{a} {name} neuron has a `theta` only with an `adaptive_threshold` block"
        ));
    }
    Err(format!(
        "{a} {name} neuron has no `{}`; it has {}",
        var(&v),
        has.iter()
            .map(|x| format!("`{}`", var(x)))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// A projection's learning rule: every parameter in its range (named by its path), a projection
/// with per-synapse weights (not a shared conv/pool kernel), and initial weights inside the
/// rule's bounds (the first update would otherwise clip them silently).
fn check_plasticity(
    c: &mut Checker,
    path: &str,
    pr: &ProjectionSpec,
    target_model: Option<&NeuronModel>,
    rule: &PlasticitySpec,
) {
    let ppath = format!("{path}.plasticity");
    if matches!(
        pr.connectivity,
        Connectivity::Conv2d { .. } | Connectivity::Pool2d { .. }
    ) {
        c.err(
            &ppath,
            "a conv2d/pool2d projection shares one kernel between its synapses; a learning rule \
             needs a weight per synapse (write the projection out as explicit connectivity)",
        );
    }
    if let Some(NeuronModel::LoihiLif(_)) = target_model {
        c.err(
            &ppath,
            "a loihi_lif target takes integer weights; a learning rule makes them fractional \
             (learn on a float model, then quantise for the chip)",
        );
    }
    // The rule's own checks (one list, shared with snn-learn's constructors), each at its path.
    for p in rule.problems() {
        c.err(format!("{ppath}.{}", p.name), p.reason);
    }
    let b = rule.bounds();
    let bpath = format!("{ppath}.bounds");
    // A bound that is not finite is already reported by the rule's own check (`bounds`).
    let lo_ok = b.w_min.is_finite() && c.weight(&format!("{bpath}.w_min"), b.w_min);
    let hi_ok = b.w_max.is_finite() && c.weight(&format!("{bpath}.w_max"), b.w_max);
    if !(lo_ok && hi_ok) || b.w_min >= b.w_max {
        // Said above (bounds) or just now (beyond MAX_WEIGHT).
        return;
    }
    let outside = |w: f64| w < b.w_min || w > b.w_max;
    let range = format!("[{}, {}]", num(b.w_min), num(b.w_max));
    let bad = match &pr.connectivity {
        Connectivity::Explicit {
            weights: Some(w), ..
        } => w
            .iter()
            .position(|&x| outside(x))
            .map(|j| format!("connectivity.weights[{j}] = {} lies", num(w[j]))),
        Connectivity::Dense { weights } => weights.iter().enumerate().find_map(|(i, row)| {
            row.iter().any(|&x| x != 0.0 && outside(x)).then(|| {
                format!("a weight in connectivity.weights[{i}] (nonzero entries are synapses) lies")
            })
        }),
        _ => match pr.weight {
            ValueSpec::Constant(w) if outside(w) => Some(format!("weight {} lies", num(w))),
            ValueSpec::Random(Distribution::Uniform { low, high })
                if outside(low) || outside(high) =>
            {
                Some(format!(
                    "weights drawn from [{}, {}] lie",
                    num(low),
                    num(high)
                ))
            }
            // A normal distribution's tails may reach beyond the bounds (clipped at each
            // synapse's first update), but not its centre, nor a truncation bound.
            ValueSpec::Random(Distribution::Normal { mean, .. }) if outside(mean) => {
                Some(format!("weights drawn around a mean of {} lie", num(mean)))
            }
            ValueSpec::Random(Distribution::TruncatedNormal {
                mean, low, high, ..
            }) if outside(mean) || low.is_some_and(outside) || high.is_some_and(outside) => {
                Some("weights drawn from this truncated normal lie".to_string())
            }
            _ => None,
        },
    };
    if let Some(what) = bad {
        c.err(
            &bpath,
            format!(
                "{what} outside the rule's bounds {range}: the first update would clip such a weight \
                 (the bounds are in the projection's weight units)"
            ),
        );
    }
}

/// Checks a `conv2d` or `pool2d` projection: the geometry, the target's size and shape, the
/// kernel's length and values, a constant delay, and the weight rule of each.
fn check_conv(c: &mut Checker, spec: &NetworkSpec, i: usize, cpath: &str, path: &str) {
    let pr = &spec.projections[i];
    if pr.source == pr.target {
        c.err(
            cpath,
            format!(
                "{} from '{}' onto itself is not supported (a conv or pool projection connects two layers)",
                pr.connectivity.name(),
                pr.source
            ),
        );
        return;
    }
    if let Some(ValueSpec::Random(_)) = pr.delay_ms {
        c.err(
            format!("{path}.delay_ms"),
            format!(
                "a {} projection needs a constant delay (its synapses are not stored one by one)",
                pr.connectivity.name()
            ),
        );
    }
    match (&pr.connectivity, &pr.weight) {
        (Connectivity::Conv2d { .. }, ValueSpec::Constant(w)) if *w == 1.0 => {}
        (Connectivity::Conv2d { .. }, _) => c.err(
            format!("{path}.weight"),
            "a conv2d projection takes its weights from connectivity.weights; leave weight out (it must be 1)",
        ),
        (Connectivity::Pool2d { .. }, ValueSpec::Random(_)) => c.err(
            format!("{path}.weight"),
            "a pool2d projection needs a constant weight (every window shares it)",
        ),
        _ => {}
    }
    let geometry = match spec.projection_geometry(i) {
        Some(Ok(g)) => g,
        Some(Err(why)) => {
            c.err(cpath, why);
            return;
        }
        None => return,
    };
    if let Connectivity::Conv2d { weights, .. } = &pr.connectivity {
        let want = geometry.kernel_len();
        let [co, _, _] = geometry.out_shape();
        let [kh, kw] = geometry.kernel();
        if weights.len() != want {
            c.err(
                format!("{cpath}.weights"),
                format!(
                    "has {} values, expected out_channels x in_channels/groups x kh x kw = {co} x {} x {kh} x {kw} = {want}",
                    weights.len(),
                    geometry.in_per_group()
                ),
            );
        }
        if let Some((j, &x)) = weights
            .iter()
            .enumerate()
            .find(|(_, x)| x.is_nan() || x.abs() > MAX_WEIGHT)
        {
            c.weight(&format!("{cpath}.weights[{j}]"), x);
        }
    }
    let Some(tp) = spec
        .population_index(&pr.target)
        .map(|t| &spec.populations[t])
    else {
        return;
    };
    let out = geometry.out_shape();
    if shape_len(out) != tp.size as u64 {
        c.err(
            cpath,
            format!(
                "produces {out:?} = {} neurons but target population '{}' has {}",
                shape_len(out),
                pr.target,
                tp.size
            ),
        );
    } else if let Some(ts) = tp.shape
        && ts != out
    {
        c.err(
            cpath,
            format!(
                "produces {out:?} but target population '{}' has shape {ts:?}",
                pr.target
            ),
        );
    }
}

/// Runs every check and returns the problems found (empty when the spec is valid).
pub fn check(spec: &NetworkSpec) -> Vec<SpecIssue> {
    let mut c = Checker { issues: Vec::new() };
    let dt = spec.dt_ms;
    if let Err(why) = check_dt(dt) {
        c.err("dt_ms", why);
    }
    if let Some(d) = spec.duration_ms
        && let Err(why) = check_duration(d, dt)
    {
        c.err("duration_ms", why);
    }
    if spec.populations.is_empty() {
        c.err("populations", "a network needs at least one population");
    }
    let mut by_name: HashMap<&str, usize> = HashMap::new();
    for (i, p) in spec.populations.iter().enumerate() {
        let path = format!("populations[{i}]");
        if p.name.trim().is_empty() {
            c.err(format!("{path}.name"), "must not be empty");
        } else if let Some(prev) = by_name.insert(p.name.as_str(), i) {
            c.err(
                format!("{path}.name"),
                format!("duplicate name '{}' (also populations[{prev}])", p.name),
            );
        }
        if p.size == 0 {
            c.err(format!("{path}.size"), "must be at least 1");
        }
        if let Some(shape) = p.shape {
            if shape.contains(&0) {
                c.err(
                    format!("{path}.shape"),
                    format!("{shape:?} has a zero dimension"),
                );
            } else if shape_len(shape) != p.size as u64 {
                c.err(
                    format!("{path}.shape"),
                    format!(
                        "{shape:?} holds {} neurons but size is {}",
                        shape_len(shape),
                        p.size
                    ),
                );
            }
        }
        check_model(&mut c, &format!("{path}.neuron"), &p.neuron);
        if let NeuronModel::LifCondExp(m) = &p.neuron {
            check_euler(&mut c, &format!("{path}.neuron"), m, dt);
        }
        if let Some(v) = &p.v_init {
            c.value(&format!("{path}.v_init"), v);
        }
    }
    let total: u64 = spec.n_neurons();
    if total > u32::MAX as u64 {
        c.err(
            "populations",
            format!("{total} neurons exceed the limit of {}", u32::MAX),
        );
    }
    let size_of = |name: &str| by_name.get(name).map(|&i| spec.populations[i].size);
    let model_of = |name: &str| by_name.get(name).map(|&i| &spec.populations[i].neuron);

    for (i, pr) in spec.projections.iter().enumerate() {
        let path = format!("projections[{i}]");
        let ns = size_of(&pr.source);
        let nt = size_of(&pr.target);
        if ns.is_none() {
            c.err(
                format!("{path}.source"),
                format!("unknown population '{}'", pr.source),
            );
        }
        match model_of(&pr.target) {
            None => c.err(
                format!("{path}.target"),
                format!("unknown population '{}'", pr.target),
            ),
            Some(NeuronModel::Input) => c.err(
                format!("{path}.target"),
                format!(
                    "'{}' is an input population and cannot receive synapses",
                    pr.target
                ),
            ),
            Some(_) => {}
        }
        c.weight_value(&format!("{path}.weight"), &pr.weight);
        if let Some(rule) = &pr.plasticity {
            check_plasticity(&mut c, &path, pr, model_of(&pr.target), rule);
        }
        let mut continue_delay_checks = true;
        if let Some(d) = &pr.delay_ms {
            let dpath = format!("{path}.delay_ms");
            let before = c.issues.len();
            c.value(&dpath, d);
            if c.issues.len() > before {
                // Not finite (or a bad distribution): said once, not again as a delay.
                continue_delay_checks = false;
            }
            // Random delays are clamped to at least one step when drawn; the distribution's
            // lower bound (uniform) or mean (normal) must itself respect dt.
            match *d {
                _ if !continue_delay_checks => {}
                ValueSpec::Constant(x) => c.delay(&dpath, x, dt),
                ValueSpec::Random(Distribution::Uniform { low, high }) => {
                    c.delay(&format!("{dpath}.low"), low, dt);
                    c.delay(&format!("{dpath}.high"), high, dt);
                }
                ValueSpec::Random(Distribution::Normal { mean, .. }) => {
                    c.delay(&format!("{dpath}.mean"), mean, dt)
                }
                // Draws below the lower bound are redrawn and the rest rounded to steps: a bound
                // of half a step (NEST's `resolution - 0.5 * resolution`) keeps every delay at one
                // step or more.
                ValueSpec::Random(Distribution::TruncatedNormal { mean, low, .. }) => match low {
                    Some(l) if l < 0.5 * dt * (1.0 - 1e-9) => c.err(
                        format!("{dpath}.low"),
                        format!(
                            "{} ms is shorter than half of dt = {} ms: a delay drawn there rounds to zero steps",
                            num(l),
                            num(dt)
                        ),
                    ),
                    Some(_) => {}
                    None => c.delay(&format!("{dpath}.mean"), mean, dt),
                },
            }
        }
        let same = pr.source == pr.target;
        let cpath = format!("{path}.connectivity");
        match &pr.connectivity {
            Connectivity::AllToAll => {}
            Connectivity::OneToOne => {
                if let (Some(a), Some(b)) = (ns, nt)
                    && a != b
                {
                    c.err(
                        &cpath,
                        format!("one_to_one needs equal sizes, got {a} -> {b}"),
                    );
                }
                if same && !pr.allow_autapses {
                    c.err(
                        &cpath,
                        format!(
                            "one_to_one from '{}' onto itself connects every neuron only to itself, which makes no synapse unless allow_autapses = true",
                            pr.source
                        ),
                    );
                }
            }
            Connectivity::FixedProbability { p } => {
                if c.finite(&format!("{cpath}.p"), *p) && !(0.0..=1.0).contains(p) {
                    c.err(format!("{cpath}.p"), format!("must be in [0, 1], got {p}"));
                }
            }
            Connectivity::FixedIndegree { k } => {
                if let Some(n) = ns {
                    let avail = if same && !pr.allow_autapses {
                        n.saturating_sub(1)
                    } else {
                        n
                    };
                    if *k > avail {
                        c.err(
                            format!("{cpath}.k"),
                            format!("in-degree {k} exceeds the {avail} available distinct sources"),
                        );
                    }
                }
            }
            Connectivity::FixedOutdegree { k } => {
                if let Some(n) = nt {
                    let avail = if same && !pr.allow_autapses {
                        n.saturating_sub(1)
                    } else {
                        n
                    };
                    if *k > avail {
                        c.err(
                            format!("{cpath}.k"),
                            format!(
                                "out-degree {k} exceeds the {avail} available distinct targets"
                            ),
                        );
                    }
                }
            }
            Connectivity::FixedTotalNumber { n } => {
                if let (Some(a), Some(b)) = (ns, nt) {
                    let pairs = a as u64 * b as u64
                        - if same && !pr.allow_autapses {
                            a as u64
                        } else {
                            0
                        };
                    if *n > 0 && pairs == 0 {
                        c.err(
                            format!("{cpath}.n"),
                            format!("{n} synapses but no (source, target) pair is allowed"),
                        );
                    }
                }
                if *n > u32::MAX as u64 {
                    c.err(
                        format!("{cpath}.n"),
                        format!(
                            "{n} synapses exceed the limit of {} per projection",
                            u32::MAX
                        ),
                    );
                }
            }
            Connectivity::Explicit {
                sources,
                targets,
                weights,
                delays_ms,
            } => {
                let n = sources.len();
                if targets.len() != n {
                    c.err(
                        format!("{cpath}.targets"),
                        format!("has {} entries but sources has {n}", targets.len()),
                    );
                }
                c.indices(&format!("{cpath}.sources"), sources, ns);
                c.indices(&format!("{cpath}.targets"), targets, nt);
                if let Some(w) = weights {
                    if w.len() != n {
                        c.err(
                            format!("{cpath}.weights"),
                            format!("has {} entries but sources has {n}", w.len()),
                        );
                    }
                    if let Some((j, &x)) = w
                        .iter()
                        .enumerate()
                        .find(|(_, x)| x.is_nan() || x.abs() > MAX_WEIGHT)
                    {
                        c.weight(&format!("{cpath}.weights[{j}]"), x);
                    }
                }
                if let Some(d) = delays_ms {
                    if d.len() != n {
                        c.err(
                            format!("{cpath}.delays_ms"),
                            format!("has {} entries but sources has {n}", d.len()),
                        );
                    }
                    for (j, &x) in d.iter().enumerate() {
                        let before = c.issues.len();
                        c.delay(&format!("{cpath}.delays_ms[{j}]"), x, dt);
                        if c.issues.len() > before {
                            break;
                        }
                    }
                }
            }
            Connectivity::Conv2d { .. } | Connectivity::Pool2d { .. } => {
                check_conv(&mut c, spec, i, &cpath, &path);
            }
            Connectivity::Dense { weights } => {
                if let (Some(a), Some(b)) = (ns, nt) {
                    if weights.len() != a as usize {
                        c.err(
                            format!("{cpath}.weights"),
                            format!("has {} rows but the source has {a} neurons", weights.len()),
                        );
                    }
                    if let Some((r, row)) = weights
                        .iter()
                        .enumerate()
                        .find(|(_, r)| r.len() != b as usize)
                    {
                        c.err(
                            format!("{cpath}.weights[{r}]"),
                            format!("has {} columns but the target has {b} neurons", row.len()),
                        );
                    }
                }
                'outer: for (r, row) in weights.iter().enumerate() {
                    for (j, &x) in row.iter().enumerate() {
                        if !c.weight(&format!("{cpath}.weights[{r}][{j}]"), x) {
                            break 'outer;
                        }
                    }
                }
            }
        }
        if let Some(NeuronModel::LoihiLif(_)) = model_of(&pr.target) {
            let integral = |x: f64| x.fract() == 0.0 && x.abs() < (1 << 24) as f64;
            let ok = match (&pr.connectivity, &pr.weight) {
                (Connectivity::Dense { weights }, _) => {
                    weights.iter().flatten().all(|&x| integral(x))
                }
                (Connectivity::Conv2d { weights, .. }, _) => {
                    // The kernel is in connectivity.weights: name the first bad entry there.
                    if let Some((j, x)) = weights.iter().enumerate().find(|(_, x)| !integral(**x)) {
                        c.err(
                            format!("{cpath}.weights[{j}]"),
                            format!(
                                "{x} is not an integer with |w| < 2^24, as weights into the loihi_lif population '{}' must be",
                                pr.target
                            ),
                        );
                    }
                    true
                }
                (
                    Connectivity::Pool2d {
                        mode: PoolMode::Average,
                        kernel,
                        ..
                    },
                    ValueSpec::Constant(x),
                ) => integral(*x / (kernel[0] as f64 * kernel[1] as f64)),
                (
                    Connectivity::Explicit {
                        weights: Some(w), ..
                    },
                    _,
                ) => w.iter().all(|&x| integral(x)),
                (_, ValueSpec::Constant(x)) => integral(*x),
                (_, ValueSpec::Random(_)) => false,
            };
            if !ok {
                if let (
                    Connectivity::Pool2d {
                        mode: PoolMode::Average,
                        kernel,
                        ..
                    },
                    ValueSpec::Constant(x),
                ) = (&pr.connectivity, &pr.weight)
                {
                    let area = kernel[0] as f64 * kernel[1] as f64;
                    c.err(
                        format!("{path}.weight"),
                        format!(
                            "an average pool gives each source weight / (kh x kw) = {x} / {area} = {}; weights into a loihi_lif population must be integers (|w| < 2^24): use a multiple of {area}, or mode = \"sum\"",
                            x / area
                        ),
                    );
                    continue;
                }
                c.err(format!("{path}.weight"), "weights into a loihi_lif population must be integers (|w| < 2^24) and not random");
            }
        }
    }

    for (i, s) in spec.stimuli.iter().enumerate() {
        let path = format!("stimuli[{i}]");
        let n = size_of(s.target());
        if n.is_none() {
            c.err(
                format!("{path}.target"),
                format!("unknown population '{}'", s.target()),
            );
        }
        let is_input = matches!(model_of(s.target()), Some(NeuronModel::Input));
        match s {
            StimulusSpec::Poisson {
                rate_hz,
                weight,
                start_ms,
                stop_ms,
                ..
            } => {
                c.non_negative(&format!("{path}.rate_hz"), *rate_hz);
                c.weight(&format!("{path}.weight"), *weight);
                c.time(&format!("{path}.start_ms"), *start_ms, dt);
                if let Some(t) = stop_ms {
                    c.time(&format!("{path}.stop_ms"), *t, dt);
                    c.start_before_stop(&path, *start_ms, *t);
                }
                if rate_hz.is_finite() && dt.is_finite() && rate_hz * dt * 1e-3 > 1.0 && is_input {
                    c.err(format!("{path}.rate_hz"), "an input neuron can fire at most once per step: rate_hz * dt must be <= 1000");
                }
            }
            StimulusSpec::Current {
                amplitude,
                start_ms,
                stop_ms,
                neurons,
                ..
            } => {
                if is_input {
                    c.err(
                        format!("{path}.target"),
                        "a current cannot drive an input population",
                    );
                }
                c.current(&format!("{path}.amplitude"), *amplitude);
                c.time(&format!("{path}.start_ms"), *start_ms, dt);
                if let Some(t) = stop_ms {
                    c.time(&format!("{path}.stop_ms"), *t, dt);
                    c.start_before_stop(&path, *start_ms, *t);
                }
                if let Some(ix) = neurons {
                    c.indices(&format!("{path}.neurons"), ix, n);
                }
            }
            StimulusSpec::StepCurrent {
                times_ms,
                amplitudes,
                neurons,
                ..
            } => {
                if is_input {
                    c.err(
                        format!("{path}.target"),
                        "a current cannot drive an input population",
                    );
                }
                if times_ms.len() != amplitudes.len() {
                    c.err(
                        format!("{path}.amplitudes"),
                        format!(
                            "has {} entries but times_ms has {}",
                            amplitudes.len(),
                            times_ms.len()
                        ),
                    );
                }
                for (j, t) in times_ms.iter().enumerate() {
                    c.time(&format!("{path}.times_ms[{j}]"), *t, dt);
                    if j > 0 && *t <= times_ms[j - 1] {
                        c.err(
                            format!("{path}.times_ms[{j}]"),
                            "times must be strictly increasing",
                        );
                    }
                }
                for (j, a) in amplitudes.iter().enumerate() {
                    c.current(&format!("{path}.amplitudes[{j}]"), *a);
                }
                if let Some(ix) = neurons {
                    c.indices(&format!("{path}.neurons"), ix, n);
                }
            }
            StimulusSpec::SpikeArray { weight, spikes, .. } => {
                c.weight(&format!("{path}.weight"), *weight);
                for (j, tr) in spikes.iter().enumerate() {
                    if let Some(n) = n
                        && tr.neuron >= n
                    {
                        c.err(
                            format!("{path}.spikes[{j}].neuron"),
                            format!(
                                "neuron index {} is out of range (population has {n})",
                                tr.neuron
                            ),
                        );
                    }
                    for (k, t) in tr.times_ms.iter().enumerate() {
                        c.time(&format!("{path}.spikes[{j}].times_ms[{k}]"), *t, dt);
                    }
                }
            }
        }
    }

    if let Some(pops) = &spec.recording.spikes {
        for (i, name) in pops.iter().enumerate() {
            if size_of(name).is_none() {
                c.err(
                    format!("recording.spikes[{i}]"),
                    format!("unknown population '{name}'"),
                );
            }
        }
    }
    for (i, name) in spec.recording.rates.iter().enumerate() {
        if size_of(name).is_none() {
            c.err(
                format!("recording.rates[{i}]"),
                format!("unknown population '{name}'"),
            );
        } else if let Some(j) = spec.recording.rates[..i].iter().position(|n| n == name) {
            c.err(
                format!("recording.rates[{i}]"),
                format!("'{name}' is already recorded by recording.rates[{j}]"),
            );
        }
    }
    for (i, t) in spec.recording.state.iter().enumerate() {
        let path = format!("recording.state[{i}]");
        match size_of(&t.population) {
            None => c.err(
                format!("{path}.population"),
                format!("unknown population '{}'", t.population),
            ),
            Some(n) => c.indices(&format!("{path}.neurons"), &t.neurons, Some(n)),
        }
        if t.neurons.is_empty() {
            c.err(
                format!("{path}.neurons"),
                "lists no neuron, so nothing would be recorded",
            );
        }
        // A neuron listed twice would be written twice per step (a likely typo).
        let mut seen = std::collections::HashSet::with_capacity(t.neurons.len());
        if let Some((j, &dup)) = t
            .neurons
            .iter()
            .enumerate()
            .find(|(_, x)| !seen.insert(**x))
        {
            c.err(
                format!("{path}.neurons[{j}]"),
                format!("neuron {dup} is listed twice"),
            );
        }
        if let Some(m) = model_of(&t.population)
            && let Err(why) = check_state_var(m, t.variable)
        {
            c.err(format!("{path}.variable"), why);
        }
    }
    if let Some(r) = &spec.readout {
        c.issues.extend(check_readout(spec, r));
    }
    c.issues
}

/// Checks a spec's `[readout]` section against the rest of the spec (populations, `dt_ms`,
/// recording); returns the problems found, with paths under `readout`.
pub(crate) fn check_readout(spec: &NetworkSpec, r: &ReadoutSpec) -> Vec<SpecIssue> {
    let mut c = Checker { issues: Vec::new() };
    let dt = spec.dt_ms;
    let pop = |name: &str| spec.populations.iter().find(|p| p.name == name);

    match pop(&r.population) {
        None => c.err(
            "readout.population",
            format!("'{}' is not a population", r.population),
        ),
        Some(p) if matches!(p.neuron, NeuronModel::Input) => c.err(
            "readout.population",
            format!(
                "'{}' is an input population and cannot be read out",
                r.population
            ),
        ),
        Some(p) => match r.rule {
            ReadoutRule::SpikeCount => {
                if let Some(rec) = &spec.recording.spikes
                    && !rec.contains(&p.name)
                {
                    c.err(
                            "readout.rule",
                            format!(
                                "spike_count reads the spikes of '{}', which recording.spikes does not record",
                                p.name
                            ),
                        );
                }
            }
            ReadoutRule::MeanMembrane => {
                // The recorded indices, sorted (bounded by the spec's own length, not by the
                // population's size); the first index not among them is missing.
                let mut seen: Vec<u32> = spec
                    .recording
                    .state
                    .iter()
                    .filter(|t| t.population == p.name && t.variable == StateVar::V)
                    .flat_map(|t| t.neurons.iter().copied())
                    .filter(|&k| k < p.size)
                    .collect();
                seen.sort_unstable();
                seen.dedup();
                let missing = seen
                    .iter()
                    .enumerate()
                    .find(|&(i, &k)| k != i as u32)
                    .map(|(i, _)| i as u32)
                    .or((seen.len() < p.size as usize).then_some(seen.len() as u32));
                if let Some(k) = missing {
                    c.err(
                        "readout.rule",
                        format!(
                            "mean_membrane reads the membrane of every neuron of '{}', but recording.state does not record v of neuron {k}",
                            p.name
                        ),
                    );
                }
            }
        },
    }

    // Times: milliseconds, rounded to whole steps like delay_ms.
    let dt_ok = dt.is_finite() && dt > 0.0;
    let time = |c: &mut Checker, path: &str, ms: f64, at_least_one_step: bool| {
        if !c.finite(path, ms) {
            return;
        }
        if ms < 0.0 {
            c.err(path, format!("must be >= 0, got {}", num(ms)));
            return;
        }
        if !dt_ok {
            return;
        }
        match ms_to_steps(ms, dt) {
            None => c.err(path, format!("{} ms is too long", num(ms))),
            Some(0) if at_least_one_step => c.err(
                path,
                format!(
                    "must cover at least one step of dt = {} ms, got {} ms",
                    num(dt),
                    num(ms)
                ),
            ),
            Some(_) => {}
        }
    };
    time(&mut c, "readout.window_start_ms", r.window_start_ms, false);
    time(&mut c, "readout.window_ms", r.window_ms, true);
    time(&mut c, "readout.input_shift_ms", r.input_shift_ms, false);
    time(
        &mut c,
        "readout.input.duration_ms",
        r.input.duration_ms,
        true,
    );

    match pop(&r.input.population) {
        None => c.err(
            "readout.input.population",
            format!("'{}' is not a population", r.input.population),
        ),
        Some(p) if !matches!(p.neuron, NeuronModel::Input) => c.err(
            "readout.input.population",
            format!(
                "'{}' is not an input population (model input)",
                r.input.population
            ),
        ),
        Some(_) => {}
    }
    match r.input.coding {
        InputCoding::Direct => {}
        InputCoding::Rate { p_max } => {
            let path = "readout.input.coding.p_max";
            if c.finite(path, p_max) && !(0.0..=1.0).contains(&p_max) {
                c.err(path, format!("must be in [0, 1], got {p_max}"));
            }
        }
        InputCoding::Latency { threshold } => {
            c.finite("readout.input.coding.threshold", threshold);
        }
        InputCoding::Events { duration_us } => {
            if duration_us == 0 {
                c.err("readout.input.coding.duration_us", "must be at least 1");
            }
        }
    }
    c.issues
}
