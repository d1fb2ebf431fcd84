//! Shape arithmetic of convolution and pooling projections, shared by the engine, the chip model,
//! the trainer and the NIR importer so that every crate agrees on which source neuron reaches
//! which target through which kernel weight.
//!
//! A population with a shape `[C, H, W]` numbers its neurons channel-major, row-major:
//! neuron `(c, y, x)` has local index `(c * H + y) * W + x` (PyTorch's `NCHW` without the batch).
//!
//! A [`ConvGeometry`] describes a 2-D cross-correlation (PyTorch's `Conv2d`): target
//! `(co, oy, ox)` receives from source `(ci, iy, ix)` through kernel weight
//! `K[co][ci - g * C_in/groups][ky][kx]` when `ci` is in `co`'s group `g` and
//! `iy = oy * stride_y - pad_y + ky * dilation_y` (likewise for x). Pooling is the depthwise case
//! (`groups = C`, one output channel per input channel) with one shared weight.
//!
//! ```
//! use snn_types::conv::ConvGeometry;
//!
//! // 1 x 5 x 5 input, 2 output channels, 3x3 kernel, stride 1, no padding -> 2 x 3 x 3.
//! let g = ConvGeometry::new([1, 5, 5], 2, [3, 3], [1, 1], [0, 0], [1, 1], 1).unwrap();
//! assert_eq!(g.out_shape(), [2, 3, 3]);
//! let mut reached = Vec::new();
//! g.for_each_target(0, |target, k| reached.push((target, k))); // the corner (0, 0, 0)
//! assert_eq!(reached, vec![(0, 0), (9, 9)]); // (co 0, oy 0, ox 0) via K[0][0][0][0], co 1 via K[1][0][0][0]
//! ```

use serde::{Deserialize, Serialize};

/// Largest neuron count of a shaped population or of a conv projection's output (the engine
/// numbers neurons with `u32`).
const MAX_NEURONS: u64 = u32::MAX as u64;

/// How a pooling projection combines its window. (The variant order is part of the checkpoint
/// format of `snn-learn`, which stores it with postcard: do not reorder.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PoolMode {
    /// Each target receives the projection's weight divided by the window's area
    /// (`kh * kw`, padding included, as PyTorch's `count_include_pad = true`).
    Average,
    /// Each target receives the projection's weight from every source of its window.
    #[default]
    Sum,
}

impl PoolMode {
    /// `sum` or `average`.
    pub fn name(self) -> &'static str {
        match self {
            PoolMode::Sum => "sum",
            PoolMode::Average => "average",
        }
    }
}

/// The geometry of a 2-D convolution between a `[C_in, H, W]` source and a
/// `[C_out, H_out, W_out]` target. Construct with [`ConvGeometry::new`], which checks every
/// relation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeometry {
    in_shape: [u32; 3],
    out_shape: [u32; 3],
    kernel: [u32; 2],
    stride: [u32; 2],
    padding: [u32; 2],
    dilation: [u32; 2],
    groups: u32,
}

/// Output length of one axis (as `u64`: a huge padding can make it exceed `u32`), or `None` when
/// the dilated kernel does not fit the padded input.
fn out_len(n: u32, k: u32, s: u32, p: u32, d: u32) -> Option<u64> {
    let padded = n as u64 + 2 * p as u64;
    let extent = d as u64 * (k as u64 - 1) + 1;
    if extent > padded {
        return None;
    }
    Some((padded - extent) / s as u64 + 1)
}

impl ConvGeometry {
    /// Checks the relations and computes the output shape. The message names the parameter:
    /// `stride must be at least 1`, `groups (3) must divide the input channels (4)`,
    /// `kernel 7 (dilated extent 7) is larger than the padded input height 5`, ...
    pub fn new(
        in_shape: [u32; 3],
        out_channels: u32,
        kernel: [u32; 2],
        stride: [u32; 2],
        padding: [u32; 2],
        dilation: [u32; 2],
        groups: u32,
    ) -> Result<Self, String> {
        let [c, h, w] = in_shape;
        if c == 0 || h == 0 || w == 0 {
            return Err(format!("in_shape {in_shape:?} has a zero dimension"));
        }
        for (name, v) in [
            ("kernel", kernel),
            ("stride", stride),
            ("dilation", dilation),
        ] {
            if v[0] == 0 || v[1] == 0 {
                return Err(format!("{name} must be at least 1 in both axes, got {v:?}"));
            }
        }
        if out_channels == 0 {
            return Err("out_channels must be at least 1".into());
        }
        if groups == 0 {
            return Err("groups must be at least 1".into());
        }
        if !c.is_multiple_of(groups) {
            return Err(format!(
                "groups ({groups}) must divide the input channels ({c})"
            ));
        }
        if !out_channels.is_multiple_of(groups) {
            return Err(format!(
                "groups ({groups}) must divide out_channels ({out_channels})"
            ));
        }
        let mut out = [out_channels, 0, 0];
        for (a, (axis, n)) in [("height", h), ("width", w)].into_iter().enumerate() {
            let len = out_len(n, kernel[a], stride[a], padding[a], dilation[a]).ok_or_else(
                || {
                    let extent = dilation[a] as u64 * (kernel[a] as u64 - 1) + 1;
                    format!(
                        "kernel {} (dilated extent {extent}) is larger than the padded input {axis} {} ({n} + 2 x {})",
                        kernel[a],
                        n as u64 + 2 * padding[a] as u64,
                        padding[a]
                    )
                },
            )?;
            // Checked here, not only through the product below: a padding of 2^31 or more
            // gives an output length beyond u32 that a cast would wrap to a small number.
            out[a + 1] = u32::try_from(len).map_err(|_| {
                format!(
                    "the output {axis} is {len} (input {n} + 2 x padding {}); the limit is {}",
                    padding[a],
                    u32::MAX
                )
            })?;
        }
        let n_out = out.iter().map(|&x| x as u64).product::<u64>();
        if n_out > MAX_NEURONS {
            return Err(format!(
                "the output has {n_out} neurons; the limit is {MAX_NEURONS}"
            ));
        }
        let k_len = out_channels as u64 * (c / groups) as u64 * kernel[0] as u64 * kernel[1] as u64;
        if k_len > MAX_NEURONS {
            return Err(format!(
                "the kernel has {k_len} weights; the limit is {MAX_NEURONS}"
            ));
        }
        Ok(Self {
            in_shape,
            out_shape: out,
            kernel,
            stride,
            padding,
            dilation,
            groups,
        })
    }

    /// A pooling window over each channel: the depthwise convolution with `kernel`, `stride` and
    /// `padding` (no dilation, `groups = C`).
    pub fn pool(
        in_shape: [u32; 3],
        kernel: [u32; 2],
        stride: [u32; 2],
        padding: [u32; 2],
    ) -> Result<Self, String> {
        Self::new(
            in_shape,
            in_shape[0],
            kernel,
            stride,
            padding,
            [1, 1],
            in_shape[0].max(1),
        )
    }

    /// `[C_in, H, W]`.
    pub fn in_shape(&self) -> [u32; 3] {
        self.in_shape
    }

    /// `[C_out, H_out, W_out]`.
    pub fn out_shape(&self) -> [u32; 3] {
        self.out_shape
    }

    /// `[kh, kw]`.
    pub fn kernel(&self) -> [u32; 2] {
        self.kernel
    }

    /// `[sy, sx]`.
    pub fn stride(&self) -> [u32; 2] {
        self.stride
    }

    /// `[py, px]` (zeros added on each side).
    pub fn padding(&self) -> [u32; 2] {
        self.padding
    }

    /// `[dy, dx]`.
    pub fn dilation(&self) -> [u32; 2] {
        self.dilation
    }

    /// Channel groups.
    pub fn groups(&self) -> u32 {
        self.groups
    }

    /// Input channels per group (the kernel's second dimension).
    pub fn in_per_group(&self) -> u32 {
        self.in_shape[0] / self.groups
    }

    /// Output channels per group.
    pub fn out_per_group(&self) -> u32 {
        self.out_shape[0] / self.groups
    }

    /// Source neurons (`C_in * H * W`).
    pub fn n_source(&self) -> usize {
        self.in_shape.iter().map(|&x| x as usize).product()
    }

    /// Target neurons (`C_out * H_out * W_out`).
    pub fn n_target(&self) -> usize {
        self.out_shape.iter().map(|&x| x as usize).product()
    }

    /// Kernel weights: `C_out * C_in/groups * kh * kw`.
    pub fn kernel_len(&self) -> usize {
        self.out_shape[0] as usize
            * self.in_per_group() as usize
            * self.kernel[0] as usize
            * self.kernel[1] as usize
    }

    /// The `(kernel offset, output coordinate)` pairs through which input coordinate `i` of one
    /// axis (0 = height, 1 = width) reaches the output, in ascending output coordinate.
    pub fn axis_taps(&self, axis: usize, i: u32) -> impl Iterator<Item = (u32, u32)> + '_ {
        let (k, s, p, d, n_out) = (
            self.kernel[axis],
            self.stride[axis],
            self.padding[axis] as i64,
            self.dilation[axis] as i64,
            self.out_shape[axis + 1] as i64,
        );
        (0..k).rev().filter_map(move |kk| {
            let num = i as i64 + p - kk as i64 * d;
            if num < 0 || num % s as i64 != 0 {
                return None;
            }
            let o = num / s as i64;
            (o < n_out).then_some((kk, o as u32))
        })
    }

    /// Calls `f(target, kernel_index)` for every target that source neuron `source` reaches,
    /// in ascending target order; `kernel_index` indexes the row-major
    /// `[C_out][C_in/groups][kh][kw]` kernel. Each (source, target) pair appears at most once.
    pub fn for_each_target(&self, source: u32, mut f: impl FnMut(u32, u32)) {
        let [_, h, w] = self.in_shape;
        let [_, oh, ow] = self.out_shape;
        let (ci, rest) = (source / (h * w), source % (h * w));
        let (iy, ix) = (rest / w, rest % w);
        let ipg = self.in_per_group();
        let opg = self.out_per_group();
        let (g, cil) = (ci / ipg, ci % ipg);
        let [kh, kw] = self.kernel;
        let ys: Vec<(u32, u32)> = self.axis_taps(0, iy).collect();
        let xs: Vec<(u32, u32)> = self.axis_taps(1, ix).collect();
        for co in g * opg..(g + 1) * opg {
            let kbase = (co * ipg + cil) * kh;
            for &(ky, oy) in &ys {
                let trow = (co * oh + oy) * ow;
                let krow = (kbase + ky) * kw;
                for &(kx, ox) in &xs {
                    f(trow + ox, krow + kx);
                }
            }
        }
    }

    /// Valid `(input, output, kernel offset)` triples of one axis, counted per kernel offset
    /// (`O(kernel)` arithmetic, not a loop over the input).
    fn axis_pairs(&self, axis: usize) -> u64 {
        let (n, k, s, p, d, n_out) = (
            self.in_shape[axis + 1] as i64,
            self.kernel[axis] as i64,
            self.stride[axis] as i64,
            self.padding[axis] as i64,
            self.dilation[axis] as i64,
            self.out_shape[axis + 1] as i64,
        );
        (0..k)
            .map(|kk| {
                // Input i = o * s + off must lie in [0, n).
                let off = kk * d - p;
                let lo = if off >= 0 { 0 } else { (-off + s - 1) / s };
                let hi = if n - 1 - off < 0 {
                    -1
                } else {
                    ((n - 1 - off) / s).min(n_out - 1)
                };
                (hi - lo + 1).max(0) as u64
            })
            .sum()
    }

    /// Synapses of the expanded projection (the number of (source, target) pairs).
    pub fn n_synapses(&self) -> u64 {
        // Pairs factorise over channels, rows and columns.
        self.in_shape[0] as u64
            * self.out_per_group() as u64
            * self.axis_pairs(0)
            * self.axis_pairs(1)
    }

    /// The most targets one source reaches (`C_out/groups * ceil(kh/sy) * ceil(kw/sx)` at most).
    pub fn max_fan_out(&self) -> u64 {
        let per_axis = |axis: usize| -> u64 {
            (0..self.in_shape[axis + 1])
                .map(|i| self.axis_taps(axis, i).count() as u64)
                .max()
                .unwrap_or(0)
        };
        self.out_per_group() as u64 * per_axis(0) * per_axis(1)
    }
}

/// `C * H * W` of a shape, as `u64`.
pub fn shape_len(shape: [u32; 3]) -> u64 {
    shape.iter().map(|&x| x as u64).product()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Brute force: every (source, target) pair by the definition, with its kernel index.
    fn brute(g: &ConvGeometry) -> Vec<(u32, u32, u32)> {
        let [ci_n, h, w] = g.in_shape();
        let [co_n, oh, ow] = g.out_shape();
        let [kh, kw] = g.kernel();
        let (s, p, d) = (g.stride(), g.padding(), g.dilation());
        let (ipg, opg) = (g.in_per_group(), g.out_per_group());
        let mut v = Vec::new();
        for co in 0..co_n {
            let grp = co / opg;
            for cil in 0..ipg {
                let ci = grp * ipg + cil;
                for oy in 0..oh {
                    for ox in 0..ow {
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let iy = (oy * s[0] + ky * d[0]) as i64 - p[0] as i64;
                                let ix = (ox * s[1] + kx * d[1]) as i64 - p[1] as i64;
                                if iy < 0 || ix < 0 || iy >= h as i64 || ix >= w as i64 {
                                    continue;
                                }
                                let src = (ci * h + iy as u32) * w + ix as u32;
                                let tgt = (co * oh + oy) * ow + ox;
                                let k = ((co * ipg + cil) * kh + ky) * kw + kx;
                                v.push((src, tgt, k));
                            }
                        }
                    }
                }
            }
        }
        let _ = ci_n;
        v.sort_unstable();
        v
    }

    #[test]
    fn targets_match_the_definition() {
        let cases = [
            ([1, 5, 5], 2, [3, 3], [1, 1], [0, 0], [1, 1], 1),
            ([4, 7, 6], 6, [3, 2], [2, 1], [1, 0], [1, 2], 2),
            ([3, 9, 9], 3, [2, 2], [2, 2], [0, 0], [1, 1], 3),
            ([2, 6, 8], 4, [5, 3], [3, 2], [2, 1], [1, 1], 1),
            ([4, 8, 8], 8, [3, 3], [1, 1], [2, 2], [2, 2], 4),
        ];
        for (i, c) in cases.into_iter().enumerate() {
            let g = ConvGeometry::new(c.0, c.1, c.2, c.3, c.4, c.5, c.6).unwrap();
            let mut got = Vec::new();
            for s in 0..g.n_source() as u32 {
                let mut last = None;
                g.for_each_target(s, |t, k| {
                    assert!(
                        last.is_none_or(|l| l < t),
                        "case {i}: targets not ascending"
                    );
                    last = Some(t);
                    got.push((s, t, k));
                });
            }
            got.sort_unstable();
            let want = brute(&g);
            assert_eq!(got, want, "case {i}");
            assert_eq!(g.n_synapses(), want.len() as u64, "case {i}");
            assert!(
                want.iter()
                    .all(|&(_, t, k)| (t as usize) < g.n_target() && (k as usize) < g.kernel_len())
            );
        }
    }

    #[test]
    fn output_shapes_follow_pytorch() {
        // PyTorch: floor((H + 2p - d(k-1) - 1) / s) + 1.
        let g = ConvGeometry::new([2, 34, 34], 12, [5, 5], [1, 1], [0, 0], [1, 1], 1).unwrap();
        assert_eq!(g.out_shape(), [12, 30, 30]);
        let p = ConvGeometry::pool([12, 30, 30], [2, 2], [2, 2], [0, 0]).unwrap();
        assert_eq!(p.out_shape(), [12, 15, 15]);
        let g = ConvGeometry::new([1, 28, 28], 8, [3, 3], [2, 2], [1, 1], [1, 1], 1).unwrap();
        assert_eq!(g.out_shape(), [8, 14, 14]);
    }

    #[test]
    fn bad_geometry_names_the_parameter() {
        let e = |r: Result<ConvGeometry, String>| r.unwrap_err();
        assert!(
            e(ConvGeometry::new(
                [1, 5, 5],
                2,
                [3, 3],
                [0, 1],
                [0, 0],
                [1, 1],
                1
            ))
            .contains("stride")
        );
        assert!(
            e(ConvGeometry::new(
                [3, 5, 5],
                2,
                [3, 3],
                [1, 1],
                [0, 0],
                [1, 1],
                2
            ))
            .contains("groups (2) must divide the input channels (3)")
        );
        assert!(
            e(ConvGeometry::new(
                [2, 5, 5],
                3,
                [3, 3],
                [1, 1],
                [0, 0],
                [1, 1],
                2
            ))
            .contains("out_channels")
        );
        assert!(
            e(ConvGeometry::new(
                [1, 5, 5],
                2,
                [7, 3],
                [1, 1],
                [0, 0],
                [1, 1],
                1
            ))
            .contains("larger than the padded input height")
        );
        assert!(
            e(ConvGeometry::new(
                [1, 5, 5],
                2,
                [3, 3],
                [1, 1],
                [0, 0],
                [3, 1],
                1
            ))
            .contains("dilated extent 7")
        );
        assert!(
            e(ConvGeometry::new(
                [1, 0, 5],
                2,
                [1, 1],
                [1, 1],
                [0, 0],
                [1, 1],
                1
            ))
            .contains("zero dimension")
        );
        assert!(
            e(ConvGeometry::new(
                [1, 5, 5],
                0,
                [1, 1],
                [1, 1],
                [0, 0],
                [1, 1],
                1
            ))
            .contains("out_channels")
        );
        assert!(
            e(ConvGeometry::new(
                [u32::MAX, 2, 2],
                u32::MAX,
                [1, 1],
                [1, 1],
                [0, 0],
                [1, 1],
                1
            ))
            .contains("limit")
        );
    }
}
