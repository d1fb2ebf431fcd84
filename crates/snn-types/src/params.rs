//! Neuron model parameters, with units in every field name.
//!
//! Defaults follow NEST's models of the same name where one exists, so that a spec that names only
//! what it changes behaves as a NEST user expects.

use serde::{Deserialize, Serialize};

/// Current-based LIF with exponentially decaying synaptic currents (NEST `iaf_psc_exp`):
///
/// ```text
/// dV/dt    = -(V - E_L)/tau_m + (I_ex + I_in + I_e)/C_m
/// dI_ex/dt = -I_ex/tau_syn_ex      dI_in/dt = -I_in/tau_syn_in
/// ```
///
/// A spike arriving on the excitatory (inhibitory) receptor adds its weight in pA to `I_ex`
/// (`I_in`). When `V >= V_th` the neuron spikes, `V` is set to `V_reset` and clamped there for
/// `t_ref_ms`. Integrated exactly over each step (see `snn-core`). With `c_m_pf == tau_m_ms` the
/// membrane resistance is 1 GOhm, so a weight of `w` pA is a jump of `w` mV in `R*I`: the
/// voltage-unit formulation used by Brian2's CUBA example. With an `adaptive_threshold` block
/// ([`AdaptiveThreshold`]) the threshold is `V_th + theta`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LifExpParams {
    /// Membrane time constant (ms).
    pub tau_m_ms: f64,
    /// Membrane capacitance (pF).
    pub c_m_pf: f64,
    /// Resting (leak reversal) potential (mV).
    pub e_l_mv: f64,
    /// Spike threshold (mV).
    pub v_th_mv: f64,
    /// Reset potential (mV).
    pub v_reset_mv: f64,
    /// Absolute refractory period (ms).
    pub t_ref_ms: f64,
    /// Excitatory synaptic current time constant (ms).
    pub tau_syn_ex_ms: f64,
    /// Inhibitory synaptic current time constant (ms).
    pub tau_syn_in_ms: f64,
    /// Constant external input current (pA).
    pub i_e_pa: f64,
    /// Optional adaptive threshold ([`AdaptiveThreshold`]); absent by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adaptive_threshold: Option<AdaptiveThreshold>,
}

impl Default for LifExpParams {
    fn default() -> Self {
        Self {
            tau_m_ms: 10.0,
            c_m_pf: 250.0,
            e_l_mv: -70.0,
            v_th_mv: -55.0,
            v_reset_mv: -70.0,
            t_ref_ms: 2.0,
            tau_syn_ex_ms: 2.0,
            tau_syn_in_ms: 2.0,
            i_e_pa: 0.0,
            adaptive_threshold: None,
        }
    }
}

/// Conductance-based LIF with exponentially decaying synaptic conductances (NEST
/// `iaf_cond_exp`):
///
/// ```text
/// C_m dV/dt = -g_L (V - E_L) - g_ex (V - E_ex) - g_in (V - E_in) + I_e + I_ext
/// dg_ex/dt  = -g_ex/tau_syn_ex      dg_in/dt = -g_in/tau_syn_in
/// ```
///
/// A spike arriving on the excitatory (inhibitory) receptor adds its weight in nS to `g_ex`
/// (`g_in`); conductances never go below 0 (a negative weight can only remove conductance). When
/// `V >= V_th` the neuron spikes, `V` is set to `V_reset` and clamped there for `t_ref_ms`. The
/// conductances decay exactly; `V` is integrated by exponential Euler with the conductances'
/// mean over the step (see `snn-core`'s `neuron` module and `docs/models.md`); when a step's
/// arrivals join the conductances is [`InputOrder`]; forward Euler (Brian's scheme) is available
/// as [`CondIntegration::Euler`], and exponential Euler without the `exp` as
/// [`CondIntegration::Pade`]. With an `adaptive_threshold` block
/// ([`AdaptiveThreshold`]) the threshold is `V_th + theta`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LifCondExpParams {
    /// Membrane capacitance (pF).
    pub c_m_pf: f64,
    /// Leak conductance (nS).
    pub g_l_ns: f64,
    /// Leak reversal (resting) potential (mV).
    pub e_l_mv: f64,
    /// Spike threshold (mV).
    pub v_th_mv: f64,
    /// Reset potential (mV).
    pub v_reset_mv: f64,
    /// Absolute refractory period (ms).
    pub t_ref_ms: f64,
    /// Excitatory reversal potential (mV).
    pub e_ex_mv: f64,
    /// Inhibitory reversal potential (mV).
    pub e_in_mv: f64,
    /// Excitatory synaptic conductance time constant (ms).
    pub tau_syn_ex_ms: f64,
    /// Inhibitory synaptic conductance time constant (ms).
    pub tau_syn_in_ms: f64,
    /// Constant external input current (pA).
    pub i_e_pa: f64,
    /// Optional adaptive threshold ([`AdaptiveThreshold`]); absent by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adaptive_threshold: Option<AdaptiveThreshold>,
    /// When a step's synaptic arrivals join the conductances (`nest` by default).
    pub input_order: InputOrder,
    /// How `V` is integrated and the conductances decay (`exponential_euler` by default).
    pub integration: CondIntegration,
}

/// The integration scheme of a conductance-based neuron (`lif_cond_exp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CondIntegration {
    /// The conductances decay exactly (`g <- g exp(-h/tau)`) and `V` is advanced by
    /// exponential Euler with the conductances' mean over the step: unconditionally stable,
    /// every conductance's charge exact (see `snn-core`'s `neuron` module). The default.
    #[default]
    ExponentialEuler,
    /// Forward Euler on all three equations, as Brian's `method = 'euler'` (the scheme of
    /// Diehl & Cook's published code): `V <- V + h/C_m (g_L (E_L - V) + g_ex (E_ex - V) +
    /// g_in (E_in - V) + I)` with the conductances at the start of the step, and
    /// `g <- g (1 - h/tau)` (which keeps each spike's total charge, `w tau`). First order in
    /// `h`; needs `h < tau_syn` and `h g_L < C_m` (checked), and a conductance large enough
    /// that `h (g_L + g) > C_m` overshoots (and beyond `2 C_m` diverges) as it does in Brian.
    /// No `exp` and no division per neuron and step (Diehl & Cook trained 1.6x faster with it,
    /// but diverged at 400 neurons; docs/stdp.md).
    Euler,
    /// Exponential Euler as [`ExponentialEuler`](Self::ExponentialEuler) (exact conductance
    /// decay, step-mean conductances), with `V`'s factor `exp(-z)`, `z = h G / C_m`, replaced
    /// by its (0, 4) Padé approximant `1 / T(z)`, `T(z) = 1 + z + z^2/2 + z^3/6 + z^4/24`:
    /// `V <- V_inf + (V - V_inf) / T(z)`, computed as `(V + h/C_m (g_L E_L + g_ex E_ex + g_in
    /// E_in + I) w) / (1 + z w)` with `w = (T(z) - 1) / z` and the step-mean conductances. No
    /// `exp`, one division per neuron and step. The factor lies in `(0, 1)` for every `z > 0`,
    /// so `V` moves monotonically toward `V_inf` without overshoot, however large the
    /// conductance (unconditionally stable, like exponential Euler and unlike forward Euler).
    /// Per step it differs from exponential Euler by less than `z^5/120` of `V - V_inf` (3e-14
    /// of it at `z = 0.005`, 1.0e-4 at `z = 0.5`), below the error of the step-mean approximation both
    /// share. Diehl & Cook's classifier uses it (docs/stdp.md).
    Pade,
}

/// When the synaptic input arriving at a step joins a conductance-based neuron's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputOrder {
    /// NEST's order (`iaf_cond_exp`): `V` is integrated over the step with the conductances it
    /// started with, then the conductances decay and this step's arrivals are added, so a spike
    /// arriving at step `t` acts on `V` from step `t + 1` on. The default.
    #[default]
    Nest,
    /// Brian's order: this step's arrivals join the conductances first (decayed, plus the
    /// arrivals), and `V` is integrated over the step with them, so a spike arriving at step
    /// `t` already acts on `V(t + 1)`: one step less per synaptic hop. Brian applies a spike's
    /// effect at the end of the step it is delivered in, before the next integration; Diehl &
    /// Cook's published network (Brian 1) relies on the short loop from an excitatory spike
    /// through its inhibitory partner back to the other excitatory neurons.
    Brian,
}

impl Default for LifCondExpParams {
    /// NEST's `iaf_cond_exp` defaults.
    fn default() -> Self {
        Self {
            c_m_pf: 250.0,
            g_l_ns: 16.6667,
            e_l_mv: -70.0,
            v_th_mv: -55.0,
            v_reset_mv: -60.0,
            t_ref_ms: 2.0,
            e_ex_mv: 0.0,
            e_in_mv: -85.0,
            tau_syn_ex_ms: 0.2,
            tau_syn_in_ms: 2.0,
            i_e_pa: 0.0,
            adaptive_threshold: None,
            input_order: InputOrder::Nest,
            integration: CondIntegration::ExponentialEuler,
        }
    }
}

/// An adaptive threshold (Diehl & Cook 2015), the optional `adaptive_threshold` block of
/// `lif_exp` and `lif_cond_exp`:
///
/// ```text
/// each step:   theta <- theta_rest + (theta - theta_rest) exp(-dt/tau_theta)   (before the test)
/// spike when   V >= V_th + theta
/// on a spike:  theta <- theta + theta_plus
/// ```
///
/// `theta` (mV) is kept per neuron and starts at `theta_init_mv` (0 by default). For `lif_exp`
/// the test is on `V - E_L >= (V_th - E_L) + theta`, the same condition. Diehl & Cook use
/// `theta_plus = 0.05 mV` and `tau_theta = 1e7 ms`. Their published code also tests
/// `v > theta - offset + v_thresh` with `offset = 20 mV` while `theta` decays toward 0: in the
/// form above that is `theta_rest_mv = -20` (the effective `theta` relaxes toward -20 mV; over
/// an MNIST epoch, 3 x `tau_theta`, this matters). Absent by default: the model then behaves
/// exactly as without it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdaptiveThreshold {
    /// Increment of `theta` per spike (mV), `>= 0`.
    pub theta_plus_mv: f64,
    /// Decay time constant of `theta` (ms), `> 0`.
    pub tau_theta_ms: f64,
    /// Initial `theta` of every neuron (mV).
    pub theta_init_mv: f64,
    /// Value `theta` decays toward (mV); 0 by default.
    pub theta_rest_mv: f64,
}

impl Default for AdaptiveThreshold {
    /// Diehl & Cook's values.
    fn default() -> Self {
        Self {
            theta_plus_mv: 0.05,
            tau_theta_ms: 1e7,
            theta_init_mv: 0.0,
            theta_rest_mv: 0.0,
        }
    }
}

/// LIF with delta synapses (NEST `iaf_psc_delta`): `dV/dt = -(V - E_L)/tau_m + I_e/C_m`, and an
/// arriving spike makes `V` jump by its weight in mV. Spikes arriving while refractory are lost.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LifDeltaParams {
    /// Membrane time constant (ms).
    pub tau_m_ms: f64,
    /// Membrane capacitance (pF).
    pub c_m_pf: f64,
    /// Resting potential (mV).
    pub e_l_mv: f64,
    /// Spike threshold (mV).
    pub v_th_mv: f64,
    /// Reset potential (mV).
    pub v_reset_mv: f64,
    /// Absolute refractory period (ms).
    pub t_ref_ms: f64,
    /// Constant external input current (pA).
    pub i_e_pa: f64,
}

impl Default for LifDeltaParams {
    fn default() -> Self {
        Self {
            tau_m_ms: 10.0,
            c_m_pf: 250.0,
            e_l_mv: -70.0,
            v_th_mv: -55.0,
            v_reset_mv: -70.0,
            t_ref_ms: 2.0,
            i_e_pa: 0.0,
        }
    }
}

/// How a discrete LIF resets after a spike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResetMode {
    /// `v -= threshold` (keeps the overshoot; the default of snnTorch and Norse).
    #[default]
    Subtract,
    /// `v = 0`.
    Zero,
    /// snnTorch's `Leaky` (its default `reset_delay`): the reset of a spike at step `t - 1` is
    /// subtracted at step `t`, after the decay, so it is not multiplied by `beta`:
    /// `v[t] = beta * v[t-1] + I[t] - threshold * (v[t-1] > threshold)`, spike when
    /// `v[t] > threshold`. The stored membrane is the value before any reset. Engine only: the
    /// chip model refuses it.
    SubtractDelayed,
}

impl ResetMode {
    /// The mode's name as written in a spec (`subtract`, `zero`, `subtract_delayed`).
    pub fn name(self) -> &'static str {
        match self {
            ResetMode::Subtract => "subtract",
            ResetMode::Zero => "zero",
            ResetMode::SubtractDelayed => "subtract_delayed",
        }
    }
}

/// The discrete, dimensionless LIF used by surrogate-gradient training frameworks.
///
/// Each step, in this order: `v = beta * v + I + bias` where `I` is the sum of the weights of the
/// spikes arriving this step; the neuron spikes when `v > threshold` (strictly); on a spike
/// `v -= threshold` ([`ResetMode::Subtract`]) or `v = 0` ([`ResetMode::Zero`]). `snn-learn`'s
/// trainer implements exactly this order. [`ResetMode::SubtractDelayed`] instead subtracts the
/// threshold one step later, after the decay (snnTorch's `Leaky`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LifBetaParams {
    /// Membrane decay factor per step, in `[0, 1]`.
    pub beta: f64,
    /// Firing threshold (dimensionless).
    pub threshold: f64,
    /// Reset rule.
    pub reset: ResetMode,
    /// Constant input added every step (dimensionless).
    pub bias: f64,
}

impl Default for LifBetaParams {
    fn default() -> Self {
        Self {
            beta: 0.9,
            threshold: 1.0,
            reset: ResetMode::Subtract,
            bias: 0.0,
        }
    }
}

/// Loihi's integer CUBA LIF (Davies et al. 2018), bit-exact:
///
/// ```text
/// u[t] = wrap24( rtz(u[t-1] * (4096 - du - 1), 12) + (a_in << 6) )
/// v[t] = clip( rtz(v[t-1] * (4096 - dv), 12) + u[t] + (bias_mant << bias_exp), -(2^23-1), 2^23-1 )
/// spike when v[t] > vth_mant << 6; then v = 0 (u is not reset)
/// ```
///
/// `rtz(x, 12)` divides by 4096 rounding toward zero; `a_in` is the sum of the integer weights
/// arriving this step. Weights into such a population must be integers. A current stimulus on
/// such a population is a per-compartment bias: its amplitude (integer `v` units per step,
/// truncated toward zero) adds to `bias_mant << bias_exp` in the `v` equation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoihiLifParams {
    /// Current decay, `0..=4095` (12-bit).
    pub du: u16,
    /// Voltage decay, `0..=4096` (12-bit; 4096 means full decay each step).
    pub dv: u16,
    /// Threshold mantissa; the threshold is `vth_mant << 6`.
    pub vth_mant: i32,
    /// Bias mantissa (signed 13-bit on the chip).
    pub bias_mant: i32,
    /// Bias exponent, `0..=7`.
    pub bias_exp: u8,
}

impl Default for LoihiLifParams {
    fn default() -> Self {
        Self {
            du: 0,
            dv: 0,
            vth_mant: 100,
            bias_mant: 0,
            bias_exp: 0,
        }
    }
}

/// Izhikevich's simple model (Izhikevich 2003, "Simple model of spiking neurons"), in the paper's
/// units (`v` in mV, `t` in ms, `u` and currents in the paper's dimensionless units, which act as
/// mV/ms on `v`):
///
/// ```text
/// dv/dt = 0.04 v^2 + 5 v + 140 - u + I        du/dt = a (b v - u)
/// if v >= v_peak:  v <- c,  u <- u + d
/// ```
///
/// `I = i_e` plus any external current (in the same dimensionless unit). Synapses are delta
/// pulses: an arriving weight `w` is a current pulse of amplitude `w` lasting 1 ms delivered at
/// once, so `v` jumps by `w` mV (as in the paper's network, where `I += S` for one 1 ms step).
/// The receptor does not matter: the sign of the weight does. Integrated with classic RK4 at the
/// engine's `dt` (see `snn-core` and `docs/models-adex-izhikevich.md`). When no `v_init` is
/// given `v` starts at `c`; `u` starts at `b v`. The defaults are the regular-spiking cell.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IzhikevichParams {
    /// Recovery rate `a` (1/ms).
    pub a: f64,
    /// Sensitivity `b` of the recovery variable to `v` (dimensionless).
    pub b: f64,
    /// After-spike reset value of `v` (mV).
    pub c_mv: f64,
    /// After-spike increment of `u` (the paper's current unit).
    pub d: f64,
    /// Spike cut-off (mV).
    pub v_peak_mv: f64,
    /// Constant input current (the paper's dimensionless unit).
    pub i_e: f64,
}

impl Default for IzhikevichParams {
    fn default() -> Self {
        Self {
            a: 0.02,
            b: 0.2,
            c_mv: -65.0,
            d: 8.0,
            v_peak_mv: 30.0,
            i_e: 0.0,
        }
    }
}

/// Adaptive exponential integrate-and-fire neuron with conductance-based exponential synapses
/// (Brette & Gerstner 2005; NEST `aeif_cond_exp`, whose defaults these are):
///
/// ```text
/// C dV/dt    = -g_L (V - E_L) + g_L Delta_T exp((V - V_th)/Delta_T)
///              - g_ex (V - E_ex) - g_in (V - E_in) - w + I_e + I_ext
/// tau_w dw/dt = a (V - E_L) - w
/// dg_ex/dt   = -g_ex/tau_syn_ex     dg_in/dt = -g_in/tau_syn_in
/// if V >= V_peak:  V <- V_reset,  w <- w + b,  V held at V_reset for t_ref
/// ```
///
/// Units: mV, ms, pF, nS, pA. A spike arriving on the excitatory (inhibitory) receptor adds the
/// magnitude of its weight in nS to `g_ex` (`g_in`), so NEST's negative inhibitory weights work
/// as well as positive ones. Integrated with RK4 on substeps of at most 0.025 ms, the
/// conductances exactly (see `snn-core` and `docs/models-adex-izhikevich.md`). When no `v_init`
/// is given `V` starts at `E_L`; `w`, `g_ex` and `g_in` start at 0.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdexParams {
    /// Membrane capacitance (pF).
    pub c_m_pf: f64,
    /// Leak conductance (nS).
    pub g_l_ns: f64,
    /// Leak reversal potential (mV).
    pub e_l_mv: f64,
    /// Spike initiation threshold of the exponential term (mV).
    pub v_th_mv: f64,
    /// Slope factor of the exponential term (mV); must be > 0.
    pub delta_t_mv: f64,
    /// Adaptation time constant (ms).
    pub tau_w_ms: f64,
    /// Subthreshold adaptation conductance (nS).
    pub a_ns: f64,
    /// Spike-triggered adaptation increment (pA).
    pub b_pa: f64,
    /// Reset potential (mV).
    pub v_reset_mv: f64,
    /// Spike detection threshold (mV).
    pub v_peak_mv: f64,
    /// Absolute refractory period (ms).
    pub t_ref_ms: f64,
    /// Excitatory reversal potential (mV).
    pub e_ex_mv: f64,
    /// Inhibitory reversal potential (mV).
    pub e_in_mv: f64,
    /// Excitatory synaptic conductance time constant (ms).
    pub tau_syn_ex_ms: f64,
    /// Inhibitory synaptic conductance time constant (ms).
    pub tau_syn_in_ms: f64,
    /// Constant external input current (pA).
    pub i_e_pa: f64,
}

impl Default for AdexParams {
    fn default() -> Self {
        Self {
            c_m_pf: 281.0,
            g_l_ns: 30.0,
            e_l_mv: -70.6,
            v_th_mv: -50.4,
            delta_t_mv: 2.0,
            tau_w_ms: 144.0,
            a_ns: 4.0,
            b_pa: 80.5,
            v_reset_mv: -70.6,
            v_peak_mv: 0.0,
            t_ref_ms: 0.0,
            e_ex_mv: 0.0,
            e_in_mv: -85.0,
            tau_syn_ex_ms: 0.2,
            tau_syn_in_ms: 2.0,
            i_e_pa: 0.0,
        }
    }
}

/// The neuron model of a population, with its parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case", from = "ModelRepr")]
pub enum NeuronModel {
    /// Current-based LIF with exponential synapses, exact integration.
    LifExp(LifExpParams),
    /// LIF with delta synapses, exact integration.
    LifDelta(LifDeltaParams),
    /// Discrete "beta" LIF of training frameworks.
    LifBeta(LifBetaParams),
    /// Loihi's integer LIF.
    LoihiLif(LoihiLifParams),
    /// Conductance-based LIF with exponential synapses (NEST `iaf_cond_exp`).
    LifCondExp(LifCondExpParams),
    /// Izhikevich's simple model, RK4 at the engine's step.
    Izhikevich(IzhikevichParams),
    /// Adaptive exponential integrate-and-fire with conductance synapses (NEST `aeif_cond_exp`).
    Adex(AdexParams),
    /// A population without dynamics that emits the spikes given to it (by a `spike_array` or
    /// `poisson` stimulus in the spec, or at run time): the input layer of a network.
    Input,
}

impl NeuronModel {
    /// The adaptive-threshold block of a `lif_exp` or `lif_cond_exp` model, if it has one.
    pub fn adaptive_threshold(&self) -> Option<&AdaptiveThreshold> {
        match self {
            NeuronModel::LifExp(p) => p.adaptive_threshold.as_ref(),
            NeuronModel::LifCondExp(p) => p.adaptive_threshold.as_ref(),
            _ => None,
        }
    }

    /// Short name used in specs and reports (`lif_exp`, `lif_delta`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            NeuronModel::LifExp(_) => "lif_exp",
            NeuronModel::LifDelta(_) => "lif_delta",
            NeuronModel::LifBeta(_) => "lif_beta",
            NeuronModel::LoihiLif(_) => "loihi_lif",
            NeuronModel::LifCondExp(_) => "lif_cond_exp",
            NeuronModel::Izhikevich(_) => "izhikevich",
            NeuronModel::Adex(_) => "adex",
            NeuronModel::Input => "input",
        }
    }

    /// The resting value of the membrane variable in the model's unit (mV, dimensionless or
    /// integer), used when a population gives no `v_init`.
    pub fn resting_v(&self) -> f64 {
        match self {
            NeuronModel::LifExp(p) => p.e_l_mv,
            NeuronModel::LifDelta(p) => p.e_l_mv,
            NeuronModel::LifCondExp(p) => p.e_l_mv,
            NeuronModel::Izhikevich(p) => p.c_mv,
            NeuronModel::Adex(p) => p.e_l_mv,
            NeuronModel::LifBeta(_) | NeuronModel::LoihiLif(_) | NeuronModel::Input => 0.0,
        }
    }
}

/// What a spec's `neuron` table is read as: the same as [`NeuronModel`], except that `input` is a
/// table too, so that a field given to it (`{ model = "input", bogus = 1 }`) is refused like an
/// unknown field of any other model instead of being ignored.
#[derive(Deserialize)]
#[serde(tag = "model", rename_all = "snake_case")]
enum ModelRepr {
    LifExp(LifExpParams),
    LifDelta(LifDeltaParams),
    LifBeta(LifBetaParams),
    LoihiLif(LoihiLifParams),
    LifCondExp(LifCondExpParams),
    Izhikevich(IzhikevichParams),
    Adex(AdexParams),
    Input(NoParams),
}

impl From<ModelRepr> for NeuronModel {
    fn from(r: ModelRepr) -> Self {
        match r {
            ModelRepr::LifExp(p) => NeuronModel::LifExp(p),
            ModelRepr::LifDelta(p) => NeuronModel::LifDelta(p),
            ModelRepr::LifBeta(p) => NeuronModel::LifBeta(p),
            ModelRepr::LoihiLif(p) => NeuronModel::LoihiLif(p),
            ModelRepr::LifCondExp(p) => NeuronModel::LifCondExp(p),
            ModelRepr::Izhikevich(p) => NeuronModel::Izhikevich(p),
            ModelRepr::Adex(p) => NeuronModel::Adex(p),
            ModelRepr::Input(NoParams) => NeuronModel::Input,
        }
    }
}

/// The (absent) parameters of the `input` model: any field is an error.
struct NoParams;

impl<'de> Deserialize<'de> for NoParams {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = NoParams;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("no parameters for model \"input\"")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<NoParams, A::Error> {
                match m.next_key::<String>()? {
                    None => Ok(NoParams),
                    Some(k) => Err(serde::de::Error::custom(format!(
                        "unknown field `{k}`: model \"input\" takes no parameters"
                    ))),
                }
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<NoParams, E> {
                Ok(NoParams)
            }
        }
        d.deserialize_map(V)
    }
}
