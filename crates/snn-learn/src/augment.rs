//! Training-time data augmentation: random translations of the input maps.
//!
//! [`Augment::shift`] moves every training sample, in every epoch, by an offset `(dy, dx)`
//! drawn uniformly from `-shift..=shift` on each axis; pixels moved off the map are dropped and
//! the uncovered border is zero (no input). The offset of sample `i` in an epoch is drawn from
//! a stream keyed by the epoch's seed and `i` alone ([`Augment::offset`]), so it does not depend
//! on the batch, the shard or the thread count, and a resumed run draws the same offsets. The
//! same shift applies to every step and channel of a sample (an N-MNIST recording moves as a
//! whole, both polarities together). Evaluation never augments.

use std::fmt;
use std::str::FromStr;

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

use crate::model::Input;

/// A training-time augmentation (see the module documentation). The default does nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Augment {
    /// Largest translation in pixels along each axis (0: none).
    pub shift: usize,
}

/// An augmentation string that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown augmentation `{0}`: expected none or shift:N (N pixels, e.g. shift:2)")]
pub struct ParseAugmentError(pub String);

impl FromStr for Augment {
    type Err = ParseAugmentError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseAugmentError(s.to_string());
        if s == "none" {
            return Ok(Self::default());
        }
        let n = s.strip_prefix("shift:").ok_or_else(err)?;
        let shift = n.parse::<usize>().map_err(|_| err())?;
        Ok(Self { shift })
    }
}

impl fmt::Display for Augment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_none() {
            f.write_str("none")
        } else {
            write!(f, "shift:{}", self.shift)
        }
    }
}

impl Augment {
    /// True when the augmentation leaves every input unchanged.
    pub fn is_none(&self) -> bool {
        self.shift == 0
    }

    /// The translation `(dy, dx)` of sample `sample` in the epoch keyed by `epoch_seed`, each in
    /// `-shift..=shift`.
    pub fn offset(&self, epoch_seed: u64, sample: usize) -> (isize, isize) {
        if self.shift == 0 {
            return (0, 0);
        }
        let key = (epoch_seed ^ 0xA06_3E47_0000_0000)
            .wrapping_add((sample as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(key);
        let s = self.shift as i64;
        let dy = rng.random_range(-s..=s) as isize;
        (dy, rng.random_range(-s..=s) as isize)
    }

    /// Translates, in place, the input of the samples `idx` (a batch of `idx.len()` samples over
    /// `steps` steps, each sample a `shape = [C, H, W]` map flattened as `(c * H + y) * W + x`)
    /// by their offsets in the epoch keyed by `epoch_seed`. Spike lists stay sorted.
    pub fn apply(
        &self,
        input: &mut Input,
        idx: &[usize],
        steps: usize,
        shape: [usize; 3],
        epoch_seed: u64,
    ) {
        if self.is_none() || idx.is_empty() {
            return;
        }
        let [c, h, w] = shape;
        let n = c * h * w;
        let b = idx.len();
        let offs: Vec<(isize, isize)> = idx.iter().map(|&i| self.offset(epoch_seed, i)).collect();
        // The shifted position of input `j`, or None when it leaves the map.
        let moved = |j: usize, (dy, dx): (isize, isize)| -> Option<usize> {
            let (ch, rest) = (j / (h * w), j % (h * w));
            let y = (rest / w) as isize + dy;
            let x = (rest % w) as isize + dx;
            ((0..h as isize).contains(&y) && (0..w as isize).contains(&x))
                .then(|| (ch * h + y as usize) * w + x as usize)
        };
        let shift_rows = |x: &mut [f32], rows: usize| {
            let mut out = vec![0.0f32; n];
            for r in 0..rows {
                let row = &mut x[r * n..(r + 1) * n];
                out.fill(0.0);
                for (j, &v) in row.iter().enumerate() {
                    if let Some(k) = moved(j, offs[r % b]) {
                        out[k] = v;
                    }
                }
                row.copy_from_slice(&out);
            }
        };
        match input {
            Input::Static(x) => shift_rows(x, b),
            Input::Sequence(x) => shift_rows(x, steps * b),
            Input::Spikes {
                offsets,
                idx: active,
            } => {
                let mut new_off = Vec::with_capacity(offsets.len());
                new_off.push(0u32);
                let mut new_idx = Vec::with_capacity(active.len());
                for r in 0..offsets.len() - 1 {
                    let (lo, hi) = (offsets[r] as usize, offsets[r + 1] as usize);
                    // A translation keeps the order of the inputs that stay on the map.
                    new_idx.extend(
                        active[lo..hi]
                            .iter()
                            .filter_map(|&j| moved(j as usize, offs[r % b]).map(|k| k as u32)),
                    );
                    new_off.push(new_idx.len() as u32);
                }
                *offsets = new_off;
                *active = new_idx;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        assert_eq!("none".parse::<Augment>().unwrap(), Augment::default());
        assert_eq!("shift:2".parse::<Augment>().unwrap(), Augment { shift: 2 });
        assert_eq!(Augment { shift: 3 }.to_string(), "shift:3");
        assert_eq!(Augment::default().to_string(), "none");
        for bad in ["", "shift", "shift:", "shift:-1", "flip", "shift:x"] {
            assert!(bad.parse::<Augment>().is_err(), "{bad}");
        }
    }

    #[test]
    fn offsets_are_in_range_and_keyed_by_sample() {
        let a = Augment { shift: 2 };
        let mut seen = std::collections::HashSet::new();
        for i in 0..500 {
            let (dy, dx) = a.offset(7, i);
            assert!((-2..=2).contains(&dy) && (-2..=2).contains(&dx));
            assert_eq!(a.offset(7, i), (dy, dx));
            seen.insert((dy, dx));
        }
        assert_eq!(seen.len(), 25, "every offset occurs");
        assert_ne!(
            (0..50).map(|i| a.offset(7, i)).collect::<Vec<_>>(),
            (0..50).map(|i| a.offset(8, i)).collect::<Vec<_>>()
        );
    }

    #[test]
    fn static_and_spike_shifts_agree() {
        // 2 x 4 x 5 maps, 3 samples, 2 steps.
        let shape = [2, 4, 5];
        let n = 40;
        let idx = [3usize, 11, 12];
        let a = Augment { shift: 2 };
        let seed = 99;
        let dense: Vec<f32> = (0..idx.len() * n)
            .map(|j| if j % 3 == 0 { 1.0 } else { 0.0 })
            .collect();
        let mut st = Input::Static(dense.clone());
        a.apply(&mut st, &idx, 1, shape, seed);
        let Input::Static(shifted) = st else {
            unreachable!()
        };
        // Reference: direct indexing.
        for (b, &i) in idx.iter().enumerate() {
            let (dy, dx) = a.offset(seed, i);
            for c in 0..2 {
                for y in 0..4isize {
                    for x in 0..5isize {
                        let (sy, sx) = (y - dy, x - dx);
                        let want = if (0..4).contains(&sy) && (0..5).contains(&sx) {
                            dense[b * n + (c * 4 + sy as usize) * 5 + sx as usize]
                        } else {
                            0.0
                        };
                        let got = shifted[b * n + (c * 4 + y as usize) * 5 + x as usize];
                        assert_eq!(got, want);
                    }
                }
            }
        }
        // The same frames as spikes, two steps.
        let mut offsets = vec![0u32];
        let mut active = Vec::new();
        for _t in 0..2 {
            for b in 0..idx.len() {
                active.extend((0..n).filter(|j| dense[b * n + j] != 0.0).map(|j| j as u32));
                offsets.push(active.len() as u32);
            }
        }
        let mut sp = Input::Spikes {
            offsets,
            idx: active,
        };
        a.apply(&mut sp, &idx, 2, shape, seed);
        let Input::Spikes { offsets, idx: act } = sp else {
            unreachable!()
        };
        for t in 0..2 {
            for b in 0..idx.len() {
                let r = t * idx.len() + b;
                let got = &act[offsets[r] as usize..offsets[r + 1] as usize];
                let want: Vec<u32> = (0..n)
                    .filter(|&j| shifted[b * n + j] != 0.0)
                    .map(|j| j as u32)
                    .collect();
                assert_eq!(got, want.as_slice(), "step {t} sample {b}");
            }
        }
    }

    #[test]
    fn none_is_the_identity() {
        let mut x = Input::Static(vec![1.0, 2.0, 3.0, 4.0]);
        Augment::default().apply(&mut x, &[0], 1, [1, 2, 2], 5);
        assert_eq!(x, Input::Static(vec![1.0, 2.0, 3.0, 4.0]));
    }
}
