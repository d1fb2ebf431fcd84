//! Surrogate derivatives of the spike function.
//!
//! The forward pass spikes with the Heaviside step `H(x)` of `x = u - threshold`; the backward
//! pass replaces `H'(x)` (zero almost everywhere) with the derivative of a smooth stand-in:
//!
//! | surrogate | `grad(x)` | smooth counterpart `smooth(x)` |
//! |---|---|---|
//! | `fast-sigmoid:k` | `1 / (1 + k |x|)^2` | `x / (1 + k |x|)` (Zenke & Ganguli 2018; snnTorch's default, k = 25) |
//! | `arctan:a` | `(a / 2) / (1 + (pi a x / 2)^2)` | `atan(pi a x / 2) / pi + 1/2` |
//! | `sigmoid:k` | `k s (1 - s)`, `s = 1 / (1 + e^(-k x))` | `s` |
//! | `triangle:w` | `max(0, w - |x|) / w^2` | the piecewise quadratic whose derivative that is (0 below `-w`, 1 above `w`) |
//! | `ste` | `1` (straight-through) | `x` |

use std::f32::consts::PI;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A surrogate gradient of the spike nonlinearity.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Surrogate {
    /// Fast sigmoid with slope `k`.
    FastSigmoid(f32),
    /// Arctangent with scale `a`.
    Arctan(f32),
    /// Logistic sigmoid with slope `k`.
    Sigmoid(f32),
    /// Triangle of half-width `w`.
    Triangle(f32),
    /// Straight-through estimator.
    StraightThrough,
}

impl Default for Surrogate {
    fn default() -> Self {
        Surrogate::FastSigmoid(25.0)
    }
}

impl Surrogate {
    /// The surrogate derivative at `x = u - threshold`.
    #[inline]
    pub fn grad(&self, x: f32) -> f32 {
        match *self {
            Surrogate::FastSigmoid(k) => {
                let d = 1.0 + k * x.abs();
                1.0 / (d * d)
            }
            Surrogate::Arctan(a) => {
                let z = PI * a * x / 2.0;
                (a / 2.0) / (1.0 + z * z)
            }
            Surrogate::Sigmoid(k) => {
                let s = 1.0 / (1.0 + (-k * x).exp());
                k * s * (1.0 - s)
            }
            Surrogate::Triangle(w) => (w - x.abs()).max(0.0) / (w * w),
            Surrogate::StraightThrough => 1.0,
        }
    }

    /// The smooth function whose derivative [`grad`](Self::grad) is (in `f64` for accurate
    /// finite differences).
    pub fn smooth(&self, x: f64) -> f64 {
        match *self {
            Surrogate::FastSigmoid(k) => x / (1.0 + k as f64 * x.abs()),
            Surrogate::Arctan(a) => {
                (std::f64::consts::PI * a as f64 * x / 2.0).atan() / std::f64::consts::PI + 0.5
            }
            Surrogate::Sigmoid(k) => 1.0 / (1.0 + (-(k as f64) * x).exp()),
            Surrogate::Triangle(w) => {
                let w = w as f64;
                if x <= -w {
                    0.0
                } else if x >= w {
                    1.0
                } else {
                    0.5 + x / w - x * x.abs() / (2.0 * w * w)
                }
            }
            Surrogate::StraightThrough => x,
        }
    }
}

/// A surrogate written as `name[:parameter]` could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid surrogate '{0}': expected fast-sigmoid[:k], arctan[:a], sigmoid[:k], triangle[:w] or ste, with a positive parameter"
)]
pub struct ParseSurrogateError(pub String);

impl FromStr for Surrogate {
    type Err = ParseSurrogateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseSurrogateError(s.to_string());
        let (name, param) = match s.split_once(':') {
            Some((n, p)) => (n, Some(p.parse::<f32>().map_err(|_| err())?)),
            None => (s, None),
        };
        if param.is_some_and(|p| !(p.is_finite() && p > 0.0)) {
            return Err(err());
        }
        Ok(match name {
            "fast-sigmoid" | "fast_sigmoid" => Surrogate::FastSigmoid(param.unwrap_or(25.0)),
            "arctan" | "atan" => Surrogate::Arctan(param.unwrap_or(2.0)),
            "sigmoid" => Surrogate::Sigmoid(param.unwrap_or(5.0)),
            "triangle" => Surrogate::Triangle(param.unwrap_or(1.0)),
            "ste" | "straight-through" if param.is_none() => Surrogate::StraightThrough,
            _ => return Err(err()),
        })
    }
}

impl fmt::Display for Surrogate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Surrogate::FastSigmoid(k) => write!(f, "fast-sigmoid:{k}"),
            Surrogate::Arctan(a) => write!(f, "arctan:{a}"),
            Surrogate::Sigmoid(k) => write!(f, "sigmoid:{k}"),
            Surrogate::Triangle(w) => write!(f, "triangle:{w}"),
            Surrogate::StraightThrough => write!(f, "ste"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_surrogate_is_the_derivative_of_its_smooth_counterpart() {
        let all = [
            Surrogate::FastSigmoid(25.0),
            Surrogate::FastSigmoid(2.0),
            Surrogate::Arctan(2.0),
            Surrogate::Sigmoid(5.0),
            Surrogate::Triangle(1.0),
            Surrogate::Triangle(0.3),
            Surrogate::StraightThrough,
        ];
        for s in all {
            for i in -40..=40 {
                let x = i as f64 * 0.037 + 0.0011; // avoid the kinks at exactly 0 and +-w
                let h = 1e-5;
                let fd = (s.smooth(x + h) - s.smooth(x - h)) / (2.0 * h);
                let g = s.grad(x as f32) as f64;
                assert!(
                    (fd - g).abs() <= 1e-3 * g.abs().max(1.0),
                    "{s} at {x}: grad {g} vs finite difference {fd}"
                );
            }
        }
    }

    #[test]
    fn parse_and_display_round_trip() {
        for text in [
            "fast-sigmoid:25",
            "arctan:2",
            "sigmoid:5",
            "triangle:0.5",
            "ste",
        ] {
            let s: Surrogate = text.parse().unwrap();
            assert_eq!(s.to_string().parse::<Surrogate>().unwrap(), s);
        }
        assert_eq!(
            "fast-sigmoid".parse::<Surrogate>().unwrap(),
            Surrogate::FastSigmoid(25.0)
        );
        for bad in [
            "fast-sigmoid:-1",
            "cosine",
            "arctan:x",
            "ste:3",
            "sigmoid:nan",
        ] {
            assert!(bad.parse::<Surrogate>().is_err(), "{bad}");
        }
    }
}
