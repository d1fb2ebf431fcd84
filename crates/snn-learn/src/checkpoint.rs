//! Checkpoints: a whole [`Trainer`] (model, optimiser state, configuration, epoch, metrics, best
//! model) in one binary file.
//!
//! Layout: the 8-byte magic `SNNCKPT\0`, a little-endian `u32` format version, a `u64` payload
//! length, a `u32` CRC-32 of the payload, then the payload encoded with `postcard`. Files are
//! written to a temporary name, synced, then renamed over the target, so a crash never leaves a
//! half-written checkpoint and never destroys the previous one. Reading checks every field and
//! reports a truncated or corrupt file by name.
//!
//! `postcard` rather than `bincode`: bincode 3.0 is an empty tombstone release and the 1.x/2.x
//! lines are flagged unmaintained.

use std::io::Write;
use std::path::Path;

use crate::train::Trainer;

/// The file signature.
pub const MAGIC: &[u8; 8] = b"SNNCKPT\0";
/// The current format version.
pub const VERSION: u32 = 1;
const HEADER: usize = 8 + 4 + 8 + 4;

/// Why a checkpoint could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// An I/O failure.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not a valid checkpoint.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut c = flate2::Crc::new();
    c.update(bytes);
    c.sum()
}

/// Encodes a trainer as checkpoint bytes.
pub fn to_bytes(t: &Trainer) -> Vec<u8> {
    let payload = postcard::to_allocvec(t).expect("a trainer always serialises");
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc32(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

/// Decodes checkpoint bytes; `origin` names the source in errors.
pub fn from_bytes(b: &[u8], origin: &str) -> Result<Trainer, CheckpointError> {
    let bad = |m: String| CheckpointError::Invalid {
        path: origin.to_string(),
        message: m,
    };
    if b.len() < HEADER {
        return Err(bad(format!(
            "truncated: {} bytes, a checkpoint header alone is {HEADER}",
            b.len()
        )));
    }
    if &b[..8] != MAGIC {
        return Err(bad("not an snn checkpoint (bad magic bytes)".into()));
    }
    let version = u32::from_le_bytes(b[8..12].try_into().expect("4 bytes"));
    if version != VERSION {
        return Err(bad(format!(
            "checkpoint format version {version} is not supported (this build reads version {VERSION})"
        )));
    }
    let len = u64::from_le_bytes(b[12..20].try_into().expect("8 bytes"));
    let crc = u32::from_le_bytes(b[20..24].try_into().expect("4 bytes"));
    let have = (b.len() - HEADER) as u64;
    if have != len {
        return Err(bad(format!(
            "truncated or padded: header says {len} payload bytes, file has {have}"
        )));
    }
    let payload = &b[HEADER..];
    if crc32(payload) != crc {
        return Err(bad("checksum mismatch: the file is corrupt".into()));
    }
    let t: Trainer =
        postcard::from_bytes(payload).map_err(|e| bad(format!("cannot decode payload: {e}")))?;
    Ok(t)
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, synced, then
/// renamed over `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), std::io::Error> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp{}", std::process::id()));
    let tmp = std::path::PathBuf::from(tmp);
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Saves a trainer to `path` atomically.
pub fn save(t: &Trainer, path: &Path) -> Result<(), CheckpointError> {
    write_atomic(path, &to_bytes(t)).map_err(|source| CheckpointError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Loads a trainer from `path`.
pub fn load(path: &Path) -> Result<Trainer, CheckpointError> {
    let b = std::fs::read(path).map_err(|source| CheckpointError::Io {
        path: path.display().to_string(),
        source,
    })?;
    from_bytes(&b, &path.display().to_string())
}
