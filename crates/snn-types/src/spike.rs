//! Spikes and the compact spike raster.

use serde::{Deserialize, Serialize};

use crate::time::Step;

/// One spike: a global neuron index firing at an integer step.
///
/// Global indices number the neurons of all populations of a network consecutively, in the order
/// the populations appear in the [`NetworkSpec`](crate::NetworkSpec).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Spike {
    /// The step at which the neuron fired (ordered first, so sorting spikes sorts by time).
    pub step: Step,
    /// Global neuron index.
    pub neuron: u32,
}

/// A compact spike raster: events sorted by step, then by neuron, stored as one flat array of
/// neuron indices plus per-step offsets (CSR over time).
///
/// Memory is 4 bytes per spike plus 8 bytes per step. `offsets[s]..offsets[s + 1]` is the slice of
/// `neurons` that fired at step `start_step + s`.
///
/// ```
/// use snn_types::SpikeRaster;
/// let mut r = SpikeRaster::new(0);
/// r.push_step(&[3, 1]); // step 0: neurons 1 and 3 (sorted on insert)
/// r.push_step(&[]); // step 1: silent
/// r.push_step(&[2]); // step 2
/// assert_eq!(r.len(), 3);
/// assert_eq!(r.at(0), &[1, 3]);
/// let v: Vec<_> = r.iter().map(|s| (s.step, s.neuron)).collect();
/// assert_eq!(v, vec![(0, 1), (0, 3), (2, 2)]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpikeRaster {
    start_step: Step,
    offsets: Vec<usize>,
    neurons: Vec<u32>,
}

impl Default for SpikeRaster {
    fn default() -> Self {
        Self::new(0)
    }
}

impl SpikeRaster {
    /// An empty raster whose first pushed step is `start_step`.
    pub fn new(start_step: Step) -> Self {
        Self {
            start_step,
            offsets: vec![0],
            neurons: Vec::new(),
        }
    }

    /// Builds a raster covering `n_steps` steps from `start_step` out of unsorted spikes.
    /// Spikes outside the covered range are dropped; duplicates are kept.
    pub fn from_spikes(start_step: Step, n_steps: u64, spikes: &[Spike]) -> Self {
        // A counting sort by step (the offsets are the prefix sums of the counts), then each
        // step's neurons sorted: O(spikes + steps), and a step's neurons that arrive in order
        // (the usual case) are already sorted.
        let inside = |s: &Spike| s.step >= start_step && s.step - start_step < n_steps;
        let mut offsets = vec![0usize; (n_steps as usize).saturating_add(1)];
        for s in spikes.iter().filter(|s| inside(s)) {
            offsets[(s.step - start_step) as usize + 1] += 1;
        }
        for i in 1..offsets.len() {
            offsets[i] += offsets[i - 1];
        }
        let total = offsets[n_steps as usize];
        let mut neurons = vec![0u32; total];
        let mut fill = offsets.clone();
        for s in spikes.iter().filter(|s| inside(s)) {
            let k = (s.step - start_step) as usize;
            neurons[fill[k]] = s.neuron;
            fill[k] += 1;
        }
        for w in offsets.windows(2) {
            let step = &mut neurons[w[0]..w[1]];
            if !step.is_sorted() {
                step.sort_unstable();
            }
        }
        Self {
            start_step,
            offsets,
            neurons,
        }
    }

    /// Estimated bytes of a raster of `n_steps` steps holding `n_spikes` spikes: 8 bytes per step
    /// (offsets) and 4 per spike, saturating (for memory checks before a run or an encoding).
    ///
    /// ```
    /// assert_eq!(snn_types::SpikeRaster::estimated_bytes(100, 10), 101 * 8 + 40);
    /// ```
    pub fn estimated_bytes(n_steps: u64, n_spikes: u64) -> u64 {
        n_steps
            .saturating_add(1)
            .saturating_mul(Self::BYTES_PER_STEP)
            .saturating_add(n_spikes.saturating_mul(Self::BYTES_PER_SPIKE))
    }

    /// Bytes a raster holds per step (its offset).
    pub const BYTES_PER_STEP: u64 = std::mem::size_of::<usize>() as u64;

    /// Bytes a raster holds per spike (its neuron index).
    pub const BYTES_PER_SPIKE: u64 = 4;

    /// Appends the next step's spikes (any order; stored sorted).
    pub fn push_step(&mut self, neurons: &[u32]) {
        let begin = self.neurons.len();
        self.neurons.extend_from_slice(neurons);
        let tail = &mut self.neurons[begin..];
        if !tail.is_sorted() {
            tail.sort_unstable();
        }
        self.offsets.push(self.neurons.len());
    }

    /// Adds spikes at the absolute step `step` (neurons in any order), extending the covered
    /// range as needed: a step past the end appends silent steps up to it, a step before
    /// [`start_step`](Self::start_step) moves the start back, and a covered step merges the new
    /// neurons into its sorted slice (duplicates are kept).
    ///
    /// The next step after the end costs what [`push_step`](Self::push_step) costs; merging into
    /// an earlier step moves the spikes after it (O(len)). An empty `neurons` still extends the
    /// range to cover `step`.
    ///
    /// ```
    /// use snn_types::SpikeRaster;
    /// let mut r = SpikeRaster::new(2);
    /// r.add_at(4, &[7]); // steps 2 and 3 silent
    /// r.add_at(2, &[5, 1]);
    /// r.add_at(0, &[]); // now starts at step 0
    /// assert_eq!((r.start_step(), r.n_steps()), (0, 5));
    /// assert_eq!(r.at(2), &[1, 5]);
    /// assert_eq!(r.at(4), &[7]);
    /// ```
    pub fn add_at(&mut self, step: Step, neurons: &[u32]) {
        let end = self.start_step + self.n_steps();
        if step >= end {
            for _ in end..step {
                self.offsets.push(self.neurons.len());
            }
            self.push_step(neurons);
            return;
        }
        if step < self.start_step {
            let gap = (self.start_step - step) as usize;
            self.offsets
                .splice(0..0, std::iter::repeat_n(0, gap))
                .for_each(drop);
            self.start_step = step;
        }
        if neurons.is_empty() {
            return;
        }
        let s = (step - self.start_step) as usize;
        let (begin, old_end) = (self.offsets[s], self.offsets[s + 1]);
        self.neurons
            .splice(old_end..old_end, neurons.iter().copied())
            .for_each(drop);
        self.neurons[begin..old_end + neurons.len()].sort_unstable();
        for o in &mut self.offsets[s + 1..] {
            *o += neurons.len();
        }
    }

    /// The first step covered.
    pub fn start_step(&self) -> Step {
        self.start_step
    }

    /// Number of steps covered (including silent ones).
    pub fn n_steps(&self) -> u64 {
        (self.offsets.len() - 1) as u64
    }

    /// Total number of spikes.
    pub fn len(&self) -> usize {
        self.neurons.len()
    }

    /// True when the raster holds no spike.
    pub fn is_empty(&self) -> bool {
        self.neurons.is_empty()
    }

    /// The sorted neurons that fired at relative step `s` (0-based from `start_step`); empty if
    /// `s` is out of range.
    pub fn at(&self, s: u64) -> &[u32] {
        let s = s as usize;
        if s + 1 >= self.offsets.len() {
            return &[];
        }
        &self.neurons[self.offsets[s]..self.offsets[s + 1]]
    }

    /// All spikes in (step, neuron) order.
    pub fn iter(&self) -> impl Iterator<Item = Spike> + '_ {
        self.offsets.windows(2).enumerate().flat_map(move |(s, w)| {
            let step = self.start_step + s as Step;
            self.neurons[w[0]..w[1]]
                .iter()
                .map(move |&neuron| Spike { step, neuron })
        })
    }

    /// Spike count of every neuron with index below `n_neurons` (larger indices are ignored).
    pub fn counts(&self, n_neurons: usize) -> Vec<u32> {
        let mut c = vec![0u32; n_neurons];
        for &n in &self.neurons {
            if let Some(x) = c.get_mut(n as usize) {
                *x += 1;
            }
        }
        c
    }

    /// The flat neuron array (all steps concatenated).
    pub fn neurons(&self) -> &[u32] {
        &self.neurons
    }

    /// The per-step offsets into [`neurons`](Self::neurons) (`n_steps + 1` entries).
    pub fn offsets(&self) -> &[usize] {
        &self.offsets
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn from_spikes_matches_iter_sorted(raw in proptest::collection::vec((0u64..50, 0u32..20), 0..200)) {
            let spikes: Vec<Spike> = raw.iter().map(|&(step, neuron)| Spike { step, neuron }).collect();
            let r = SpikeRaster::from_spikes(0, 50, &spikes);
            let mut expect = spikes.clone();
            expect.sort();
            let got: Vec<Spike> = r.iter().collect();
            prop_assert_eq!(got, expect);
            prop_assert_eq!(r.n_steps(), 50);
        }
    }

    #[test]
    fn out_of_range_dropped_and_counts() {
        let spikes = [
            Spike { step: 5, neuron: 1 },
            Spike { step: 1, neuron: 1 },
            Spike { step: 2, neuron: 0 },
        ];
        let r = SpikeRaster::from_spikes(1, 3, &spikes);
        assert_eq!(r.len(), 2);
        assert_eq!(r.counts(2), vec![1, 1]);
        assert_eq!(r.at(0), &[1]);
        assert_eq!(r.at(1), &[0]);
        assert!(r.at(7).is_empty());
    }
}
