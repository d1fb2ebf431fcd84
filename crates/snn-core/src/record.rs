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
