//! Loihi's CUBA LIF in integer arithmetic, as the chip's soma stage runs it.
//!
//! ```text
//! u[t] = wrap24( rtz(u[t-1] * (4096 - du - 1), 12) + (a_in << 6) )
//! v[t] = clip( rtz(v[t-1] * (4096 - dv), 12) + u[t] + (bias_mant << bias_exp), -(2^23-1), 2^23-1 )
//! spike when v[t] > vth_mant << 6; then v[t] = 0 (u is not reset)
//! ```
//!
//! This is an independent implementation of the contract `snn-core` also implements
//! (`snn_core::neuron::loihi_step`); the test suite checks the two against each other and against
//! Lava's golden vectors.

use snn_types::LoihiLifParams;

/// Largest magnitude of `v` (signed 24-bit, symmetric).
pub const V_MAX: i32 = (1 << 23) - 1;

/// Division by 4096 rounding toward zero.
#[inline(always)]
pub fn rtz12(x: i64) -> i64 {
    let q = x.abs() >> 12;
    if x < 0 { -q } else { q }
}

/// Two's-complement wrap to 24 bits.
#[inline(always)]
pub fn wrap24(x: i64) -> i32 {
    let m = x & 0xFF_FFFF;
    if m & 0x80_0000 != 0 {
        (m - 0x100_0000) as i32
    } else {
        m as i32
    }
}

/// Precomputed per-population constants of the soma stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SomaParams {
    /// `4096 - du - 1`.
    pub u_keep: i64,
    /// `4096 - dv`.
    pub v_keep: i64,
    /// `bias_mant << bias_exp`.
    pub bias: i64,
    /// `vth_mant << 6`.
    pub vth: i64,
}

impl SomaParams {
    /// From the spec's parameters.
    pub fn new(p: &LoihiLifParams) -> Self {
        Self {
            u_keep: 4096 - p.du as i64 - 1,
            v_keep: 4096 - p.dv as i64,
            bias: (p.bias_mant as i64) << p.bias_exp,
            vth: (p.vth_mant as i64) << 6,
        }
    }

    /// One step of one compartment: the new `(u, v, spiked)`.
    #[inline(always)]
    pub fn step(&self, u: i32, v: i32, a_in: i32) -> (i32, i32, bool) {
        let u1 = wrap24(rtz12(u as i64 * self.u_keep) + ((a_in as i64) << 6));
        let v1 = (rtz12(v as i64 * self.v_keep) + u1 as i64 + self.bias)
            .clamp(-(V_MAX as i64), V_MAX as i64);
        if v1 > self.vth {
            (u1, 0, true)
        } else {
            (u1, v1 as i32, false)
        }
    }
}

/// One step of Loihi's CUBA LIF: the new `(u, v, spiked)`.
pub fn loihi_step(p: &LoihiLifParams, u: i32, v: i32, a_in: i32) -> (i32, i32, bool) {
    SomaParams::new(p).step(u, v, a_in)
}
