//! Activity statistics of a run, per population: mean firing rate, irregularity (coefficient of
//! variation of the inter-spike intervals) and synchrony (variance over mean of the binned
//! population spike count), the three measures by which Potjans & Diesmann (2014) and van Albada
//! et al. (2018) characterise the microcircuit's asynchronous irregular state.
//!
//! [`ActivityAnalyser`] is a [`SpikeSink`]: it streams, holding a few numbers per neuron and one
//! count per bin, never the raster.
//!
//! ```
//! use snn_core::analysis::{ActivityAnalyser, PopulationRange};
//! use snn_types::SpikeSink;
//!
//! let pops = [PopulationRange { name: "a".into(), start: 0, size: 2 }];
//! // 1 ms steps, analyse steps 0..1000, 10 ms bins, every neuron in the synchrony count.
//! let mut a = ActivityAnalyser::new(&pops, 1.0, 0, 1000, 10, u32::MAX).unwrap();
//! for t in (0..1000).step_by(100) {
//!     a.on_step(t, &[0]); // neuron 0: regular, 10 Hz
//! }
//! let s = &a.finish()[0];
//! assert_eq!(s.rate_hz, 5.0); // 10 spikes over 2 neurons and 1 s
//! assert_eq!(s.cv_isi, Some(0.0)); // perfectly regular
//! ```

use snn_types::{SpikeSink, Step};

/// A population as the analysis sees it: a name and a range of global neuron indices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PopulationRange {
    /// Name.
    pub name: String,
    /// First global index.
    pub start: u32,
    /// Number of neurons.
    pub size: u32,
}

/// Statistics of one population over the analysed window.
#[derive(Debug, Clone, PartialEq)]
pub struct PopulationActivity {
    /// Population name.
    pub name: String,
    /// Neurons.
    pub n_neurons: u32,
    /// Spikes in the window.
    pub n_spikes: u64,
    /// Mean firing rate over all neurons, silent ones included (spikes/s), as the reference's
    /// `helpers.firing_rates` computes it.
    pub rate_hz: f64,
    /// Mean over neurons with at least [`MIN_SPIKES_FOR_CV`] spikes of the coefficient of
    /// variation (sd / mean) of their inter-spike intervals; `None` when no neuron qualifies.
    pub cv_isi: Option<f64>,
    /// Neurons that entered `cv_isi`.
    pub n_cv_neurons: u32,
    /// Variance over mean of the spike count of the population's first `sync_neurons` neurons
    /// in bins of `bin_steps` steps; `None` when they did not fire.
    pub synchrony: Option<f64>,
}

/// Spikes a neuron needs in the window to enter the CV of its population (two intervals).
pub const MIN_SPIKES_FOR_CV: u32 = 3;

/// Why an analysis cannot be set up.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnalysisError {
    /// The window, bin width or step is unusable.
    #[error("invalid analysis window: {0}")]
    Window(String),
}

/// Accumulates [`PopulationActivity`] from the spikes of a run (see the [module docs](self)).
/// Steps must reach it ascending per neuron (the engine's order); spikes outside
/// `[start_step, stop_step)` are ignored.
#[derive(Debug, Clone)]
pub struct ActivityAnalyser {
    pops: Vec<PopulationRange>,
    dt_ms: f64,
    start: Step,
    stop: Step,
    bin_steps: u64,
    sync_neurons: u32,
    /// Per neuron (global index minus the first population's start): last spike step + 1
    /// (0: none yet), spikes, and the sums of the intervals and their squares (in steps).
    last: Vec<u64>,
    count: Vec<u32>,
    isi_sum: Vec<f64>,
    isi_sq: Vec<f64>,
    /// Per population, per bin: spikes of its first `sync_neurons` neurons.
    bins: Vec<Vec<u32>>,
    base: u32,
}

impl ActivityAnalyser {
    /// Analyses steps `start_step..stop_step` (at `dt_ms` per step) of the populations `pops`
    /// (contiguous and ascending, as a network numbers them), with synchrony from the first
    /// `sync_neurons` neurons of each population in bins of `bin_steps` steps.
    pub fn new(
        pops: &[PopulationRange],
        dt_ms: f64,
        start_step: Step,
        stop_step: Step,
        bin_steps: u64,
        sync_neurons: u32,
    ) -> Result<Self, AnalysisError> {
        if !(dt_ms.is_finite() && dt_ms > 0.0) {
            return Err(AnalysisError::Window(format!(
                "dt {dt_ms} ms must be positive"
            )));
        }
        if stop_step <= start_step {
            return Err(AnalysisError::Window(format!(
                "stop step {stop_step} is not after start step {start_step}"
            )));
        }
        if bin_steps == 0 {
            return Err(AnalysisError::Window("bin width is zero steps".into()));
        }
        for w in pops.windows(2) {
            if w[1].start != w[0].start + w[0].size {
                return Err(AnalysisError::Window(format!(
                    "populations '{}' and '{}' are not contiguous",
                    w[0].name, w[1].name
                )));
            }
        }
        let base = pops.first().map_or(0, |p| p.start);
        let n = pops.iter().map(|p| p.size as usize).sum();
        let n_bins = (stop_step - start_step).div_ceil(bin_steps) as usize;
        Ok(Self {
            pops: pops.to_vec(),
            dt_ms,
            start: start_step,
            stop: stop_step,
            bin_steps,
            sync_neurons,
            last: vec![0; n],
            count: vec![0; n],
            isi_sum: vec![0.0; n],
            isi_sq: vec![0.0; n],
            bins: vec![vec![0; n_bins]; pops.len()],
            base,
        })
    }

    /// The statistics of every population, in order.
    pub fn finish(&self) -> Vec<PopulationActivity> {
        let window_s = (self.stop - self.start) as f64 * self.dt_ms / 1000.0;
        self.pops
            .iter()
            .enumerate()
            .map(|(pi, p)| {
                let lo = (p.start - self.base) as usize;
                let r = lo..lo + p.size as usize;
                let n_spikes: u64 = self.count[r.clone()].iter().map(|&c| c as u64).sum();
                let (mut cv_sum, mut n_cv) = (0.0, 0u32);
                for i in r {
                    let c = self.count[i];
                    if c >= MIN_SPIKES_FOR_CV {
                        let k = (c - 1) as f64;
                        let mean = self.isi_sum[i] / k;
                        let var = (self.isi_sq[i] / k - mean * mean).max(0.0);
                        cv_sum += var.sqrt() / mean;
                        n_cv += 1;
                    }
                }
                let bins = &self.bins[pi];
                let nb = bins.len() as f64;
                let mean = bins.iter().map(|&b| b as f64).sum::<f64>() / nb;
                let var = bins.iter().map(|&b| (b as f64 - mean).powi(2)).sum::<f64>() / nb;
                PopulationActivity {
                    name: p.name.clone(),
                    n_neurons: p.size,
                    n_spikes,
                    rate_hz: if p.size > 0 {
                        n_spikes as f64 / p.size as f64 / window_s
                    } else {
                        0.0
                    },
                    cv_isi: (n_cv > 0).then(|| cv_sum / n_cv as f64),
                    n_cv_neurons: n_cv,
                    synchrony: (mean > 0.0).then(|| var / mean),
                }
            })
            .collect()
    }
}

impl SpikeSink for ActivityAnalyser {
    fn on_step(&mut self, step: Step, neurons: &[u32]) {
        if step < self.start || step >= self.stop {
            return;
        }
        let bin = ((step - self.start) / self.bin_steps) as usize;
        for &g in neurons {
            let Some(i) = g.checked_sub(self.base).map(|i| i as usize) else {
                continue;
            };
            if i >= self.last.len() {
                continue;
            }
            let last = self.last[i];
            if last > 0 {
                if step < last {
                    continue; // out of order: ignored
                }
                let isi = (step + 1 - last) as f64;
                self.isi_sum[i] += isi;
                self.isi_sq[i] += isi * isi;
            }
            self.last[i] = step + 1;
            self.count[i] += 1;
            let pi = self
                .pops
                .partition_point(|p| p.start + p.size <= g)
                .min(self.pops.len() - 1);
            if g - self.pops[pi].start < self.sync_neurons {
                self.bins[pi][bin] += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two() -> Vec<PopulationRange> {
        vec![
            PopulationRange {
                name: "e".into(),
                start: 0,
                size: 4,
            },
            PopulationRange {
                name: "i".into(),
                start: 4,
                size: 2,
            },
        ]
    }

    #[test]
    fn rates_count_silent_neurons_and_the_window_only() {
        let mut a = ActivityAnalyser::new(&two(), 0.1, 100, 10_100, 10, u32::MAX).unwrap();
        a.on_step(50, &[0, 4]); // before the window
        for t in (100..10_100).step_by(1000) {
            a.on_step(t, &[0, 1, 5]);
        }
        a.on_step(10_100, &[0]); // after
        let s = a.finish();
        // 10 spikes each for neurons 0 and 1 over 4 neurons and 1 s.
        assert_eq!(s[0].n_spikes, 20);
        assert!((s[0].rate_hz - 5.0).abs() < 1e-12);
        assert!((s[1].rate_hz - 5.0).abs() < 1e-12);
        assert_eq!(s[0].cv_isi, Some(0.0));
        assert_eq!(s[0].n_cv_neurons, 2);
    }

    #[test]
    fn cv_of_known_intervals() {
        // Intervals 1 and 3 steps: mean 2, sd 1, CV 0.5.
        let mut a = ActivityAnalyser::new(&two(), 1.0, 0, 100, 1, u32::MAX).unwrap();
        for t in [10, 11, 14] {
            a.on_step(t, &[2]);
        }
        a.on_step(20, &[3]);
        a.on_step(30, &[3]); // two spikes: below MIN_SPIKES_FOR_CV
        let s = a.finish();
        assert_eq!(s[0].n_cv_neurons, 1);
        assert!((s[0].cv_isi.unwrap() - 0.5).abs() < 1e-12);
        assert_eq!(s[1].cv_isi, None);
        assert_eq!(s[1].synchrony, None);
    }

    #[test]
    fn synchrony_separates_locked_from_spread_firing() {
        // Four neurons firing together every 10 bins vs. the same spikes spread one per bin.
        let mut locked = ActivityAnalyser::new(&two(), 1.0, 0, 400, 1, u32::MAX).unwrap();
        let mut spread = locked.clone();
        for k in 0..40u64 {
            locked.on_step(k * 10, &[0, 1, 2, 3]);
            for j in 0..4u32 {
                spread.on_step(k * 10 + j as u64, &[j]);
            }
        }
        let (l, s) = (locked.finish(), spread.finish());
        // Locked: counts 4 in 40 of 400 bins: mean 0.4, variance 1.44, ratio 3.6.
        assert!((l[0].synchrony.unwrap() - 3.6).abs() < 1e-9);
        // Spread: counts 1 in 160 bins: mean 0.4, variance 0.24, ratio 0.6.
        assert!((s[0].synchrony.unwrap() - 0.6).abs() < 1e-9);
        // Only the first neuron counted for synchrony.
        let mut first = ActivityAnalyser::new(&two(), 1.0, 0, 400, 1, 1).unwrap();
        first.on_step(0, &[0, 1, 2, 3]);
        assert!((first.finish()[0].synchrony.unwrap() - 1.0 * 399.0 / 400.0).abs() < 1e-9);
    }

    #[test]
    fn bad_windows_are_errors() {
        assert!(ActivityAnalyser::new(&two(), 0.1, 10, 10, 1, 1).is_err());
        assert!(ActivityAnalyser::new(&two(), 0.1, 0, 10, 0, 1).is_err());
        assert!(ActivityAnalyser::new(&two(), f64::NAN, 0, 10, 1, 1).is_err());
        let mut gap = two();
        gap[1].start = 5;
        assert!(ActivityAnalyser::new(&gap, 0.1, 0, 10, 1, 1).is_err());
    }
}
