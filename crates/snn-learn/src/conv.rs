//! Convolution layers: configuration, geometry, kernel folding and the inner kernels of the
//! forward and backward passes.
//!
//! A conv layer maps its input (`C_in x H x W`, index `(c * H + y) * W + x`) through a kernel
//! `K` (`C_out x C_in x kh x kw`, no bias) with a stride and zero padding, optionally pools the
//! resulting **currents** (average `AP<k>` or sum `SP<k>`, kernel = stride = `k`), and feeds a
//! LIF population of shape `C_out x H' x W'` (as in snnTorch's `lif(pool(conv(x)))`).
//!
//! **Folding.** Average and sum pooling are linear, so conv followed by pool is one convolution
//! with a folded kernel: kernel `k + (P - 1) s`, stride `s P`, the same padding, and
//! `K'[o, i, y, x] = c * sum_{py, px < P} K[o, i, y - py s, x - px s]` (`c = 1 / P^2` for the
//! average, 1 for the sum; terms outside `K` are absent). The trainable parameter stays `K`; each
//! forward pass computes `K'` in a fixed summation order (`py`, then `px`, ascending, from zero)
//! and runs with `K'`, and the backward pass maps `dL/dK'` back to `dL/dK` with the exact linear
//! transpose of the folding. The exported network carries `K'`, so the engine computes the same
//! currents bit for bit.
//!
//! Max pooling of currents is not linear and not a synaptic operation: no projection of the
//! engine or the chip computes it, so it is refused (see [`crate::arch`]).

use serde::{Deserialize, Serialize};

/// How a conv layer's currents are pooled: the spec's own [`snn_types::PoolMode`]
/// (`Average` for `AP<k>`, `Sum` for `SP<k>`).
pub use snn_types::PoolMode;

/// Pooling of a conv layer's currents, kernel = stride = `size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pool {
    /// Average or sum.
    pub mode: PoolMode,
    /// Window side (and stride), at least 1.
    pub size: usize,
}

/// A conv layer's hyper-parameters (the input shape comes from the layer below).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConvConfig {
    /// Output channels.
    pub out_channels: usize,
    /// Kernel `[height, width]`.
    pub kernel: [usize; 2],
    /// Stride `[vertical, horizontal]`.
    pub stride: [usize; 2],
    /// Zero padding `[vertical, horizontal]` on each side.
    pub padding: [usize; 2],
    /// Optional pooling of the currents.
    pub pool: Option<Pool>,
}

/// The shape arithmetic of a convolution `in_shape -> out_shape` (kernel, stride, padding; no
/// dilation, one group).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeom {
    /// Input `[channels, height, width]`.
    pub in_shape: [usize; 3],
    /// Output `[channels, height, width]`.
    pub out_shape: [usize; 3],
    /// Kernel `[height, width]`.
    pub kernel: [usize; 2],
    /// Stride.
    pub stride: [usize; 2],
    /// Padding.
    pub padding: [usize; 2],
}

/// The most values a shape or kernel may have (a decoded checkpoint with more is refused).
const MAX_VALUES: usize = 1 << 31;

fn product(v: &[usize]) -> Option<usize> {
    v.iter()
        .try_fold(1usize, |a, &b| a.checked_mul(b))
        .filter(|&p| p <= MAX_VALUES)
}

impl ConvConfig {
    /// The configuration's own ranges: at least one output channel, kernel, stride and pool
    /// size at least 1.
    pub fn validate(&self) -> Result<(), String> {
        if self.out_channels == 0 {
            return Err("out_channels must be at least 1".into());
        }
        if self.kernel.contains(&0) {
            return Err("kernel sizes must be at least 1".into());
        }
        if self.stride.contains(&0) {
            return Err("strides must be at least 1".into());
        }
        if self.pool.is_some_and(|p| p.size == 0) {
            return Err("pool size must be at least 1".into());
        }
        if self
            .kernel
            .iter()
            .chain(&self.stride)
            .chain(&self.padding)
            .any(|&v| v > 1 << 16)
        {
            return Err("kernel, stride and padding must be at most 65536".into());
        }
        Ok(())
    }

    /// Values of the trainable kernel `K` for `in_channels` inputs: `C_out x C_in x kh x kw`.
    pub fn n_weights(&self, in_channels: usize) -> Option<usize> {
        product(&[
            self.out_channels,
            in_channels,
            self.kernel[0],
            self.kernel[1],
        ])
    }

    /// The geometry of the convolution alone (before pooling) on `in_shape`.
    pub fn conv_geom(&self, in_shape: [usize; 3]) -> Result<ConvGeom, String> {
        geom(
            in_shape,
            self.out_channels,
            self.kernel,
            self.stride,
            self.padding,
        )
    }

    /// The folded geometry (conv and pool as one convolution) on `in_shape`: what the forward
    /// pass runs and the export writes. Its output shape is the layer's shape.
    pub fn folded(&self, in_shape: [usize; 3]) -> Result<ConvGeom, String> {
        self.validate()?;
        let p = self.pool.map_or(1, |p| p.size);
        let conv = self.conv_geom(in_shape)?;
        if p > conv.out_shape[1] || p > conv.out_shape[2] {
            return Err(format!(
                "pool size {p} is larger than the conv output {} x {}",
                conv.out_shape[1], conv.out_shape[2]
            ));
        }
        let kernel = [
            self.kernel[0] + (p - 1) * self.stride[0],
            self.kernel[1] + (p - 1) * self.stride[1],
        ];
        let stride = [self.stride[0] * p, self.stride[1] * p];
        geom(in_shape, self.out_channels, kernel, stride, self.padding)
    }

    /// The pooling's scale and size: `(1 / P^2, P)` for the average, `(1, P)` for the sum,
    /// `(1, 1)` without pooling.
    fn pool_scale(&self) -> (f32, usize) {
        match self.pool {
            Some(Pool {
                mode: PoolMode::Average,
                size,
            }) => (1.0 / (size * size) as f32, size),
            Some(Pool {
                mode: PoolMode::Sum,
                size,
            }) => (1.0, size),
            None => (1.0, 1),
        }
    }

    /// Computes the folded kernel `K'` (`C_out x C_in x kh' x kw'`) from `k` into `out` (see
    /// the module docs for the formula and the summation order).
    pub fn fold_kernel(&self, in_channels: usize, k: &[f32], out: &mut Vec<f32>) {
        let (scale, p) = self.pool_scale();
        let [kh, kw] = self.kernel;
        let [sy, sx] = self.stride;
        let (fh, fw) = (kh + (p - 1) * sy, kw + (p - 1) * sx);
        let planes = self.out_channels * in_channels;
        out.clear();
        if p == 1 {
            out.extend_from_slice(&k[..planes * kh * kw]);
            return;
        }
        out.resize(planes * fh * fw, 0.0);
        for pl in 0..planes {
            let src = &k[pl * kh * kw..(pl + 1) * kh * kw];
            let dst = &mut out[pl * fh * fw..(pl + 1) * fh * fw];
            for fy in 0..fh {
                for fx in 0..fw {
                    let mut acc = 0.0f32;
                    for py in 0..p {
                        let Some(y) = fy.checked_sub(py * sy).filter(|&y| y < kh) else {
                            continue;
                        };
                        for px in 0..p {
                            if let Some(x) = fx.checked_sub(px * sx).filter(|&x| x < kw) {
                                acc += src[y * kw + x];
                            }
                        }
                    }
                    dst[fy * fw + fx] = acc * scale;
                }
            }
        }
    }

    /// Adds `dL/dK` to `dk` from `dL/dK'` (`dfold`): the transpose of [`fold_kernel`](Self::fold_kernel).
    pub fn unfold_grad(&self, in_channels: usize, dfold: &[f32], dk: &mut [f32]) {
        let (scale, p) = self.pool_scale();
        let [kh, kw] = self.kernel;
        let [sy, sx] = self.stride;
        let (fh, fw) = (kh + (p - 1) * sy, kw + (p - 1) * sx);
        let planes = self.out_channels * in_channels;
        for pl in 0..planes {
            let src = &dfold[pl * fh * fw..(pl + 1) * fh * fw];
            let dst = &mut dk[pl * kh * kw..(pl + 1) * kh * kw];
            for y in 0..kh {
                for x in 0..kw {
                    let mut acc = 0.0f32;
                    for py in 0..p {
                        for px in 0..p {
                            acc += src[(y + py * sy) * fw + x + px * sx];
                        }
                    }
                    dst[y * kw + x] += acc * scale;
                }
            }
        }
    }
}

fn geom(
    in_shape: [usize; 3],
    out_channels: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
) -> Result<ConvGeom, String> {
    if in_shape.contains(&0) || product(&in_shape).is_none() {
        return Err(format!("input shape {in_shape:?} is empty or absurd"));
    }
    // The shape arithmetic and its checks are the spec's (`snn_types::conv`), so the trainer,
    // the engine and the chip agree on every output shape.
    let u = |v: usize, what: &str| {
        u32::try_from(v).map_err(|_| format!("{what} {v} is too large (at most {})", u32::MAX))
    };
    let pair = |v: [usize; 2], what: &str| -> Result<[u32; 2], String> {
        Ok([u(v[0], what)?, u(v[1], what)?])
    };
    let g = snn_types::ConvGeometry::new(
        [
            u(in_shape[0], "input channels")?,
            u(in_shape[1], "input height")?,
            u(in_shape[2], "input width")?,
        ],
        u(out_channels, "out_channels")?,
        pair(kernel, "kernel")?,
        pair(stride, "stride")?,
        pair(padding, "padding")?,
        [1, 1],
        1,
    )?;
    let out = g.out_shape().map(|x| x as usize);
    if product(&out).is_none() {
        return Err(format!("output shape {out:?} is absurd"));
    }
    Ok(ConvGeom {
        in_shape,
        out_shape: out,
        kernel,
        stride,
        padding,
    })
}

/// No input position (the kernel tap lies in the padding).
pub(crate) const NONE: u32 = u32::MAX;

/// Index tables of a convolution, built once per forward pass.
#[derive(Debug, Default, Clone)]
pub(crate) struct Plan {
    /// Output positions `H' W'`.
    pub pout: usize,
    /// Kernel taps `kh kw`.
    pub khw: usize,
    /// Input positions `H W`.
    pub pin: usize,
    /// Channels in and out.
    pub cin: usize,
    pub cout: usize,
    /// For output position `p` and tap `k`: the input position `p * khw + k`, or [`NONE`].
    pub pk2q: Vec<u32>,
    /// For input position `q`: the `(output position, tap)` pairs it reaches,
    /// `fwd[fwd_off[q]..fwd_off[q + 1]]`, ascending in the output position.
    pub fwd_off: Vec<u32>,
    pub fwd: Vec<(u32, u32)>,
}

impl Plan {
    pub fn new(g: &ConvGeom) -> Plan {
        let [cin, h, w] = g.in_shape;
        let [cout, ho, wo] = g.out_shape;
        let [kh, kw] = g.kernel;
        let (pout, khw, pin) = (ho * wo, kh * kw, h * w);
        let mut pk2q = vec![NONE; pout * khw];
        let mut count = vec![0u32; pin + 1];
        for oy in 0..ho {
            for ox in 0..wo {
                let p = oy * wo + ox;
                for ky in 0..kh {
                    let iy = (oy * g.stride[0] + ky).wrapping_sub(g.padding[0]);
                    if iy >= h {
                        continue;
                    }
                    for kx in 0..kw {
                        let ix = (ox * g.stride[1] + kx).wrapping_sub(g.padding[1]);
                        if ix >= w {
                            continue;
                        }
                        let q = iy * w + ix;
                        pk2q[p * khw + ky * kw + kx] = q as u32;
                        count[q + 1] += 1;
                    }
                }
            }
        }
        for q in 0..pin {
            count[q + 1] += count[q];
        }
        let mut fill = count.clone();
        let mut fwd = vec![(0u32, 0u32); count[pin] as usize];
        for p in 0..pout {
            for k in 0..khw {
                let q = pk2q[p * khw + k];
                if q != NONE {
                    let slot = &mut fill[q as usize];
                    fwd[*slot as usize] = (p as u32, k as u32);
                    *slot += 1;
                }
            }
        }
        Plan {
            pout,
            khw,
            pin,
            cin,
            cout,
            pk2q,
            fwd_off: count,
            fwd,
        }
    }

    /// `kt[(ci * khw + k) * cout + co] = kf[(co * cin + ci) * khw + k]`: the folded kernel with
    /// the output channel innermost, for scatters over output channels.
    pub fn transpose_kernel(&self, kf: &[f32], kt: &mut Vec<f32>) {
        let (cin, cout, khw) = (self.cin, self.cout, self.khw);
        kt.clear();
        kt.resize(cin * khw * cout, 0.0);
        for co in 0..cout {
            for ci in 0..cin {
                for k in 0..khw {
                    kt[(ci * khw + k) * cout + co] = kf[(co * cin + ci) * khw + k];
                }
            }
        }
    }

    /// The current of one sample and step from its active inputs `active` (ascending), written
    /// into `out` (channel-major `cout x pout`): each output's current is the sum of the kernel
    /// values of its active inputs, added from zero in ascending input order, exactly as the
    /// engine accumulates arriving spikes. `buckets` (`pout * cin * khw`) and `lens` (`pout`)
    /// are scratch.
    ///
    /// The active inputs' taps are first bucketed per output position (in input order), then
    /// each position's channels are summed in registers, 32 (then 8) channels at a time: one
    /// load and one add per kernel value, no load or store of the accumulator.
    #[inline(always)]
    pub fn scatter(
        &self,
        kt: &[f32],
        active: &[u32],
        buckets: &mut [u32],
        lens: &mut [u32],
        out: &mut [f32],
    ) {
        let (cout, khw, pin, pout) = (self.cout, self.khw, self.pin, self.pout);
        let cap = self.cin * khw;
        lens.fill(0);
        // The inputs ascend, so the channel only grows: no division per spike.
        let mut ci = 0;
        let mut base = 0;
        for &i in active {
            let i = i as usize;
            while i >= base + pin {
                ci += 1;
                base += pin;
            }
            let q = i - base;
            let row0 = ci * khw * cout;
            let pairs = &self.fwd[self.fwd_off[q] as usize..self.fwd_off[q + 1] as usize];
            for &(p, k) in pairs {
                let p = p as usize;
                let len = &mut lens[p];
                buckets[p * cap + *len as usize] = (row0 + k as usize * cout) as u32;
                *len += 1;
            }
        }
        for p in 0..pout {
            let list = &buckets[p * cap..p * cap + lens[p] as usize];
            let mut c0 = 0;
            while c0 + 32 <= cout {
                let mut acc = [0.0f32; 32];
                for &off in list {
                    let row: &[f32; 32] =
                        kt[off as usize + c0..][..32].try_into().expect("32 values");
                    for j in 0..32 {
                        acc[j] += row[j];
                    }
                }
                for (j, a) in acc.iter().enumerate() {
                    out[(c0 + j) * pout + p] = *a;
                }
                c0 += 32;
            }
            while c0 + 8 <= cout {
                let mut acc = [0.0f32; 8];
                for &off in list {
                    let row: &[f32; 8] = kt[off as usize + c0..][..8].try_into().expect("8 values");
                    for j in 0..8 {
                        acc[j] += row[j];
                    }
                }
                for (j, a) in acc.iter().enumerate() {
                    out[(c0 + j) * pout + p] = *a;
                }
                c0 += 8;
            }
            for co in c0..cout {
                let mut a = 0.0f32;
                for &off in list {
                    a += kt[off as usize + co];
                }
                out[co * pout + p] = a;
            }
        }
    }

    /// Adds to `dkt` (the layout of [`transpose_kernel`](Self::transpose_kernel)) the weight
    /// gradient of one sample and step: for every active input and each output it reaches, the
    /// output's `dL/dI` over channels (`dpm`, position-major `pout x cout`). `buckets`
    /// (`cin * khw * pout`) and `lens` (`cin * khw`) are scratch: the reached outputs are
    /// bucketed per kernel row first, then each row's sum is formed in registers.
    #[inline(always)]
    pub fn gather_grad(
        &self,
        dpm: &[f32],
        active: &[u32],
        buckets: &mut [u32],
        lens: &mut [u32],
        dkt: &mut [f32],
    ) {
        let (cout, khw, pin, pout) = (self.cout, self.khw, self.pin, self.pout);
        lens.fill(0);
        let mut ci = 0;
        let mut base = 0;
        for &i in active {
            let i = i as usize;
            while i >= base + pin {
                ci += 1;
                base += pin;
            }
            let q = i - base;
            let pairs = &self.fwd[self.fwd_off[q] as usize..self.fwd_off[q + 1] as usize];
            for &(p, k) in pairs {
                let r = ci * khw + k as usize;
                buckets[r * pout + lens[r] as usize] = p * cout as u32;
                lens[r] += 1;
            }
        }
        for (r, &len) in lens.iter().enumerate() {
            if len == 0 {
                continue;
            }
            let list = &buckets[r * pout..r * pout + len as usize];
            let dst = &mut dkt[r * cout..(r + 1) * cout];
            let mut c0 = 0;
            while c0 + 32 <= cout {
                let mut acc = [0.0f32; 32];
                for &off in list {
                    let row: &[f32; 32] = dpm[off as usize + c0..][..32]
                        .try_into()
                        .expect("32 values");
                    for j in 0..32 {
                        acc[j] += row[j];
                    }
                }
                for (d, a) in dst[c0..c0 + 32].iter_mut().zip(&acc) {
                    *d += *a;
                }
                c0 += 32;
            }
            for co in c0..cout {
                let mut a = 0.0f32;
                for &off in list {
                    a += dpm[off as usize + co];
                }
                dst[co] += a;
            }
        }
    }

    /// The columns of one analog input `x` (`cin x pin`): `col[(ci * khw + k) * pout + p]`, zero
    /// where the tap lies in the padding.
    #[inline(always)]
    pub fn im2col(&self, x: &[f32], col: &mut [f32]) {
        let (pout, khw, pin) = (self.pout, self.khw, self.pin);
        for ci in 0..self.cin {
            let xc = &x[ci * pin..(ci + 1) * pin];
            for k in 0..khw {
                let dst = &mut col[(ci * khw + k) * pout..][..pout];
                for (p, d) in dst.iter_mut().enumerate() {
                    let q = self.pk2q[p * khw + k];
                    *d = if q == NONE { 0.0 } else { xc[q as usize] };
                }
            }
        }
    }

    /// Adds the columns `col` (position-major `pout x (cin khw)`) back onto the input gradient
    /// `g` (`cin x pin`): the transpose of [`im2col`](Self::im2col).
    #[inline(always)]
    pub fn col2im_add(&self, col: &[f32], g: &mut [f32]) {
        let (pout, khw, pin, cin) = (self.pout, self.khw, self.pin, self.cin);
        for p in 0..pout {
            let row = &col[p * cin * khw..(p + 1) * cin * khw];
            let taps = &self.pk2q[p * khw..(p + 1) * khw];
            for ci in 0..cin {
                let gc = &mut g[ci * pin..(ci + 1) * pin];
                let r = &row[ci * khw..(ci + 1) * khw];
                for (k, &q) in taps.iter().enumerate() {
                    if q != NONE {
                        gc[q as usize] += r[k];
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct convolution then pooling, in f64, from the definition.
    fn conv_pool_ref(c: &ConvConfig, in_shape: [usize; 3], k: &[f32], x: &[f32]) -> Vec<f64> {
        let g = c.conv_geom(in_shape).unwrap();
        let [ci_n, h, w] = in_shape;
        let [co_n, ho, wo] = g.out_shape;
        let [kh, kw] = c.kernel;
        let mut y = vec![0.0f64; co_n * ho * wo];
        for co in 0..co_n {
            for oy in 0..ho {
                for ox in 0..wo {
                    let mut a = 0.0;
                    for ci in 0..ci_n {
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let iy = (oy * c.stride[0] + ky) as isize - c.padding[0] as isize;
                                let ix = (ox * c.stride[1] + kx) as isize - c.padding[1] as isize;
                                if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                                    a += k[((co * ci_n + ci) * kh + ky) * kw + kx] as f64
                                        * x[(ci * h + iy as usize) * w + ix as usize] as f64;
                                }
                            }
                        }
                    }
                    y[(co * ho + oy) * wo + ox] = a;
                }
            }
        }
        let Some(pool) = c.pool else { return y };
        let p = pool.size;
        let (hp, wp) = (ho / p, wo / p);
        let mut z = vec![0.0; co_n * hp * wp];
        for co in 0..co_n {
            for py in 0..hp {
                for px in 0..wp {
                    let mut a = 0.0;
                    for dy in 0..p {
                        for dx in 0..p {
                            a += y[(co * ho + py * p + dy) * wo + px * p + dx];
                        }
                    }
                    if pool.mode == PoolMode::Average {
                        a /= (p * p) as f64;
                    }
                    z[(co * hp + py) * wp + px] = a;
                }
            }
        }
        z
    }

    #[test]
    fn folded_kernel_equals_conv_then_pool() {
        let cases = [
            (
                ConvConfig {
                    out_channels: 3,
                    kernel: [5, 5],
                    stride: [1, 1],
                    padding: [0, 0],
                    pool: Some(Pool {
                        mode: PoolMode::Average,
                        size: 2,
                    }),
                },
                [2, 12, 11],
            ),
            (
                ConvConfig {
                    out_channels: 2,
                    kernel: [3, 2],
                    stride: [2, 1],
                    padding: [1, 2],
                    pool: Some(Pool {
                        mode: PoolMode::Sum,
                        size: 3,
                    }),
                },
                [1, 13, 9],
            ),
            (
                ConvConfig {
                    out_channels: 4,
                    kernel: [3, 3],
                    stride: [1, 1],
                    padding: [1, 1],
                    pool: None,
                },
                [2, 5, 6],
            ),
        ];
        for (c, shape) in cases {
            let n_w = c.n_weights(shape[0]).unwrap();
            let k: Vec<f32> = (0..n_w)
                .map(|i| ((i * 37 % 23) as f32 - 11.0) / 8.0)
                .collect();
            let n_x = shape.iter().product::<usize>();
            let x: Vec<f32> = (0..n_x).map(|i| ((i * 13 % 7) as f32) / 4.0).collect();
            let want = conv_pool_ref(&c, shape, &k, &x);
            let g = c.folded(shape).unwrap();
            let plan = Plan::new(&g);
            let mut kf = Vec::new();
            c.fold_kernel(shape[0], &k, &mut kf);
            let mut col = vec![0.0; shape[0] * plan.khw * plan.pout];
            plan.im2col(&x, &mut col);
            let mut got = vec![0.0f32; g.out_shape.iter().product()];
            assert_eq!(got.len(), want.len(), "{c:?}");
            for co in 0..c.out_channels {
                for p in 0..plan.pout {
                    got[co * plan.pout + p] = (0..shape[0] * plan.khw)
                        .map(|r| kf[co * shape[0] * plan.khw + r] * col[r * plan.pout + p])
                        .sum();
                }
            }
            for (a, b) in got.iter().zip(&want) {
                assert!((*a as f64 - b).abs() < 1e-4, "{c:?}: {a} vs {b}");
            }
            // Binary input through the scatter equals the same convolution.
            let spikes: Vec<u32> = (0..n_x as u32).filter(|i| i % 3 == 0).collect();
            let xs: Vec<f32> = (0..n_x).map(|i| (i % 3 == 0) as u32 as f32).collect();
            let want = conv_pool_ref(&c, shape, &k, &xs);
            let mut kt = Vec::new();
            plan.transpose_kernel(&kf, &mut kt);
            let mut acc = vec![0.0f32; plan.pout * c.out_channels];
            let mut buckets = vec![0u32; plan.pout * plan.cin * plan.khw];
            let mut lens = vec![0u32; plan.pout];
            plan.scatter(&kt, &spikes, &mut buckets, &mut lens, &mut acc);
            for co in 0..c.out_channels {
                for p in 0..plan.pout {
                    let (a, b) = (acc[co * plan.pout + p], want[co * plan.pout + p]);
                    assert!((a as f64 - b).abs() < 1e-4, "{a} vs {b}");
                }
            }
            // The unfolding is the transpose of the folding: <fold(K), D> = <K, unfold(D)>.
            let d: Vec<f32> = (0..kf.len()).map(|i| ((i * 11 % 5) as f32) - 2.0).collect();
            let mut dk = vec![0.0f32; k.len()];
            c.unfold_grad(shape[0], &d, &mut dk);
            let lhs: f64 = kf.iter().zip(&d).map(|(a, b)| (*a * *b) as f64).sum();
            let rhs: f64 = k.iter().zip(&dk).map(|(a, b)| (*a * *b) as f64).sum();
            assert!(
                (lhs - rhs).abs() < 1e-3 * lhs.abs().max(1.0),
                "{lhs} vs {rhs}"
            );
        }
    }

    #[test]
    fn shapes_of_the_mnist_network() {
        let c = ConvConfig {
            out_channels: 12,
            kernel: [5, 5],
            stride: [1, 1],
            padding: [0, 0],
            pool: Some(Pool {
                mode: PoolMode::Average,
                size: 2,
            }),
        };
        let g = c.folded([1, 28, 28]).unwrap();
        assert_eq!(
            (g.out_shape, g.kernel, g.stride),
            ([12, 12, 12], [6, 6], [2, 2])
        );
        let c2 = ConvConfig {
            out_channels: 64,
            ..c
        };
        assert_eq!(c2.folded([12, 12, 12]).unwrap().out_shape, [64, 4, 4]);
        assert!(c2.folded([12, 4, 4]).is_err());
    }
}
