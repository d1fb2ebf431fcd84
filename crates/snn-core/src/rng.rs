//! Seeded random streams.
//!
//! Two kinds, both derived only from the spec's seed so that results never depend on the thread
//! count or on the order in which streams are consumed:
//!
//! * **Sequential streams** ([`stream`]): one `Xoshiro256PlusPlus` per purpose (connectivity of
//!   projection 3, weights of projection 3, initial state of population 1, ...), seeded from a
//!   fixed mixing of `(seed, kind, index)`. `rand`'s `Xoshiro256PlusPlus` is documented as
//!   portable; `rand` is pinned exactly and a golden-raster test catches any stream change.
//! * **Counter-based draws** ([`uniform_at`]): a stateless hash of `(seed, stream, step, neuron)`
//!   (SplitMix64's finaliser applied in a chain), used by stimuli that run inside the parallel step
//!   loop. Any neuron's draw at any step is the same whichever thread computes it.

use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;

pub use snn_types::seed::mix64;

/// What a sequential stream is used for; part of its seed so streams never collide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub enum StreamKind {
    /// Which synapses a projection has.
    Connectivity = 1,
    /// Weights and delays of a projection's synapses.
    WeightsDelays = 2,
    /// Initial state of a population.
    InitialState = 3,
    /// Per-step draws of a stimulus (counter-based).
    Stimulus = 4,
}

/// A sequential generator for `(seed, kind, index)`.
pub fn stream(seed: u64, kind: StreamKind, index: u64) -> Xoshiro256PlusPlus {
    let key = mix64(mix64(mix64(seed) ^ (kind as u64)) ^ index);
    Xoshiro256PlusPlus::seed_from_u64(key)
}

/// The key of a counter-based stream, to be passed to [`uniform_at`].
pub fn counter_key(seed: u64, kind: StreamKind, index: u64) -> u64 {
    mix64(mix64(mix64(seed ^ 0xA5A5_A5A5_5A5A_5A5A) ^ (kind as u64)) ^ index)
}

/// A uniform draw in `[0, 1)` with 53 random bits, a pure function of `(key, step, neuron)`.
#[inline(always)]
pub fn uniform_at(key: u64, step: u64, neuron: u32) -> f64 {
    let h = mix64(mix64(key ^ step) ^ neuron as u64);
    (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_uniforms_look_uniform() {
        let key = counter_key(42, StreamKind::Stimulus, 0);
        let n = 200_000u32;
        let mut sum = 0.0;
        let mut bins = [0u32; 10];
        for i in 0..n {
            let u = uniform_at(key, (i / 100) as u64, i % 100);
            assert!((0.0..1.0).contains(&u));
            sum += u;
            bins[(u * 10.0) as usize] += 1;
        }
        let mean = sum / n as f64;
        assert!((mean - 0.5).abs() < 0.005, "mean {mean}");
        for b in bins {
            // expected 20000, sd ~134
            assert!((b as i64 - 20_000).abs() < 800, "bins {bins:?}");
        }
    }

    #[test]
    fn streams_differ_by_kind_and_index() {
        use rand::Rng;
        let a = stream(1, StreamKind::Connectivity, 0).next_u64();
        let b = stream(1, StreamKind::Connectivity, 1).next_u64();
        let c = stream(1, StreamKind::WeightsDelays, 0).next_u64();
        let d = stream(1, StreamKind::Connectivity, 0).next_u64();
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(a, d);
    }
}
