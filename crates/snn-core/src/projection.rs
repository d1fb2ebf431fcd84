//! Projections stored as CSR by source neuron, with per-row targets sorted, or — for
//! convolutions and pooling — as a kernel plus per-axis tap tables.
//!
//! CSR memory per synapse is 4 bytes (`u32` target) when the weight and delay are the same for
//! every synapse of the projection, plus 4 bytes for per-synapse `f32` weights when they vary.
//! Per-synapse delays cost nothing extra when the engine can pack them: the delay (in steps)
//! then sits in the high bits of the target word, above the `target_bits` bits the target
//! population's largest local index needs ([`packed_target_bits`]); a 21,915-neuron target
//! leaves 17 bits, delays up to 131,071 steps. This is what [`crate::connect::build_projection`]
//! builds, so a projection with random weights and delays takes 8 bytes per synapse. Only when
//! target and delay do not fit in 32 bits together are delays stored as `u16` (2 more bytes). A `conv2d` projection stores its kernel (4 bytes per
//! kernel weight) and a `pool2d` projection one weight, plus `(H + W + 2) * 4` bytes of tap
//! pointers and 8 bytes per tap of each axis (about `H * kh / sy + W * kw / sx`), whatever the
//! number of synapses it represents ([`ConvTaps`]).

use std::borrow::Cow;

use snn_types::{ConvGeometry, Receptor};

use crate::error::BuildError;

/// A per-synapse quantity stored once when every synapse of a projection shares it: the one
/// "uniform or per-synapse" type of the workspace (weights in the engine, delays, the chip's
/// integer weight mantissas).
#[derive(Debug, Clone, PartialEq)]
pub enum Synaptic<T> {
    /// One value shared by every synapse (no per-synapse storage).
    Uniform(T),
    /// One value per synapse, in CSR order.
    PerSynapse(Vec<T>),
}

impl<T: Copy> Synaptic<T> {
    /// Value of synapse `i` (CSR order).
    #[inline(always)]
    pub fn at(&self, i: usize) -> T {
        match self {
            Synaptic::Uniform(x) => *x,
            Synaptic::PerSynapse(v) => v[i],
        }
    }

    /// True when one value is shared by every synapse.
    pub fn is_uniform(&self) -> bool {
        matches!(self, Synaptic::Uniform(_))
    }

    /// Applies `f` to the stored value(s), keeping the storage form.
    pub fn map<U>(&self, mut f: impl FnMut(T) -> U) -> Synaptic<U> {
        match self {
            Synaptic::Uniform(x) => Synaptic::Uniform(f(*x)),
            Synaptic::PerSynapse(v) => Synaptic::PerSynapse(v.iter().map(|&x| f(x)).collect()),
        }
    }

    /// Bytes of per-synapse storage (0 when uniform).
    pub fn storage_bytes(&self) -> usize {
        match self {
            Synaptic::Uniform(_) => 0,
            Synaptic::PerSynapse(v) => std::mem::size_of_val(v.as_slice()),
        }
    }
}

/// Synaptic weights of a projection (`f32`, the target model's unit).
pub type Weights = Synaptic<f32>;

/// Transmission delays of a projection, in whole steps (>= 1).
pub type Delays = Synaptic<u16>;

/// The number of low bits that hold the target when the delays of a projection onto `n_target`
/// neurons, none longer than `max_delay_steps`, are packed into its `u32` target words, or `None`
/// when target and delay need more than 32 bits together.
pub fn packed_target_bits(n_target: u32, max_delay_steps: u16) -> Option<u32> {
    let target_bits = 32 - n_target.saturating_sub(1).leading_zeros();
    let delay_bits = 16 - max_delay_steps.max(1).leading_zeros();
    (target_bits + delay_bits <= 32).then_some(target_bits)
}

/// The per-axis tap tables of a conv or pool projection: for every input coordinate of an axis,
/// the `(kernel offset, output offset)` pairs through which it reaches the output
/// ([`ConvGeometry::axis_taps`]), ascending in the output coordinate, with the offsets already
/// multiplied by the row lengths (`ky * kw`, `oy * W_out` for the height axis; `kx`, `ox` for the
/// width axis). Together with the kernel they replace the per-synapse arrays: a spike of source
/// `(ci, iy, ix)` reaches target `co * H_out * W_out + oy_off + ox` through kernel weight
/// `(co * C_in/groups + ci % (C_in/groups)) * kh * kw + ky_off + kx` for every output channel
/// `co` of `ci`'s group and every pair of taps.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvTaps {
    geometry: ConvGeometry,
    /// `y_ptr[iy]..y_ptr[iy + 1]` index `y_taps` (`H + 1` entries).
    y_ptr: Vec<u32>,
    /// `[ky * kw, oy * W_out]`.
    y_taps: Vec<[u32; 2]>,
    /// `x_ptr[ix]..x_ptr[ix + 1]` index `x_taps` (`W + 1` entries).
    x_ptr: Vec<u32>,
    /// `[kx, ox]`.
    x_taps: Vec<[u32; 2]>,
    /// With stride 1 and dilation 1 across (the common case), the column taps of each `ix` as one
    /// run `[kx_lo, ox_lo, n]`: kernel columns `kx_lo..kx_lo + n` reach output columns
    /// `ox_lo + n - 1` down to `ox_lo`. Empty otherwise.
    x_runs: Vec<[u32; 3]>,
    /// Synapses of the expanded projection.
    n_expanded: u64,
}

/// Bytes of the tap tables of `g` (what [`ConvTaps::memory_bytes`] reports once built), computed
/// from the geometry without building them.
pub fn conv_taps_bytes(g: &ConvGeometry) -> u64 {
    let [_, h, w] = g.in_shape();
    let taps =
        |axis: usize, n: u32| -> u64 { (0..n).map(|i| g.axis_taps(axis, i).count() as u64).sum() };
    let runs = if g.stride()[1] == 1 && g.dilation()[1] == 1 {
        w as u64 * 12
    } else {
        0
    };
    (h as u64 + 1 + w as u64 + 1) * 4 + (taps(0, h) + taps(1, w)) * 8 + runs
}

impl ConvTaps {
    /// Builds the tap tables of `g` (`O(H * kh + W * kw)` memory).
    pub fn new(g: ConvGeometry) -> Self {
        let [_, h, w] = g.in_shape();
        let [_, _, ow] = g.out_shape();
        let kw = g.kernel()[1];
        let mut y_ptr = Vec::with_capacity(h as usize + 1);
        let mut y_taps = Vec::new();
        y_ptr.push(0);
        for iy in 0..h {
            y_taps.extend(g.axis_taps(0, iy).map(|(ky, oy)| [ky * kw, oy * ow]));
            y_ptr.push(y_taps.len() as u32);
        }
        let mut x_ptr = Vec::with_capacity(w as usize + 1);
        let mut x_taps = Vec::new();
        x_ptr.push(0);
        for ix in 0..w {
            x_taps.extend(g.axis_taps(1, ix).map(|(kx, ox)| [kx, ox]));
            x_ptr.push(x_taps.len() as u32);
        }
        let contiguous = g.stride()[1] == 1 && g.dilation()[1] == 1;
        let x_runs = if contiguous {
            (0..w as usize)
                .map(|ix| {
                    let t = &x_taps[x_ptr[ix] as usize..x_ptr[ix + 1] as usize];
                    // Taps ascend in ox, so kx descends: the last tap has the lowest kx.
                    match (t.first(), t.last()) {
                        (Some(&[_, ox_lo]), Some(&[kx_lo, _])) => [kx_lo, ox_lo, t.len() as u32],
                        _ => [0, 0, 0],
                    }
                })
                .collect()
        } else {
            Vec::new()
        };
        let n_expanded = g.in_shape()[0] as u64
            * g.out_per_group() as u64
            * y_taps.len() as u64
            * x_taps.len() as u64;
        Self {
            geometry: g,
            y_ptr,
            y_taps,
            x_ptr,
            x_taps,
            x_runs,
            n_expanded,
        }
    }

    /// The geometry.
    pub fn geometry(&self) -> &ConvGeometry {
        &self.geometry
    }

    /// Synapses of the expanded projection (source-target pairs).
    pub fn n_expanded(&self) -> u64 {
        self.n_expanded
    }

    /// Bytes of the tap tables.
    pub fn memory_bytes(&self) -> usize {
        (self.y_ptr.len() + self.x_ptr.len()) * 4
            + (self.y_taps.len() + self.x_taps.len()) * 8
            + self.x_runs.len() * 12
    }

    /// `(channel, row taps, column taps)` of source neuron `s` (which must be below
    /// `C_in * H * W`).
    #[inline(always)]
    fn taps_of(&self, s: u32) -> (u32, &[[u32; 2]], &[[u32; 2]]) {
        let [_, h, w] = self.geometry.in_shape();
        let hw = h * w;
        let (ci, rest) = (s / hw, s % hw);
        let (iy, ix) = ((rest / w) as usize, (rest % w) as usize);
        let ys = &self.y_taps[self.y_ptr[iy] as usize..self.y_ptr[iy + 1] as usize];
        let xs = &self.x_taps[self.x_ptr[ix] as usize..self.x_ptr[ix + 1] as usize];
        (ci, ys, xs)
    }

    /// Targets source neuron `s` reaches (its row length in the expanded form).
    #[inline]
    pub fn fan_out(&self, s: u32) -> u64 {
        let (_, ys, xs) = self.taps_of(s);
        self.geometry.out_per_group() as u64 * ys.len() as u64 * xs.len() as u64
    }

    /// Calls `f(target, kernel_index)` for every target of source `s` in ascending target order
    /// (the order of [`ConvGeometry::for_each_target`]).
    #[inline]
    pub fn for_each_target(&self, s: u32, mut f: impl FnMut(u32, u32)) {
        let g = &self.geometry;
        let (ci, ys, xs) = self.taps_of(s);
        let (ipg, opg) = (g.in_per_group(), g.out_per_group());
        let [_, oh, ow] = g.out_shape();
        let [kh, kw] = g.kernel();
        let (grp, cil) = (ci / ipg, ci % ipg);
        for co in grp * opg..(grp + 1) * opg {
            let (tbase, kbase) = (co * oh * ow, (co * ipg + cil) * kh * kw);
            for &[ky, oy] in ys {
                let (trow, krow) = (tbase + oy, kbase + ky);
                for &[kx, ox] in xs {
                    f(trow + ox, krow + kx);
                }
            }
        }
    }

    /// Adds the kernel row of source `s` into `buf`: for every target `t` of `s` with
    /// `lo <= t < hi`, `buf[t - shift] += w` (wrapping subtraction) with `w` the kernel weight of
    /// the pair (`kernel` is the projection's [`Weights`]: the kernel, or one weight for a pool).
    /// Each target receives at most one addition, so the result equals that of the expanded CSR
    /// row. When an output channel's plane lies inside `lo..hi` and the column taps form a run
    /// (stride and dilation 1 across), each row is added as one run; otherwise a row inside
    /// `lo..hi` is added tap by tap without range checks, and a row cut by `lo..hi` is checked tap
    /// by tap.
    #[inline]
    pub fn scatter(&self, s: u32, kernel: &Weights, lo: u32, hi: u32, shift: u32, buf: &mut [f32]) {
        match kernel {
            Synaptic::Uniform(w) => self.scatter_with(s, *w, lo, hi, shift, buf),
            Synaptic::PerSynapse(k) => self.scatter_with(s, k.as_slice(), lo, hi, shift, buf),
        }
    }

    #[inline(always)]
    fn scatter_with<K: KernelRow>(
        &self,
        s: u32,
        kernel: K,
        lo: u32,
        hi: u32,
        shift: u32,
        buf: &mut [f32],
    ) {
        let g = &self.geometry;
        let (ci, ys, xs) = self.taps_of(s);
        if ys.is_empty() || xs.is_empty() {
            return;
        }
        let (ipg, opg) = (g.in_per_group(), g.out_per_group());
        let [_, oh, ow] = g.out_shape();
        let [kh, kw] = g.kernel();
        let plane = oh * ow;
        let (grp, cil) = (ci / ipg, ci % ipg);
        let run = self.x_runs.get((s % g.in_shape()[2]) as usize).copied();
        // Output channels whose plane meets lo..hi.
        let co_lo = (grp * opg).max(lo / plane);
        let co_hi = ((grp + 1) * opg).min(hi.div_ceil(plane));
        for co in co_lo..co_hi {
            let (tbase, kbase) = (co * plane, (co * ipg + cil) * kh * kw);
            if let Some([kx_lo, ox_lo, n]) = run
                && tbase >= lo
                && tbase + plane <= hi
            {
                // The whole output plane is ours and each row's taps form one run: the hot path.
                let t0 = (tbase + ox_lo).wrapping_sub(shift) as usize;
                let k0 = (kbase + kx_lo) as usize;
                // Runs of a fixed length unroll (no loop exit to mispredict per row).
                match n {
                    1 => plane_runs::<K, 1>(kernel, ys, k0, t0, buf),
                    2 => plane_runs::<K, 2>(kernel, ys, k0, t0, buf),
                    3 => plane_runs::<K, 3>(kernel, ys, k0, t0, buf),
                    4 => plane_runs::<K, 4>(kernel, ys, k0, t0, buf),
                    5 => plane_runs::<K, 5>(kernel, ys, k0, t0, buf),
                    6 => plane_runs::<K, 6>(kernel, ys, k0, t0, buf),
                    7 => plane_runs::<K, 7>(kernel, ys, k0, t0, buf),
                    _ => {
                        for &[ky, oy] in ys {
                            kernel.add_run(
                                k0 + ky as usize,
                                &mut buf[t0 + oy as usize..][..n as usize],
                            );
                        }
                    }
                }
                continue;
            }
            for &[ky, oy] in ys {
                let (trow, krow) = (tbase + oy, kbase + ky);
                if trow >= lo && trow + ow <= hi {
                    let base = trow.wrapping_sub(shift);
                    for &[kx, ox] in xs {
                        buf[base.wrapping_add(ox) as usize] += kernel.at(krow + kx);
                    }
                } else if trow < hi && trow + ow > lo {
                    for &[kx, ox] in xs {
                        let t = trow + ox;
                        if t >= lo && t < hi {
                            buf[t.wrapping_sub(shift) as usize] += kernel.at(krow + kx);
                        }
                    }
                }
            }
        }
    }
}

/// Adds one run of `N` kernel columns per row tap (`ys`) of an output plane: row `[ky, oy]` adds
/// kernel entries `k0 + ky ..` onto `buf[t0 + oy + N - 1]` down to `buf[t0 + oy]`.
#[inline(always)]
fn plane_runs<K: KernelRow, const N: usize>(
    kernel: K,
    ys: &[[u32; 2]],
    k0: usize,
    t0: usize,
    buf: &mut [f32],
) {
    for &[ky, oy] in ys {
        let o = t0 + oy as usize;
        let out: &mut [f32; N] = match buf.get_mut(o..o + N).and_then(|b| b.try_into().ok()) {
            Some(b) => b,
            None => return,
        };
        kernel.add_fixed(k0 + ky as usize, out);
    }
}

/// A kernel as [`ConvTaps::scatter`] reads it: one weight for every entry (a pool), or a slice.
trait KernelRow: Copy {
    /// Entry `k`.
    fn at(self, k: u32) -> f32;
    /// `out[out.len() - 1 - i] += entry(k0 + i)` for every `i`: a run of kernel columns
    /// ascending onto output columns descending.
    fn add_run(self, k0: usize, out: &mut [f32]);
    /// [`add_run`](Self::add_run) for a run of a fixed length.
    fn add_fixed<const N: usize>(self, k0: usize, out: &mut [f32; N]);
}

impl KernelRow for f32 {
    #[inline(always)]
    fn at(self, _: u32) -> f32 {
        self
    }
    #[inline(always)]
    fn add_run(self, _: usize, out: &mut [f32]) {
        for b in out {
            *b += self;
        }
    }
    #[inline(always)]
    fn add_fixed<const N: usize>(self, _: usize, out: &mut [f32; N]) {
        for b in out {
            *b += self;
        }
    }
}

impl KernelRow for &[f32] {
    #[inline(always)]
    fn at(self, k: u32) -> f32 {
        self[k as usize]
    }
    #[inline(always)]
    fn add_run(self, k0: usize, out: &mut [f32]) {
        let ks = &self[k0..k0 + out.len()];
        for (b, &w) in out.iter_mut().rev().zip(ks) {
            *b += w;
        }
    }
    #[inline(always)]
    fn add_fixed<const N: usize>(self, k0: usize, out: &mut [f32; N]) {
        let Some(ks) = self.get(k0..k0 + N) else {
            return;
        };
        for i in 0..N {
            out[N - 1 - i] += ks[i];
        }
    }
}

/// How a projection's synapses are stored.
#[derive(Debug, Clone)]
pub(crate) enum Layout {
    /// CSR by source: `row_ptr[s]..row_ptr[s+1]` are the synapses of source `s`; targets sorted
    /// within each row.
    Csr {
        row_ptr: Vec<usize>,
        targets: Vec<u32>,
        /// `Some(bits)`: every word is `delay << bits | target` (delays packed, see the module
        /// docs; `delays` then holds only the longest delay); `None`: plain targets.
        packed: Option<u32>,
    },
    /// A convolution or pooling: the kernel (in `weights`) and the per-axis tap tables.
    Conv(Box<ConvTaps>),
}

/// A built projection: CSR by source (targets local to the target population), or, for a
/// `conv2d`/`pool2d` projection built by [`crate::connect::build_projection`], the kernel and
/// small per-axis tap tables ([`ConvTaps`]) with no per-synapse storage.
///
/// For a conv projection the synapse-level accessors describe the **expanded** projection where
/// a number is asked for ([`n_synapses`](Self::n_synapses), [`to_sprs`](Self::to_sprs),
/// [`transpose_index`](Self::transpose_index)), [`row_ptr`](Self::row_ptr) and
/// [`targets`](Self::targets) are empty, and [`weights`](Self::weights) holds the kernel
/// (row-major `[C_out][C_in/groups][kh][kw]`; uniform for a pool). [`expanded`](Self::expanded)
/// gives the explicit CSR form.
#[derive(Debug, Clone)]
pub struct Projection {
    /// Name for reports (the spec's name, or `source->target`).
    pub name: String,
    /// Index of the source population.
    pub source_pop: usize,
    /// Index of the target population.
    pub target_pop: usize,
    /// Receptor driven.
    pub receptor: Receptor,
    pub(crate) layout: Layout,
    /// Per synapse (CSR) or per kernel entry (conv).
    pub(crate) weights: Weights,
    pub(crate) delays: Delays,
    pub(crate) n_source: u32,
    pub(crate) n_target: u32,
}

impl Projection {
    /// Number of synapses. For a conv or pool projection, the number of (source, target) pairs
    /// it represents (the synapses of [`expanded`](Self::expanded)), not what it stores.
    pub fn n_synapses(&self) -> usize {
        match &self.layout {
            Layout::Csr { targets, .. } => targets.len(),
            Layout::Conv(c) => c.n_expanded() as usize,
        }
    }

    /// Number of source neurons (rows).
    pub fn n_source(&self) -> usize {
        self.n_source as usize
    }

    /// Number of target neurons (columns).
    pub fn n_target(&self) -> usize {
        self.n_target as usize
    }

    /// The tap tables and geometry when the projection is stored as a kernel (`conv2d`,
    /// `pool2d`), `None` for CSR.
    pub fn conv(&self) -> Option<&ConvTaps> {
        match &self.layout {
            Layout::Conv(c) => Some(c),
            Layout::Csr { .. } => None,
        }
    }

    /// Row pointers (`n_source + 1` entries); empty for a conv projection.
    pub fn row_ptr(&self) -> &[usize] {
        match &self.layout {
            Layout::Csr { row_ptr, .. } => row_ptr,
            Layout::Conv(_) => &[],
        }
    }

    /// Local target index of every synapse, row by row; empty for a conv projection. Borrowed,
    /// except when the delays are packed into the target words
    /// ([`delays_packed`](Self::delays_packed)): then a copy without them.
    pub fn targets(&self) -> Cow<'_, [u32]> {
        match &self.layout {
            Layout::Csr {
                targets,
                packed: None,
                ..
            } => Cow::Borrowed(targets),
            Layout::Csr {
                targets,
                packed: Some(bits),
                ..
            } => {
                let mask = target_mask(*bits);
                Cow::Owned(targets.iter().map(|&w| w & mask).collect())
            }
            Layout::Conv(_) => Cow::Borrowed(&[]),
        }
    }

    /// Local target index of synapse `i` (CSR order; 0 for a conv projection).
    pub fn target(&self, i: usize) -> u32 {
        match &self.layout {
            Layout::Csr {
                targets, packed, ..
            } => targets[i] & packed.map_or(u32::MAX, target_mask),
            Layout::Conv(_) => 0,
        }
    }

    /// True when the per-synapse delays are packed into the high bits of the target words (no
    /// separate delay array; see the module docs).
    pub fn delays_packed(&self) -> bool {
        matches!(
            self.layout,
            Layout::Csr {
                packed: Some(_),
                ..
            }
        )
    }

    /// Packs per-synapse delays into the target words when they fit
    /// ([`packed_target_bits`]), freeing the delay array: 2 bytes less per synapse, same
    /// synapses, same spikes. Returns whether the delays are packed afterwards. Does nothing to a
    /// conv projection or one with a uniform delay.
    pub fn pack_delays(&mut self) -> bool {
        let max = self.max_delay_steps();
        let Layout::Csr {
            targets, packed, ..
        } = &mut self.layout
        else {
            return false;
        };
        if packed.is_some() {
            return true;
        }
        let Delays::PerSynapse(d) = &self.delays else {
            return false;
        };
        let Some(bits) = packed_target_bits(self.n_target, max) else {
            return false;
        };
        for (w, &d) in targets.iter_mut().zip(d) {
            *w |= (d as u32) << bits;
        }
        *packed = Some(bits);
        self.delays = Delays::Uniform(max);
        true
    }

    /// The inverse of [`pack_delays`](Self::pack_delays): plain targets and a `u16` per synapse.
    pub fn unpack_delays(&mut self) {
        if let Layout::Csr {
            targets, packed, ..
        } = &mut self.layout
            && let Some(bits) = packed.take()
        {
            let mask = target_mask(bits);
            let d = targets.iter().map(|&w| (w >> bits) as u16).collect();
            for w in targets.iter_mut() {
                *w &= mask;
            }
            self.delays = Delays::PerSynapse(d);
        }
    }

    /// The weights: one per synapse in CSR order, or for a conv projection the kernel.
    pub fn weights(&self) -> &Weights {
        &self.weights
    }

    /// The delays in steps (uniform for a conv projection). Borrowed, except when they are
    /// packed into the target words: then a copy, one per synapse.
    pub fn delays(&self) -> Cow<'_, Delays> {
        match &self.layout {
            Layout::Csr {
                targets,
                packed: Some(bits),
                ..
            } => Cow::Owned(Delays::PerSynapse(
                targets.iter().map(|&w| (w >> bits) as u16).collect(),
            )),
            _ => Cow::Borrowed(&self.delays),
        }
    }

    /// Weight of synapse `i` (CSR order; for a conv projection, kernel entry `i`).
    pub fn weight(&self, i: usize) -> f32 {
        self.weights.at(i)
    }

    /// Delay of synapse `i` in steps (CSR order; any `i` for a conv projection).
    pub fn delay_steps(&self, i: usize) -> u16 {
        match &self.layout {
            Layout::Csr {
                targets,
                packed: Some(bits),
                ..
            } => (targets[i] >> bits) as u16,
            _ => self.delays.at(i),
        }
    }

    /// Longest delay in steps.
    pub fn max_delay_steps(&self) -> u16 {
        // Packed: `delays` holds the longest delay (see `pack_delays`).
        match &self.delays {
            Delays::Uniform(d) => *d,
            Delays::PerSynapse(v) => v.iter().copied().max().unwrap_or(1),
        }
    }

    /// The shortest delay of any synapse, in steps (`None` for per-synapse delays and no
    /// synapse).
    pub fn min_delay_steps(&self) -> Option<u16> {
        if let Layout::Csr {
            targets,
            packed: Some(bits),
            ..
        } = &self.layout
        {
            // Packed: `delays` holds only the longest delay; the others live in the targets.
            return targets.iter().map(|&w| (w >> bits) as u16).min();
        }
        match &self.delays {
            Delays::Uniform(d) => Some(*d),
            Delays::PerSynapse(v) => v.iter().copied().min(),
        }
    }

    /// Entries of per-synapse weight storage: synapses for CSR, kernel entries for conv.
    fn weight_slots(&self) -> usize {
        match &self.layout {
            Layout::Csr { targets, .. } => targets.len(),
            Layout::Conv(c) => c.geometry().kernel_len(),
        }
    }

    /// Turns uniform weights into per-synapse (per kernel entry, for conv) storage (needed before
    /// weights can change).
    pub fn materialise_weights(&mut self) {
        if let Weights::Uniform(w) = self.weights {
            self.weights = Weights::PerSynapse(vec![w; self.weight_slots()]);
        }
    }

    /// Mutable per-synapse weights (materialised first if uniform); for a conv projection, the
    /// kernel.
    pub fn weights_mut(&mut self) -> &mut [f32] {
        self.materialise_weights();
        match &mut self.weights {
            Weights::PerSynapse(v) => v,
            Weights::Uniform(_) => unreachable!("materialised above"),
        }
    }

    /// Bytes that attaching a learning rule (`Network::set_plasticity`) adds to this projection:
    /// per-synapse weights where they are uniform (4 per synapse), per-synapse delays where they
    /// are packed into the targets (2 per synapse), and the column index the engine builds for
    /// post spikes (8 per synapse and a pointer per target). Conv projections take no rule: 0.
    pub fn plasticity_extra_bytes(&self) -> u64 {
        let Layout::Csr { packed, .. } = &self.layout else {
            return 0;
        };
        let n = self.n_synapses() as u64;
        let weights = if matches!(self.weights, Weights::Uniform(_)) {
            4 * n
        } else {
            0
        };
        let delays = if packed.is_some() { 2 * n } else { 0 };
        let columns = 8 * n + (self.n_target() as u64 + 1) * std::mem::size_of::<usize>() as u64;
        weights + delays + columns
    }

    /// Bytes used by the synapse arrays: targets, weights, delays and row pointers for CSR; the
    /// kernel and the tap tables for conv.
    pub fn memory_bytes(&self) -> usize {
        let layout = match &self.layout {
            Layout::Csr {
                row_ptr, targets, ..
            } => targets.len() * 4 + row_ptr.len() * std::mem::size_of::<usize>(),
            Layout::Conv(c) => c.memory_bytes(),
        };
        layout + self.weights.storage_bytes() + self.delays.storage_bytes()
    }

    /// Calls `f(source, target, weight)` for every synapse, in CSR order (for a conv projection,
    /// the order of its expanded form).
    pub fn for_each_synapse(&self, mut f: impl FnMut(u32, u32, f32)) {
        match &self.layout {
            Layout::Csr {
                row_ptr,
                targets,
                packed,
            } => {
                let mask = packed.map_or(u32::MAX, target_mask);
                for (s, w) in row_ptr.windows(2).enumerate() {
                    for (i, &t) in targets.iter().enumerate().take(w[1]).skip(w[0]) {
                        f(s as u32, t & mask, self.weights.at(i));
                    }
                }
            }
            Layout::Conv(c) => {
                for s in 0..self.n_source {
                    c.for_each_target(s, |t, k| f(s, t, self.weights.at(k as usize)));
                }
            }
        }
    }

    /// The explicit CSR form: a clone for a CSR projection (with its delays unpacked, as
    /// [`unpack_delays`](Self::unpack_delays)); for a conv projection, every
    /// (source, target) pair with its kernel weight (per synapse, also for a pool) and the
    /// projection's delay, rows ascending. Refused with [`BuildError::TooLarge`] before
    /// allocating when the expanded form has more synapses than a `u32` indexes.
    pub fn expanded(&self) -> Result<Projection, BuildError> {
        let Layout::Conv(c) = &self.layout else {
            let mut p = self.clone();
            p.unpack_delays();
            return Ok(p);
        };
        let n = c.n_expanded();
        if n > u32::MAX as u64 {
            return Err(BuildError::TooLarge(format!(
                "projection '{}' expands to {n} synapses; the limit is {}",
                self.name,
                u32::MAX
            )));
        }
        let mut row_ptr = Vec::with_capacity(self.n_source() + 1);
        let mut targets = Vec::with_capacity(n as usize);
        let mut weights = Vec::with_capacity(n as usize);
        row_ptr.push(0);
        for s in 0..self.n_source {
            c.for_each_target(s, |t, k| {
                targets.push(t);
                weights.push(self.weights.at(k as usize));
            });
            row_ptr.push(targets.len());
        }
        Ok(Projection {
            name: self.name.clone(),
            source_pop: self.source_pop,
            target_pop: self.target_pop,
            receptor: self.receptor,
            layout: Layout::Csr {
                row_ptr,
                targets,
                packed: None,
            },
            weights: Weights::PerSynapse(weights),
            delays: self.delays.clone(),
            n_source: self.n_source,
            n_target: self.n_target,
        })
    }

    /// The weight matrix as a `sprs` CSR matrix (`n_source x n_target`), for analysis and export.
    /// Duplicate (source, target) pairs, if any, are summed.
    pub fn to_sprs(&self) -> sprs::CsMat<f32> {
        let mut tri = sprs::TriMat::new((self.n_source(), self.n_target()));
        self.for_each_synapse(|s, t, w| tri.add_triplet(s as usize, t as usize, w));
        tri.to_csr()
    }

    /// Incoming synapses of every target (a CSC index into the CSR arrays): returns
    /// `(col_ptr, sources, synapse_indices)`, sources ascending within each column. For a conv
    /// projection the synapse indices are those of [`expanded`](Self::expanded).
    pub fn transpose_index(&self) -> (Vec<usize>, Vec<u32>, Vec<u32>) {
        let nt = self.n_target();
        let mut col_ptr = vec![0usize; nt + 1];
        self.for_each_synapse(|_, t, _| col_ptr[t as usize + 1] += 1);
        for i in 0..nt {
            col_ptr[i + 1] += col_ptr[i];
        }
        let mut fill = col_ptr.clone();
        let n = col_ptr[nt];
        let mut sources = vec![0u32; n];
        let mut syn = vec![0u32; n];
        let mut i = 0u32;
        self.for_each_synapse(|s, t, _| {
            let t = t as usize;
            sources[fill[t]] = s;
            syn[fill[t]] = i;
            fill[t] += 1;
            i = i.wrapping_add(1);
        });
        (col_ptr, sources, syn)
    }
}

/// The longest delay of any synapse of `projections`, in steps (1 when there is none): the ring
/// buffers of the engine and the chip model hold this many steps plus one.
pub fn longest_delay_steps(projections: &[Projection]) -> u16 {
    projections
        .iter()
        .map(Projection::max_delay_steps)
        .max()
        .unwrap_or(1)
        .max(1)
}

/// The mask of the target bits of a packed word.
#[inline(always)]
pub(crate) fn target_mask(bits: u32) -> u32 {
    if bits >= 32 {
        u32::MAX
    } else {
        (1u32 << bits) - 1
    }
}

#[cfg(test)]
mod pack_tests {
    use super::*;

    fn csr(n_target: u32, targets: Vec<u32>, delays: Vec<u16>) -> Projection {
        Projection {
            name: "p".into(),
            source_pop: 0,
            target_pop: 0,
            receptor: Receptor::Excitatory,
            layout: Layout::Csr {
                row_ptr: vec![0, targets.len()],
                targets,
                packed: None,
            },
            weights: Weights::Uniform(1.0),
            delays: Delays::PerSynapse(delays),
            n_source: 1,
            n_target,
        }
    }

    #[test]
    fn bits_needed() {
        assert_eq!(packed_target_bits(1, 1), Some(0));
        assert_eq!(packed_target_bits(2, 1), Some(1));
        assert_eq!(packed_target_bits(21_915, 200), Some(15));
        assert_eq!(packed_target_bits(u32::MAX, 2), None);
        assert_eq!(packed_target_bits(1 << 16, u16::MAX), Some(16));
        assert_eq!(packed_target_bits((1 << 16) + 1, u16::MAX), None);
    }

    #[test]
    fn pack_and_unpack_round_trip() {
        let mut p = csr(1000, vec![3, 17, 999], vec![1, 40, 7]);
        let before = p.memory_bytes();
        assert!(p.pack_delays());
        assert!(p.delays_packed());
        assert_eq!(before - p.memory_bytes(), 6, "2 bytes per synapse saved");
        assert_eq!(&*p.targets(), &[3, 17, 999]);
        assert_eq!(
            (0..3).map(|i| p.delay_steps(i)).collect::<Vec<_>>(),
            [1, 40, 7]
        );
        assert_eq!(
            (0..3).map(|i| p.target(i)).collect::<Vec<_>>(),
            [3, 17, 999]
        );
        assert_eq!(p.max_delay_steps(), 40);
        let mut seen = Vec::new();
        p.for_each_synapse(|_, t, _| seen.push(t));
        assert_eq!(seen, [3, 17, 999]);
        p.unpack_delays();
        assert!(!p.delays_packed());
        assert_eq!(&*p.targets(), &[3, 17, 999]);
        assert_eq!(*p.delays(), Delays::PerSynapse(vec![1, 40, 7]));
    }

    #[test]
    fn too_wide_stays_unpacked() {
        let mut p = csr(u32::MAX, vec![5], vec![3]);
        assert!(!p.pack_delays());
        assert_eq!(p.delay_steps(0), 3);
    }
}
