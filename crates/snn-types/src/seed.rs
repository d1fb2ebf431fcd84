//! Seed mixing: the one bit mixer every crate derives its random streams from.
//!
//! Every random stream of the toolkit (connectivity, weights, initial state and stimuli in the
//! engine and the chip model, encoders' per-sample streams, the STDP classifier's draws) is seeded
//! from a fixed mixing of the user's seed with small integers that name the stream. This module
//! holds that mixer, so that all of them stay one function: changing it changes every stream, and
//! the golden-raster tests fail loudly.

/// SplitMix64's output function (Steele, Lea & Flood 2014): a bijective 64-bit mixer with full
/// avalanche. `mix64(z)` adds the golden-ratio increment, then applies the finaliser.
///
/// ```
/// use snn_types::seed::mix64;
/// assert_eq!(mix64(0), 0xE220_A839_7B1D_CDAF); // SplitMix64's first output for state 0
/// assert_ne!(mix64(1), mix64(2));
/// ```
#[inline(always)]
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
