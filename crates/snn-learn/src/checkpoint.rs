//! Checkpoints: a whole [`Trainer`] (model, optimiser state, configuration, epoch, metrics, best
//! model) in one binary file.
//!
//! A checkpoint is a frame of kind [`KIND`] (`CKPT`) in the toolkit's one binary format (see
//! [`snn_types::file`]): magic `SNNFRAME`, kind, body format version, body length, CRC-32, then
//! the trainer encoded with `postcard`. Files are written atomically (a uniquely named temporary
//! in the same directory, synced, then renamed over the target), so a crash never leaves a
//! half-written checkpoint and never destroys the previous one. Reading checks every field and
//! reports a truncated, corrupt, foreign or newer file by name.
//!
//! Checkpoints written by earlier releases (magic `SNNCKPT\0`, version 1, the same postcard
//! body) still load.
//!
//! `postcard` rather than `bincode`: bincode 3.0 is an empty tombstone release and the 1.x/2.x
//! lines are flagged unmaintained.

use std::path::Path;

use snn_types::file::{self, FileError, FrameKind};

use crate::train::Trainer;

/// The frame kind of checkpoints.
pub const KIND: FrameKind = FrameKind::CHECKPOINT;
/// The current format version of the body (the postcard-encoded [`Trainer`]). Version 2 added
/// conv layers, dropout and the input shape to the model configuration; version 1 bodies (dense
/// models) still load.
pub const VERSION: u32 = 2;
/// The signature of checkpoints written before the shared frame format (still readable).
pub const LEGACY_MAGIC: &[u8; 8] = b"SNNCKPT\0";
/// Header length of the legacy format: magic, version, length, CRC-32.
const LEGACY_HEADER: usize = 8 + 4 + 8 + 4;

/// Why a checkpoint could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// An I/O failure.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: String,
        /// The OS error (in the message, not repeated as a cause).
        error: std::io::Error,
    },
    /// The file is not a valid checkpoint.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// Writing or reading the file failed (the message names the file and the problem).
    #[error(transparent)]
    File(#[from] FileError),
}

/// Whether `bytes` look like a checkpoint (current or legacy format), judging by the header
/// alone.
pub fn is_checkpoint(bytes: &[u8]) -> bool {
    file::peek_kind(bytes) == Some(KIND.tag) || bytes.starts_with(LEGACY_MAGIC)
}

/// Encodes a trainer as checkpoint bytes.
pub fn to_bytes(t: &Trainer) -> Result<Vec<u8>, CheckpointError> {
    Ok(file::encode_framed(KIND, VERSION, t)?)
}

/// Decodes checkpoint bytes (current or legacy format); `origin` names the source in errors.
///
/// A body that decodes is then checked for consistency ([`Trainer::validate`]): every layer's
/// sizes against the configuration, every vector's length against its shape, the optimiser
/// state against the parameters, the configuration's ranges. A checkpoint with a valid checksum
/// but inconsistent contents is an error naming the file and the field, never a panic later.
pub fn from_bytes(b: &[u8], origin: &str) -> Result<Trainer, CheckpointError> {
    let t: Trainer = if b.starts_with(LEGACY_MAGIC) {
        from_legacy_bytes(b, origin)?
    } else {
        let frame = file::decode_frame(b, KIND, VERSION, origin)?;
        match frame.version {
            1 => file::decode_body::<v1::Trainer>(frame.body, KIND, origin)?.into(),
            _ => file::decode_body(frame.body, KIND, origin)?,
        }
    };
    t.validate().map_err(|m| CheckpointError::Invalid {
        path: origin.to_string(),
        message: format!("inconsistent checkpoint: {m}"),
    })?;
    Ok(t)
}

/// Little-endian integer of up to 8 bytes.
fn le(b: &[u8]) -> u64 {
    b.iter()
        .rev()
        .fold(0u64, |acc, &x| (acc << 8) | u64::from(x))
}

/// Reads the format of earlier releases: `SNNCKPT\0`, version 1 (u32 LE), body length (u64 LE),
/// CRC-32 of the body (u32 LE), then the same postcard body as [`VERSION`] 1.
fn from_legacy_bytes(b: &[u8], origin: &str) -> Result<Trainer, CheckpointError> {
    let bad = |m: String| CheckpointError::Invalid {
        path: origin.to_string(),
        message: m,
    };
    if b.len() < LEGACY_HEADER {
        return Err(bad(format!(
            "truncated: {} bytes, a legacy checkpoint header alone is {LEGACY_HEADER}",
            b.len()
        )));
    }
    let version = le(&b[8..12]);
    if version != 1 {
        return Err(bad(format!(
            "legacy checkpoint format version {version} is unknown (only version 1 existed)"
        )));
    }
    let len = le(&b[12..20]);
    let crc = le(&b[20..24]);
    let have = (b.len() - LEGACY_HEADER) as u64;
    if have != len {
        return Err(bad(format!(
            "truncated or padded: header says {len} payload bytes, file has {have}"
        )));
    }
    let payload = &b[LEGACY_HEADER..];
    if u64::from(file::crc32(payload)) != crc {
        return Err(bad("corrupt: checksum mismatch".into()));
    }
    Ok(file::decode_body::<v1::Trainer>(payload, KIND, origin)?.into())
}

/// The body of format version 1 (dense models only): the same fields as today's types, minus
/// the conv, dropout and input-shape fields added in version 2.
mod v1 {
    use serde::Deserialize;

    use crate::model::{self, Layer, Loss, RateReg, Readout};
    use crate::optim::Optimizer;
    use crate::surrogate::Surrogate;
    use crate::train::{self, EpochMetrics, TrainConfig};

    #[derive(Deserialize)]
    pub struct LayerConfig {
        size: usize,
        recurrent: bool,
        alpha: Option<f32>,
    }

    #[derive(Deserialize)]
    pub struct ModelConfig {
        n_inputs: usize,
        hidden: Vec<LayerConfig>,
        n_outputs: usize,
        steps: usize,
        beta: f32,
        threshold: f32,
        reset: snn_types::ResetMode,
        learn_beta: bool,
        learn_threshold: bool,
        surrogate: Surrogate,
        readout: Readout,
        loss: Loss,
        rate_reg: Option<RateReg>,
    }

    #[derive(Deserialize)]
    pub struct Model {
        config: ModelConfig,
        layers: Vec<Layer>,
    }

    #[derive(Deserialize)]
    pub struct Best {
        test_acc: f64,
        epoch: usize,
        model: Model,
    }

    #[derive(Deserialize)]
    pub struct Trainer {
        model: Model,
        optimizer: Optimizer,
        config: TrainConfig,
        epoch: usize,
        history: Vec<EpochMetrics>,
        best: Option<Best>,
        stopped_early: bool,
        dataset: String,
    }

    impl From<Model> for model::Model {
        fn from(m: Model) -> Self {
            let c = m.config;
            model::Model {
                config: model::ModelConfig {
                    n_inputs: c.n_inputs,
                    hidden: c
                        .hidden
                        .into_iter()
                        .map(|h| model::LayerConfig {
                            recurrent: h.recurrent,
                            alpha: h.alpha,
                            ..model::LayerConfig::lif(h.size)
                        })
                        .collect(),
                    n_outputs: c.n_outputs,
                    steps: c.steps,
                    beta: c.beta,
                    threshold: c.threshold,
                    reset: c.reset,
                    learn_beta: c.learn_beta,
                    learn_threshold: c.learn_threshold,
                    surrogate: c.surrogate,
                    readout: c.readout,
                    loss: c.loss,
                    rate_reg: c.rate_reg,
                    input_shape: None,
                },
                layers: m.layers,
            }
        }
    }

    impl From<Trainer> for train::Trainer {
        fn from(t: Trainer) -> Self {
            train::Trainer {
                model: t.model.into(),
                optimizer: t.optimizer,
                config: t.config,
                epoch: t.epoch,
                history: t.history,
                best: t.best.map(|b| train::Best {
                    test_acc: b.test_acc,
                    epoch: b.epoch,
                    model: b.model.into(),
                }),
                stopped_early: t.stopped_early,
                dataset: t.dataset,
            }
        }
    }
}

/// Saves a trainer to `path` atomically.
pub fn save(t: &Trainer, path: &Path) -> Result<(), CheckpointError> {
    Ok(file::atomic_write(path, &to_bytes(t)?)?)
}

/// Loads a trainer from `path` (current or legacy format).
pub fn load(path: &Path) -> Result<Trainer, CheckpointError> {
    let b = file::read(path)?;
    from_bytes(&b, &path.display().to_string())
}

/// Makes the metrics file `path` (JSON lines of [`EpochMetrics`](crate::train::EpochMetrics),
/// one per epoch, as `snn train --metrics` appends them after each checkpoint) agree with the
/// checkpoint `t` before a resumed run appends to it: lines of epochs beyond the checkpoint's are
/// dropped (a run interrupted after appending them but before saving that checkpoint) as are
/// repeated epochs, and epochs the checkpoint has but the file lacks are added from the
/// checkpoint's history (without wall time). Lines that are not metrics are kept. A missing file
/// is an empty one; the file is rewritten atomically, only when something changed. A special
/// file (`/dev/stdout`, a pipe) is left alone: reading it would wait for ever.
pub fn reconcile_metrics(path: &Path, t: &Trainer) -> Result<(), CheckpointError> {
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
        return Ok(());
    }
    let origin = || path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(error) => {
            return Err(CheckpointError::Io {
                path: origin(),
                error,
            });
        }
    };
    let epoch_of = |line: &str| {
        serde_json::from_str::<serde_json::Value>(line)
            .ok()
            .and_then(|v| v.get("epoch").and_then(|e| e.as_u64()))
    };
    let mut kept = String::with_capacity(text.len());
    let mut have = std::collections::BTreeSet::new();
    let mut changed = false;
    for line in text.lines() {
        match epoch_of(line) {
            Some(e) if e > t.epoch as u64 || !have.insert(e) => changed = true,
            _ => {
                kept.push_str(line);
                kept.push('\n');
            }
        }
    }
    for m in &t.history {
        if !have.contains(&(m.epoch as u64)) {
            let line = serde_json::to_string(m).map_err(|e| CheckpointError::Invalid {
                path: origin(),
                message: format!("epoch {} metrics: {e}", m.epoch),
            })?;
            kept.push_str(&line);
            kept.push('\n');
            changed = true;
        }
    }
    if changed {
        file::atomic_write(path, kept.as_bytes())?;
    }
    Ok(())
}
