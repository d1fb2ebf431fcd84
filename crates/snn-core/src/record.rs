//! Spike sinks and recordings.
//!
//! The engine hands every step's spikes (sorted global neuron indices of the recorded
//! populations) to a caller-supplied [`SpikeSink`], so a long run can stream to disk or just count
//! without holding the raster in memory. It calls [`SpikeSink::on_step`] exactly once per step,
//! steps ascending, neurons sorted: a stronger order than the trait's contract asks for (see
//! [`snn_types::SpikeSink`], which is re-exported here). State traces and population rates, when
//! the spec asks for them, are kept in [`Recordings`].

use std::io::Write;

pub use snn_types::SpikeSink;
use snn_types::{StateVar, Step};

/// Discards spikes (use when only statistics matter).
#[derive(Debug, Default, Clone, Copy)]
pub struct NullSink;

impl SpikeSink for NullSink {
    fn on_step(&mut self, _step: Step, _neurons: &[u32]) {}
}

/// Counts spikes without storing them.
#[derive(Debug, Default, Clone, Copy)]
pub struct CountingSink {
    /// Spikes seen.
    pub spikes: u64,
}

impl SpikeSink for CountingSink {
    fn on_step(&mut self, _step: Step, neurons: &[u32]) {
        self.spikes += neurons.len() as u64;
    }
}

/// Streams spikes as CSV lines `step,neuron`, in the order received, to a writer: sorted by step,
/// then neuron, when fed by the engine. The first I/O error is kept and returned by
/// [`finish`](Self::finish); later spikes are dropped.
#[derive(Debug)]
pub struct CsvSpikeWriter<W: Write> {
    out: W,
    error: Option<std::io::Error>,
    lines: u64,
}

impl<W: Write> CsvSpikeWriter<W> {
    /// Writes the header `step,neuron` and returns the sink.
    pub fn new(mut out: W) -> Self {
        let error = writeln!(out, "step,neuron").err();
        Self {
            out,
            error,
            lines: 0,
        }
    }

    /// Flushes and returns the writer, or the first error met.
    pub fn finish(mut self) -> std::io::Result<(W, u64)> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.out.flush()?;
        Ok((self.out, self.lines))
    }
}

impl<W: Write> SpikeSink for CsvSpikeWriter<W> {
    fn on_step(&mut self, step: Step, neurons: &[u32]) {
        if self.error.is_some() {
            return;
        }
        for &n in neurons {
            if let Err(e) = writeln!(self.out, "{step},{n}") {
                self.error = Some(e);
                return;
            }
        }
        self.lines += neurons.len() as u64;
    }
}

/// A sampled state variable of one neuron, one value per simulated step.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// Population index.
    pub population: usize,
    /// Local neuron index.
    pub neuron: u32,
    /// Variable sampled.
    pub variable: StateVar,
    /// Value after each step's update (mV for LIF membrane potentials, pA for currents, nS for conductances).
    pub values: Vec<f32>,
}

/// Recorded traces and population spike counts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recordings {
    /// State traces, in the order of the spec's `recording.state` entries and their neurons.
    pub traces: Vec<Trace>,
    /// `(population index, spike count per step)` for each population in `recording.rates`.
    pub rates: Vec<(usize, Vec<u32>)>,
}

/// Snapshots of one projection's weights over a run
/// ([`Network::record_weights`](crate::Network::record_weights)), with the projection's
/// connectivity so the file stands on its own: synapse `i` of source row `r` (`row_ptr[r] <= i < row_ptr[r + 1]`) goes to local
/// target `targets[i]`, and `weights[s][i]` is its weight at `steps[s]`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WeightHistory {
    /// The projection's name.
    pub projection: String,
    /// Source neurons.
    pub n_source: u32,
    /// Target neurons.
    pub n_target: u32,
    /// CSR row offsets (`n_source + 1` entries).
    pub row_ptr: Vec<u64>,
    /// Local target of each synapse.
    pub targets: Vec<u32>,
    /// The step of each snapshot (the weights after that many steps), ascending.
    pub steps: Vec<Step>,
    /// The weights of each snapshot, one per synapse.
    pub weights: Vec<Vec<f32>>,
}

/// Format version of the [`WeightHistory`] file body.
const WEIGHT_HISTORY_VERSION: u32 = 1;

impl WeightHistory {
    /// An empty history for `pr` (a CSR projection; a conv projection gives empty rows).
    pub(crate) fn for_projection(pr: &crate::Projection) -> Self {
        let (row_ptr, targets) = if pr.conv().is_some() {
            (vec![0; pr.n_source() + 1], Vec::new())
        } else {
            (
                pr.row_ptr().iter().map(|&x| x as u64).collect(),
                pr.targets().into_owned(),
            )
        };
        Self {
            projection: pr.name.clone(),
            n_source: pr.n_source() as u32,
            n_target: pr.n_target() as u32,
            row_ptr,
            targets,
            steps: Vec::new(),
            weights: Vec::new(),
        }
    }

    /// Writes the history atomically in the toolkit's framed format (magic `SNNFRAME`, kind
    /// `WHST`, format version, body length, CRC-32, postcard body; see [`snn_types::file`]).
    pub fn save(&self, path: &std::path::Path) -> Result<(), snn_types::file::FileError> {
        snn_types::file::write_framed(
            path,
            snn_types::file::FrameKind::WEIGHT_HISTORY,
            WEIGHT_HISTORY_VERSION,
            self,
        )
    }

    /// Reads a history written by [`save`](Self::save); a corrupt, truncated, foreign or
    /// inconsistent file is an error naming the file and the problem.
    pub fn load(path: &std::path::Path) -> Result<Self, snn_types::file::FileError> {
        let h: Self = snn_types::file::read_framed(
            path,
            snn_types::file::FrameKind::WEIGHT_HISTORY,
            WEIGHT_HISTORY_VERSION,
        )?;
        if let Some(problem) = h.inconsistency() {
            return Err(snn_types::file::FileError::Inconsistent {
                origin: path.display().to_string(),
                detail: problem,
            });
        }
        Ok(h)
    }

    /// The first inconsistency of sizes, if any.
    fn inconsistency(&self) -> Option<String> {
        let n_syn = self.targets.len() as u64;
        if self.row_ptr.len() != self.n_source as usize + 1
            || self.row_ptr.first() != Some(&0)
            || self.row_ptr.last() != Some(&n_syn)
            || self.row_ptr.windows(2).any(|w| w[0] > w[1])
        {
            return Some(format!(
                "row_ptr: {} offsets do not describe {} rows of {n_syn} synapses",
                self.row_ptr.len(),
                self.n_source
            ));
        }
        if let Some(t) = self.targets.iter().find(|&&t| t >= self.n_target) {
            return Some(format!(
                "targets: {t} is not below n_target {}",
                self.n_target
            ));
        }
        if self.steps.len() != self.weights.len() {
            return Some(format!(
                "{} steps for {} snapshots",
                self.steps.len(),
                self.weights.len()
            ));
        }
        if self.steps.windows(2).any(|w| w[0] >= w[1]) {
            return Some("steps are not ascending".into());
        }
        if let Some(i) = self.weights.iter().position(|w| w.len() as u64 != n_syn) {
            return Some(format!(
                "snapshot {i} has {} weights for {n_syn} synapses",
                self.weights[i].len()
            ));
        }
        None
    }
}
