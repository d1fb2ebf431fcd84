//! Parameters of the spike-timing-dependent plasticity (STDP) rules, and the `plasticity` table
//! of a projection in a [`NetworkSpec`](crate::NetworkSpec).
//!
//! The rules themselves (traces, the engine hook, threads) live in `snn-learn`
//! (`snn_learn::stdp`, which re-exports these types); this module holds only what a spec file
//! names, so that every crate reads the same vocabulary and
//! [`NetworkSpec::validate`](crate::NetworkSpec::validate) can check a rule's parameters with the
//! path of each field.
//!
//! In a spec (TOML), a projection learns when it has a `plasticity` table:
//!
//! ```
//! use snn_types::{NetworkSpec, PlasticitySpec};
//!
//! let spec = NetworkSpec::from_toml_str(r#"
//!     dt_ms = 0.1
//!     [[populations]]
//!     name = "in"
//!     size = 100
//!     neuron = { model = "input" }
//!     [[populations]]
//!     name = "out"
//!     size = 1
//!     neuron = { model = "lif_exp" }
//!     [[projections]]
//!     source = "in"
//!     target = "out"
//!     connectivity = { rule = "all_to_all" }
//!     weight = 20.0
//!     [projections.plasticity]
//!     rule = "pair"
//!     a_plus = 0.2
//!     a_minus = 0.21
//!     bounds = { w_min = 0.0, w_max = 40.0 }
//! "#).unwrap();
//! spec.validate().unwrap();
//! let Some(PlasticitySpec::Pair(p)) = &spec.projections[0].plasticity else { panic!() };
//! assert_eq!(p.tau_plus_ms, 20.0); // unnamed fields keep Song et al.'s defaults
//! ```

use serde::{Deserialize, Serialize};

/// A rule parameter outside its valid range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid parameter {name}: {reason}")]
pub struct ParamError {
    /// The parameter's name (as in the struct, e.g. `tau_plus_ms`).
    pub name: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

/// `v` finite and `> 0`, else an error naming `name`.
pub fn check_pos(name: &'static str, v: f64) -> Result<(), ParamError> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(ParamError {
            name,
            reason: format!("must be finite and > 0, got {v}"),
        })
    }
}

/// `v` finite and `>= 0`, else an error naming `name`.
pub fn check_nonneg(name: &'static str, v: f64) -> Result<(), ParamError> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(ParamError {
            name,
            reason: format!("must be finite and >= 0, got {v}"),
        })
    }
}

/// How the weight change depends on the current weight `w` in `[w_min, w_max]`.
///
/// In a spec: `dependence = "additive"`, `"multiplicative"` or
/// `{ power_law = { mu = 0.4 } }`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WeightDependence {
    /// `f+(w) = f-(w) = 1`, then clipped to `[w_min, w_max]` (hard bounds; Song, Miller &
    /// Abbott 2000). Amplitudes are in weight units.
    Additive,
    /// Soft bounds: `f+(w) = w_max - w`, `f-(w) = w - w_min` (multiplicative, weight-dependent;
    /// van Rossum, Bi & Turrigiano 2000 for depression, Rubin, Lee & Sompolinsky 2001 for both).
    /// Amplitudes are rates per unit of weight.
    Multiplicative,
    /// `f+(w) = (w_max - w)^mu`, `f-(w) = (w - w_min)^mu` (Gütig et al. 2003): `mu = 0` is
    /// additive, `mu = 1` multiplicative.
    PowerLaw {
        /// The exponent, >= 0.
        mu: f64,
    },
}

// Written out (the same forms as the derived one) so that `dependence = "power_law"` without its
// exponent says how to write it, instead of serde's "invalid type: unit variant, expected
// struct variant".
impl<'de> Deserialize<'de> for WeightDependence {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{self, Error as _, VariantAccess};
        const VARIANTS: &[&str] = &["additive", "multiplicative", "power_law"];
        #[derive(Deserialize)]
        #[serde(rename_all = "snake_case")]
        enum Name {
            Additive,
            Multiplicative,
            PowerLaw,
        }
        struct Form;
        impl<'de> de::Visitor<'de> for Form {
            type Value = WeightDependence;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("\"additive\", \"multiplicative\" or { power_law = { mu = ... } }")
            }
            fn visit_enum<A: de::EnumAccess<'de>>(self, a: A) -> Result<Self::Value, A::Error> {
                let (name, form) = a.variant::<Name>()?;
                match name {
                    Name::Additive => form.unit_variant().map(|()| WeightDependence::Additive),
                    Name::Multiplicative => form
                        .unit_variant()
                        .map(|()| WeightDependence::Multiplicative),
                    Name::PowerLaw => form.struct_variant(&["mu"], Exponent).map_err(|e| {
                        if e.to_string().contains("unit variant") {
                            A::Error::custom(
                                "power_law needs its exponent: dependence = { power_law = { mu = 0.5 } }",
                            )
                        } else {
                            e
                        }
                    }),
                }
            }
        }
        struct Exponent;
        impl<'de> de::Visitor<'de> for Exponent {
            type Value = WeightDependence;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("{ mu = ... }")
            }
            fn visit_seq<S: de::SeqAccess<'de>>(self, mut s: S) -> Result<Self::Value, S::Error> {
                let mu = s
                    .next_element::<f64>()?
                    .ok_or_else(|| S::Error::invalid_length(0, &self))?;
                Ok(WeightDependence::PowerLaw { mu })
            }
            fn visit_map<M: de::MapAccess<'de>>(self, mut m: M) -> Result<Self::Value, M::Error> {
                let mut mu = None;
                while let Some(key) = m.next_key::<String>()? {
                    if key != "mu" {
                        return Err(M::Error::unknown_field(&key, &["mu"]));
                    }
                    if mu.is_some() {
                        return Err(M::Error::duplicate_field("mu"));
                    }
                    mu = Some(m.next_value::<f64>()?);
                }
                let mu = mu.ok_or_else(|| M::Error::missing_field("mu"))?;
                Ok(WeightDependence::PowerLaw { mu })
            }
        }
        d.deserialize_enum("WeightDependence", VARIANTS, Form)
    }
}

/// Which spike pairs interact (Morrison, Diesmann & Gerstner 2008, section 4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pairing {
    /// Every pre spike pairs with every earlier post spike and vice versa: a trace is bumped by
    /// 1 on each spike (`x <- x + 1`).
    AllToAll,
    /// Symmetric nearest-spike: each spike pairs only with the most recent spike of the other
    /// side: a trace is reset to 1 on each spike (`x <- 1`).
    Nearest,
}

/// Weight bounds `[w_min, w_max]`, in the units of the projection's weights.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bounds {
    /// Lower bound.
    pub w_min: f64,
    /// Upper bound.
    pub w_max: f64,
}

impl Default for Bounds {
    /// `[0, 1]`.
    fn default() -> Self {
        Self {
            w_min: 0.0,
            w_max: 1.0,
        }
    }
}

impl Bounds {
    /// Checks `w_min < w_max`, both finite.
    pub fn check(&self) -> Result<(), ParamError> {
        if !(self.w_min.is_finite() && self.w_max.is_finite() && self.w_min < self.w_max) {
            return Err(ParamError {
                name: "bounds",
                reason: format!(
                    "need finite w_min < w_max, got [{}, {}]",
                    self.w_min, self.w_max
                ),
            });
        }
        Ok(())
    }

    /// `f+(w)`, the potentiation factor of `dep`.
    #[inline]
    pub fn f_plus(&self, dep: WeightDependence, w: f64) -> f64 {
        match dep {
            WeightDependence::Additive => 1.0,
            WeightDependence::Multiplicative => (self.w_max - w).max(0.0),
            WeightDependence::PowerLaw { mu } => (self.w_max - w).max(0.0).powf(mu),
        }
    }

    /// `f-(w)`, the depression factor of `dep`.
    #[inline]
    pub fn f_minus(&self, dep: WeightDependence, w: f64) -> f64 {
        match dep {
            WeightDependence::Additive => 1.0,
            WeightDependence::Multiplicative => (w - self.w_min).max(0.0),
            WeightDependence::PowerLaw { mu } => (w - self.w_min).max(0.0).powf(mu),
        }
    }

    /// Clips to the bounds and rounds to f32 (the result never leaves the bounds).
    #[inline]
    pub fn clip(&self, w: f64) -> f32 {
        let lo = self.w_min as f32;
        let hi = self.w_max as f32;
        // Round first, then clamp in f32 so that rounding cannot push a weight out.
        let v = w as f32;
        if v.is_nan() { lo } else { v.clamp(lo, hi) }
    }
}

/// Parameters of pair-based STDP (`snn_learn::stdp::PairStdp`).
///
/// With traces `x_j` (presynaptic, `tau_plus_ms`) and `y_i` (postsynaptic, `tau_minus_ms`),
/// each decaying as `dx/dt = -x/tau` and bumped on a spike (see [`Pairing`]):
///
/// ```text
/// on a pre spike of j at t:   w_ij <- w_ij - a_minus * f-(w_ij) * y_i(t);   then bump x_j
/// on a post spike of i at t:  w_ij <- w_ij + a_plus  * f+(w_ij) * x_j(t);   then bump y_i
/// ```
///
/// For one pair, `dt = t_post - t_pre >= 0` gives `a_plus f+ exp(-dt/tau_plus)` and `dt < 0`
/// gives `-a_minus f- exp(dt/tau_minus)`: the exponential STDP window of Bi & Poo (1998) in the
/// trace formulation of Song, Miller & Abbott (2000) and Morrison et al. (2008). A pre and a
/// post spike in the same step count as pre-before-post (`dt = 0`), the engine's order.
///
/// In a spec every field may be left out: it then keeps the [`Default`] (Song et al.'s values).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PairParams {
    /// Potentiation amplitude `A+` (weight units for additive, a rate for soft bounds).
    pub a_plus: f64,
    /// Depression amplitude `A-`.
    pub a_minus: f64,
    /// Time constant of the presynaptic trace, ms.
    pub tau_plus_ms: f64,
    /// Time constant of the postsynaptic trace, ms.
    pub tau_minus_ms: f64,
    /// Weight bounds.
    pub bounds: Bounds,
    /// Weight dependence.
    pub dependence: WeightDependence,
    /// Spike pairing scheme.
    pub pairing: Pairing,
}

impl Default for PairParams {
    /// Song, Miller & Abbott (2000): `tau+ = tau- = 20 ms`, `A- / A+ = 1.05`, additive with hard
    /// bounds `[0, 1]`, `A+ = 0.005` (in units of `w_max`), all-to-all.
    fn default() -> Self {
        Self {
            a_plus: 0.005,
            a_minus: 0.00525,
            tau_plus_ms: 20.0,
            tau_minus_ms: 20.0,
            bounds: Bounds::default(),
            dependence: WeightDependence::Additive,
            pairing: Pairing::AllToAll,
        }
    }
}

impl PairParams {
    /// Every field out of its range (empty when all are fine), each named by its path within
    /// the table (`a_plus`, `bounds`, `dependence.power_law.mu`).
    pub fn problems(&self) -> Vec<ParamError> {
        let mut out = Vec::new();
        let mut take = |r: Result<(), ParamError>| out.extend(r.err());
        take(check_nonneg("a_plus", self.a_plus));
        take(check_nonneg("a_minus", self.a_minus));
        take(check_pos("tau_plus_ms", self.tau_plus_ms));
        take(check_pos("tau_minus_ms", self.tau_minus_ms));
        take(self.bounds.check());
        if let WeightDependence::PowerLaw { mu } = self.dependence {
            take(check_nonneg("dependence.power_law.mu", mu));
        }
        out
    }

    /// Checks every field: the first of [`problems`](Self::problems).
    pub fn validate(&self) -> Result<(), ParamError> {
        self.problems().into_iter().next().map_or(Ok(()), Err)
    }
}

/// Parameters of triplet STDP (`snn_learn::stdp::TripletStdp`; Pfister & Gerstner 2006,
/// J. Neurosci. 26(38):9673, eqs. 3-4).
///
/// Presynaptic traces `r1` (`tau_plus_ms`) and `r2` (`tau_x_ms`), postsynaptic traces `o1`
/// (`tau_minus_ms`) and `o2` (`tau_y_ms`), each `dr/dt = -r/tau` and bumped on a spike of its
/// neuron (`+1` all-to-all, reset to 1 nearest-spike):
///
/// ```text
/// pre spike of j at t:   w_ij <- w_ij - o1_i(t) [A2- + A3- r2_j(t-e)];  then bump r1_j, r2_j
/// post spike of i at t:  w_ij <- w_ij + r1_j(t) [A2+ + A3+ o2_i(t-e)];  then bump o1_i, o2_i
/// ```
///
/// `t-e` means the value just before this spike's own bump. Weights are clipped to `bounds`
/// (additive with hard bounds). The presets are the published parameter sets of Table 4 of the
/// paper, fitted to visual cortex (Sjöström et al. 2001) and hippocampal (Wang et al. 2005)
/// data; "minimal" sets have `A3- = 0` (and for visual cortex `A2+ = 0`), where `tau_x` is
/// irrelevant. Amplitudes are relative weight changes for a weight of 1: scale them (and the
/// bounds) to your weight units.
///
/// In a spec every field may be left out: it then keeps the [`Default`], the visual-cortex
/// all-to-all minimal set ([`TripletParams::visual_cortex_minimal`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TripletParams {
    /// Pair potentiation amplitude `A2+`.
    pub a2_plus: f64,
    /// Triplet potentiation amplitude `A3+`.
    pub a3_plus: f64,
    /// Pair depression amplitude `A2-`.
    pub a2_minus: f64,
    /// Triplet depression amplitude `A3-`.
    pub a3_minus: f64,
    /// Time constant of `r1`, ms.
    pub tau_plus_ms: f64,
    /// Time constant of `r2`, ms.
    pub tau_x_ms: f64,
    /// Time constant of `o1`, ms.
    pub tau_minus_ms: f64,
    /// Time constant of `o2`, ms.
    pub tau_y_ms: f64,
    /// Weight bounds (hard).
    pub bounds: Bounds,
    /// Spike interaction: all-to-all or nearest-spike (applies to all four traces).
    pub pairing: Pairing,
}

impl Default for TripletParams {
    /// [`TripletParams::visual_cortex_minimal`].
    fn default() -> Self {
        Self::visual_cortex_minimal()
    }
}

impl TripletParams {
    #[allow(clippy::too_many_arguments)]
    fn table4(
        pairing: Pairing,
        tau_x_ms: f64,
        tau_y_ms: f64,
        a2_plus: f64,
        a3_plus: f64,
        a2_minus: f64,
        a3_minus: f64,
    ) -> Self {
        Self {
            a2_plus,
            a3_plus,
            a2_minus,
            a3_minus,
            tau_plus_ms: 16.8,
            tau_x_ms,
            tau_minus_ms: 33.7,
            tau_y_ms,
            bounds: Bounds::default(),
            pairing,
        }
    }

    /// Visual cortex, all-to-all, minimal model: `tau_y = 125 ms`, `A2+ = 0`, `A3+ = 6.5e-3`,
    /// `A2- = 7.1e-3`, `A3- = 0` (`tau+ = 16.8`, `tau- = 33.7 ms` for every set).
    pub fn visual_cortex_minimal() -> Self {
        Self::table4(Pairing::AllToAll, 101.0, 125.0, 0.0, 6.5e-3, 7.1e-3, 0.0)
    }

    /// Visual cortex, nearest-spike, minimal model: `tau_y = 40 ms`, `A2+ = 0`, `A3+ = 5.2e-2`,
    /// `A2- = 8e-3`, `A3- = 0`.
    pub fn visual_cortex_nearest_minimal() -> Self {
        Self::table4(Pairing::Nearest, 714.0, 40.0, 0.0, 5.2e-2, 8e-3, 0.0)
    }

    /// Visual cortex, all-to-all, full model: `tau_x = 101`, `tau_y = 125 ms`, `A2+ = 5e-10`,
    /// `A3+ = 6.2e-3`, `A2- = 7e-3`, `A3- = 2.3e-4`.
    pub fn visual_cortex_full() -> Self {
        Self::table4(Pairing::AllToAll, 101.0, 125.0, 5e-10, 6.2e-3, 7e-3, 2.3e-4)
    }

    /// Visual cortex, nearest-spike, full model: `tau_x = 714`, `tau_y = 40 ms`,
    /// `A2+ = 8.8e-11`, `A3+ = 5.3e-2`, `A2- = 6.6e-3`, `A3- = 3.1e-3`.
    pub fn visual_cortex_nearest_full() -> Self {
        Self::table4(
            Pairing::Nearest,
            714.0,
            40.0,
            8.8e-11,
            5.3e-2,
            6.6e-3,
            3.1e-3,
        )
    }

    /// Hippocampal culture, all-to-all, minimal model: `tau_y = 40 ms`, `A2+ = 5.3e-3`,
    /// `A3+ = 8e-3`, `A2- = 3.5e-3`, `A3- = 0`.
    pub fn hippocampal_minimal() -> Self {
        Self::table4(Pairing::AllToAll, 946.0, 40.0, 5.3e-3, 8e-3, 3.5e-3, 0.0)
    }

    /// Hippocampal culture, nearest-spike, minimal model: `tau_y = 48 ms`, `A2+ = 4.6e-3`,
    /// `A3+ = 9.1e-3`, `A2- = 3e-3`, `A3- = 0`.
    pub fn hippocampal_nearest_minimal() -> Self {
        Self::table4(Pairing::Nearest, 575.0, 48.0, 4.6e-3, 9.1e-3, 3e-3, 0.0)
    }

    /// The rule of Diehl & Cook's published code (their "triplet" STDP with nearest-spike
    /// traces): `tau_plus = 20` (pre), `tau_minus = 20` (post1), `tau_y = 40 ms` (post2),
    /// `A2+ = 0`, `A3+ = nu_post = 0.01`, `A2- = nu_pre = 1e-4`, `A3- = 0`, bounds `[0, 1]`.
    pub fn diehl_cook() -> Self {
        Self {
            a2_plus: 0.0,
            a3_plus: 0.01,
            a2_minus: 1e-4,
            a3_minus: 0.0,
            tau_plus_ms: 20.0,
            tau_x_ms: 20.0,
            tau_minus_ms: 20.0,
            tau_y_ms: 40.0,
            bounds: Bounds::default(),
            pairing: Pairing::Nearest,
        }
    }

    /// Every field out of its range (empty when all are fine), each named as in the table.
    pub fn problems(&self) -> Vec<ParamError> {
        let mut out = Vec::new();
        let mut take = |r: Result<(), ParamError>| out.extend(r.err());
        take(check_nonneg("a2_plus", self.a2_plus));
        take(check_nonneg("a3_plus", self.a3_plus));
        take(check_nonneg("a2_minus", self.a2_minus));
        take(check_nonneg("a3_minus", self.a3_minus));
        take(check_pos("tau_plus_ms", self.tau_plus_ms));
        take(check_pos("tau_x_ms", self.tau_x_ms));
        take(check_pos("tau_minus_ms", self.tau_minus_ms));
        take(check_pos("tau_y_ms", self.tau_y_ms));
        take(self.bounds.check());
        out
    }

    /// Checks every field: the first of [`problems`](Self::problems).
    pub fn validate(&self) -> Result<(), ParamError> {
        self.problems().into_iter().next().map_or(Ok(()), Err)
    }
}

/// The learning rule of a plastic projection in a spec (`[projections.plasticity]`, tagged by
/// `rule`). The engine of `snn-core` builds the projection with static weights; the rule is
/// attached by `snn_learn::stdp::attach_spec_rules` (as `snn simulate` does), so that learning
/// runs in the threads that own the targets, bit-identical for any thread count.
///
/// Reward-modulated STDP is not offered here: it needs a reward signal, which a spec cannot
/// describe; attach `snn_learn::stdp::RewardStdp` from Rust.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum PlasticitySpec {
    /// Pair-based STDP ([`PairParams`]).
    Pair(PairParams),
    /// Triplet STDP ([`TripletParams`]).
    Triplet(TripletParams),
}

impl PlasticitySpec {
    /// The rule's name as written in a spec (`pair`, `triplet`).
    pub fn rule_name(&self) -> &'static str {
        match self {
            Self::Pair(_) => "pair",
            Self::Triplet(_) => "triplet",
        }
    }

    /// The weight bounds.
    pub fn bounds(&self) -> Bounds {
        match self {
            Self::Pair(p) => p.bounds,
            Self::Triplet(p) => p.bounds,
        }
    }

    /// Every parameter out of its range (see [`PairParams::problems`]).
    pub fn problems(&self) -> Vec<ParamError> {
        match self {
            Self::Pair(p) => p.problems(),
            Self::Triplet(p) => p.problems(),
        }
    }

    /// Checks every parameter (the first problem).
    pub fn validate(&self) -> Result<(), ParamError> {
        self.problems().into_iter().next().map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The written-out `Deserialize` reads what the derived `Serialize` writes, in a
    /// self-describing format (JSON) and in the binary one (postcard, as framed files use).
    #[test]
    fn dependence_round_trips_in_text_and_binary() {
        for d in [
            WeightDependence::Additive,
            WeightDependence::Multiplicative,
            WeightDependence::PowerLaw { mu: 0.375 },
        ] {
            let json = serde_json::to_string(&d).unwrap();
            assert_eq!(serde_json::from_str::<WeightDependence>(&json).unwrap(), d);
            let bytes = postcard::to_stdvec(&d).unwrap();
            assert_eq!(postcard::from_bytes::<WeightDependence>(&bytes).unwrap(), d);
        }
        assert!(postcard::from_bytes::<WeightDependence>(&[7]).is_err());
    }
}
