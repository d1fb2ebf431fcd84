//! File safety shared by every crate and the CLI: atomic writes and one framed binary format.
//!
//! # Atomic writes
//!
//! [`atomic_write`], [`atomic_write_with`] and the [`AtomicFile`] guard never leave a
//! half-written target: bytes go to a temporary file in the target's directory, named
//! `.<name>.<pid>.<counter>.tmp` (plus the target's extension, see [`AtomicFile::temp_path`]),
//! unique per process and per call, so two runs or two threads never share one. The temporary is
//! flushed and synced, renamed over the target, and the directory is synced (best effort). On any
//! error, and when an [`AtomicFile`] is dropped without [`commit`](AtomicFile::commit) (an early
//! return, a panic), the temporary is removed and the previous target is untouched. A process
//! killed outright (`SIGKILL`) cannot clean up; the next write of the same target removes such
//! temporaries once their process no longer runs and they are a minute old (on Linux, where
//! `/proc` tells).
//!
//! ```
//! # let dir = std::env::temp_dir().join(format!("snn-types-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir).unwrap();
//! use std::io::Write;
//! use snn_types::file::{atomic_write, atomic_write_with};
//!
//! let path = dir.join("notes.txt");
//! atomic_write(&path, b"first\n").unwrap();
//! // Streaming: a failing writer leaves the previous file as it was.
//! let err = atomic_write_with(&path, |w| {
//!     w.write_all(b"half of the")?;
//!     Err(std::io::Error::other("the simulation failed"))
//! });
//! assert!(err.is_err());
//! assert_eq!(std::fs::read(&path).unwrap(), b"first\n");
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```
//!
//! A target that is a directory is refused before any temporary exists. Errors name the target
//! the caller gave, never the temporary, and hold the OS reason once.
//!
//! # Interruption and output checks
//!
//! Every live temporary is listed in a process-wide registry ([`live_temporaries`]);
//! [`remove_live_temporaries`] deletes them all, and [`install_signal_cleanup`] does so on
//! SIGINT, SIGTERM and SIGHUP, then exits with 128 + the signal. [`check_output`] tells, before
//! any work, whether a file can be written at a path without destroying one of the inputs.
//!
//! # The framed binary format
//!
//! Every binary file the toolkit writes (training checkpoints, STDP weights) is one frame:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic [`MAGIC`] = `SNNFRAME` |
//! | 8 | 4 | kind, a 4-byte tag ([`FrameKind`]: `CKPT`, `STDP`) |
//! | 12 | 4 | format version of the body, `u32` little-endian |
//! | 16 | 8 | body length in bytes, `u64` little-endian |
//! | 24 | 4 | CRC-32 (IEEE) of bytes 8..24 and of the body, `u32` little-endian |
//! | 28 | len | the body, encoded with `postcard` |
//!
//! The frame layout itself never changes; the version belongs to the body, so a reader can tell
//! "written by a newer version" from "corrupt". Reading checks, in this order: the header is
//! complete, the magic, the kind (naming expected and found), the length against the bytes
//! actually present (truncated or trailing bytes), the checksum, the version, then decodes the
//! body. No length read from a file is used to allocate before it has been checked against the
//! real byte count, and no input makes the reader panic.
//!
//! `postcard` rather than `bincode`: bincode 3.0 is an empty tombstone release and the 1.x/2.x
//! lines are flagged unmaintained.
//!
//! ```
//! use snn_types::file::{FrameKind, decode_framed, encode_framed};
//!
//! let bytes = encode_framed(FrameKind::CHECKPOINT, 1, &vec![1u32, 2, 3]).unwrap();
//! let back: Vec<u32> = decode_framed(&bytes, FrameKind::CHECKPOINT, 1, "mem").unwrap();
//! assert_eq!(back, [1, 2, 3]);
//! let err = decode_framed::<Vec<u32>>(&bytes, FrameKind::STDP_WEIGHTS, 1, "w.bin").unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "w.bin: is a training checkpoint, expected an STDP weight file"
//! );
//! ```

use std::fmt;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why a file could not be written or read, always naming the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// An operating-system failure during one step of a write or read. The message holds the
    /// OS reason; it is deliberately not also reported as [`source`](std::error::Error::source),
    /// so that printing the error chain (`{:#}` with anyhow) shows the reason once.
    #[error("cannot {op} {}: {error}", path.display())]
    Io {
        /// The file the operation was for (the target, not the temporary).
        path: PathBuf,
        /// The operation, e.g. `"create a temporary file for"`, `"rename over"`, `"read"`.
        op: &'static str,
        /// The OS error.
        error: std::io::Error,
    },
    /// An output path that cannot be written, found before anything is written (see
    /// [`check_output`]).
    #[error("{}: {problem}", path.display())]
    Output {
        /// The output path as given.
        path: PathBuf,
        /// What is wrong with it.
        problem: OutputProblem,
    },
    /// The path has no file name (`/`, `..`, an empty path).
    #[error("{}: not a file path", path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// Shorter than its header, or than the body length the header announces.
    #[error("{origin}: truncated: {detail}")]
    Truncated {
        /// The file (or other source) read.
        origin: String,
        /// How many bytes were expected and found.
        detail: String,
    },
    /// The first 8 bytes are not [`MAGIC`].
    #[error("{origin}: not an snn file (bad magic bytes)")]
    NotSnnFile {
        /// The file read.
        origin: String,
    },
    /// A frame of another kind, e.g. STDP weights where a checkpoint was expected.
    #[error("{origin}: is {found}, expected {expected}")]
    WrongKind {
        /// The file read.
        origin: String,
        /// What the caller expected (e.g. "a training checkpoint").
        expected: &'static str,
        /// What the file is (e.g. "an STDP weight file").
        found: String,
    },
    /// The body's format version is newer than this build reads.
    #[error(
        "{origin}: {kind} format version {found} was written by a newer version of snn \
         (this build reads up to version {supported})"
    )]
    NewerVersion {
        /// The file read.
        origin: String,
        /// What the file is.
        kind: &'static str,
        /// The version in the file.
        found: u32,
        /// The newest version this build reads.
        supported: u32,
    },
    /// The file was written by an older release in a format this build no longer reads.
    #[error("{origin}: written by an older version of snn ({format}); retrain or convert")]
    OlderVersion {
        /// The file read.
        origin: String,
        /// The old format, e.g. "checkpoint format version 1".
        format: String,
    },
    /// The stored CRC-32 does not match the contents.
    #[error("{origin}: corrupt: checksum mismatch")]
    Checksum {
        /// The file read.
        origin: String,
    },
    /// Bytes after the body.
    #[error("{origin}: {count} unexpected bytes after the body")]
    TrailingBytes {
        /// The file read.
        origin: String,
        /// How many.
        count: u64,
    },
    /// The body is not a valid encoding of the expected type.
    #[error("{origin}: cannot decode the body of {kind}: {source}")]
    Decode {
        /// The file read.
        origin: String,
        /// What the file is.
        kind: &'static str,
        /// The decoder's error.
        source: postcard::Error,
    },
    /// The body decoded but its contents are inconsistent (sizes that do not match).
    #[error("{origin}: inconsistent contents: {detail}")]
    Inconsistent {
        /// The file read.
        origin: String,
        /// What does not match.
        detail: String,
    },
    /// A value could not be encoded (a type whose `Serialize` fails).
    #[error("cannot encode {kind}: {source}")]
    Encode {
        /// What was being encoded.
        kind: &'static str,
        /// The encoder's error.
        source: postcard::Error,
    },
}

impl FileError {
    /// What went wrong, without the path (for callers whose own error names the file): the OS
    /// reason of an [`Io`](FileError::Io) failure, else the whole message.
    pub fn reason(&self) -> String {
        match self {
            FileError::Io { error, .. } => error.to_string(),
            other => other.to_string(),
        }
    }

    fn io(path: &Path, op: &'static str, error: std::io::Error) -> Self {
        FileError::Io {
            path: path.to_path_buf(),
            op,
            error,
        }
    }

    fn output(path: &Path, problem: OutputProblem) -> Self {
        FileError::Output {
            path: path.to_path_buf(),
            problem,
        }
    }
}

/// Why an output path cannot be written (the path itself is in [`FileError::Output`]).
#[derive(Debug)]
#[non_exhaustive]
pub enum OutputProblem {
    /// The path is an existing directory.
    IsDirectory,
    /// The directory that would hold the file does not exist.
    MissingDirectory(PathBuf),
    /// What would be the file's directory is not a directory.
    NotADirectory(PathBuf),
    /// No file can be created in the directory (permissions, a read-only file system); the OS
    /// reason.
    NotWritable {
        /// The directory.
        dir: PathBuf,
        /// The OS error of the attempt.
        error: std::io::Error,
    },
    /// The path is (resolves to) one of the command's input files, given here as the caller
    /// named it.
    IsInput(PathBuf),
    /// The path exists (or leads through a symbolic link) and is neither a regular file nor a
    /// directory: a device (`/dev/null`, `/dev/full`), a pipe, a socket or a terminal
    /// (`/dev/stdout`). An atomic write renames a new regular file over its target, which would
    /// replace that special file instead of writing into it.
    NotARegularFile,
}

impl fmt::Display for OutputProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutputProblem::IsDirectory => f.write_str("is a directory"),
            OutputProblem::MissingDirectory(d) => {
                write!(f, "directory {} does not exist", d.display())
            }
            OutputProblem::NotADirectory(d) => write!(f, "{} is not a directory", d.display()),
            OutputProblem::NotWritable { dir, error } => {
                write!(f, "cannot write in directory {}: {error}", dir.display())
            }
            OutputProblem::IsInput(i) => {
                write!(f, "would overwrite the input file {}", i.display())
            }
            OutputProblem::NotARegularFile => f.write_str(
                "is not a regular file (a device, pipe, socket or terminal): the output is \
                 written to a new file renamed into place, which would replace it; give a \
                 file path",
            ),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Atomic writes
// ---------------------------------------------------------------------------------------------

/// Refuses a target that exists and is neither a regular file nor a directory (followed through
/// symbolic links): renaming a temporary over `/dev/null` would replace the device.
fn check_not_special(path: &Path) -> Result<(), FileError> {
    match std::fs::metadata(path) {
        Ok(m) if !m.is_file() && !m.is_dir() => {
            Err(FileError::output(path, OutputProblem::NotARegularFile))
        }
        _ => Ok(()),
    }
}

/// Calls made in this process, so that two writes never pick the same temporary name.
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Whether `path` can name a file: it has a file name and does not end in a separator
/// (`out.svg/` has the file name `out.svg` for [`Path::file_name`], but only a directory can be
/// written there; the rename failed after all the work).
fn names_a_file(path: &Path) -> bool {
    let ends_in_separator = path
        .as_os_str()
        .as_encoded_bytes()
        .last()
        .is_some_and(|&b| std::path::is_separator(b as char));
    path.file_name().is_some() && !ends_in_separator
}

/// The name of a fresh temporary sibling of `path`: `.<name>.<pid>.<counter>.tmp`, followed by
/// the target's extension when it has one (image encoders pick the format from it). Stale
/// temporaries of the same target left by killed processes are removed first
/// ([`remove_stale_temps`]).
fn temp_sibling(path: &Path) -> Result<PathBuf, FileError> {
    let name = path.file_name().ok_or_else(|| FileError::NotAFile {
        path: path.to_path_buf(),
    })?;
    remove_stale_temps(path, STALE_AFTER);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut tmp = std::ffi::OsString::from(".");
    tmp.push(name);
    tmp.push(format!(".{}.{n}.tmp", std::process::id()));
    if let Some(ext) = path.extension() {
        tmp.push(".");
        tmp.push(ext);
    }
    Ok(path.with_file_name(tmp))
}

/// A temporary of a process that no longer runs is removed once untouched for this long (a
/// writer in another PID namespace, invisible in this `/proc`, keeps its file fresh).
const STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(60);

/// The process id in `file` if it is a temporary of the target named `name` with extension
/// `ext` (`.<name>.<pid>.<n>.tmp[.<ext>]`).
fn temp_owner(file: &str, name: &str, ext: Option<&str>) -> Option<u32> {
    let rest = file
        .strip_prefix('.')?
        .strip_prefix(name)?
        .strip_prefix('.')?;
    let parts: Vec<&str> = rest.split('.').collect();
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    let shape = match (parts.len(), ext) {
        (3, None) => true,
        (4, Some(e)) => parts[3] == e,
        _ => false,
    };
    if shape && digits(parts[0]) && digits(parts[1]) && parts[2] == "tmp" {
        parts[0].parse().ok()
    } else {
        None
    }
}

/// Removes the temporaries of target `path` that a process which no longer runs left behind
/// (a `SIGKILL` or a power loss gives it no chance to clean up), if untouched for `min_age`.
/// Only where `/proc` shows which processes run (Linux); never this process's own temporaries;
/// best effort (errors are ignored, nothing else in the directory is touched).
fn remove_stale_temps(path: &Path, min_age: std::time::Duration) {
    let proc_root = Path::new("/proc");
    if !proc_root.join("self").exists() {
        return;
    }
    let (Some(name), Some(dir)) = (
        path.file_name().and_then(|n| n.to_str()),
        path.parent().map(|d| {
            if d.as_os_str().is_empty() {
                Path::new(".")
            } else {
                d
            }
        }),
    ) else {
        return;
    };
    let ext = path.extension().and_then(|e| e.to_str());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let me = std::process::id();
    for e in entries.flatten() {
        let file = e.file_name();
        let Some(pid) = file.to_str().and_then(|f| temp_owner(f, name, ext)) else {
            continue;
        };
        if pid == me || proc_root.join(pid.to_string()).exists() {
            continue;
        }
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age >= min_age);
        if old && e.file_type().is_ok_and(|t| t.is_file()) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Whether `name` looks like a temporary written by this module (`.<name>.<pid>.<n>.tmp[.ext]`).
/// Meant for tests and clean-up tools.
pub fn is_temp_name(name: &std::ffi::OsStr) -> bool {
    let Some(s) = name.to_str() else {
        return false;
    };
    if !s.starts_with('.') {
        return false;
    }
    let parts: Vec<&str> = s[1..].split('.').collect();
    // ... <pid> <n> "tmp" [ext]
    (0..parts.len()).any(|i| {
        parts[i] == "tmp"
            && i >= 3
            && parts.len() - i <= 2
            && [parts[i - 1], parts[i - 2]]
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// Syncs the directory holding `path` so that a rename survives a crash (best effort: not every
/// platform or file system can sync a directory).
fn sync_parent(path: &Path) {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// A file being written atomically: a temporary sibling of the target that replaces it on
/// [`commit`](Self::commit). Implements [`Write`] (buffered). Dropping it without a commit (an
/// error path, a panic) removes the temporary and leaves the target as it was.
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("snn-types-doc-af-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// use std::io::Write;
/// use snn_types::file::AtomicFile;
///
/// let path = dir.join("raster.csv");
/// let mut f = AtomicFile::create(&path).unwrap();
/// writeln!(f, "step,neuron").unwrap();
/// assert!(!path.exists()); // nothing visible until the commit
/// f.commit().unwrap();
/// assert_eq!(std::fs::read_to_string(&path).unwrap(), "step,neuron\n");
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Debug)]
pub struct AtomicFile {
    target: PathBuf,
    temp: PathBuf,
    /// `None` once committed (or after a failed commit, which cleans up itself).
    out: Option<BufWriter<File>>,
    /// The temporary's entry in the registry of live temporaries (see [`remove_live_temporaries`]).
    live_id: u64,
}

impl AtomicFile {
    /// Creates a fresh temporary file next to `path` (which need not exist yet; its directory
    /// must).
    pub fn create(path: &Path) -> Result<Self, FileError> {
        if !names_a_file(path) {
            return Err(FileError::NotAFile {
                path: path.to_path_buf(),
            });
        }
        // A directory target would only fail at the rename, after all the work: refuse it now.
        if std::fs::metadata(path).is_ok_and(|m| m.is_dir()) {
            return Err(FileError::output(path, OutputProblem::IsDirectory));
        }
        check_not_special(path)?;
        // A stale temporary with the same name (a crashed run whose pid was reused) is skipped.
        let mut last = None;
        for _ in 0..16 {
            let temp = temp_sibling(path)?;
            match live::create_registered(&temp) {
                Ok((f, id)) => {
                    return Ok(AtomicFile {
                        target: path.to_path_buf(),
                        temp,
                        out: Some(BufWriter::new(f)),
                        live_id: id,
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(FileError::io(path, "create a temporary file for", e)),
            }
        }
        Err(FileError::io(
            path,
            "create a temporary file for",
            last.unwrap_or_else(|| std::io::Error::other("no free temporary name")),
        ))
    }

    /// The file that [`commit`](Self::commit) replaces.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// The temporary file, for writers that insist on a path of their own (a plotting backend,
    /// an external archiver). They may truncate and rewrite it; whatever it holds at
    /// [`commit`](Self::commit) replaces the target. Its name ends with the target's extension,
    /// so encoders that pick a format from the extension work. Do not mix this with writes
    /// through the [`Write`] impl.
    pub fn temp_path(&self) -> &Path {
        &self.temp
    }

    /// Flushes, syncs the data to disk, renames the temporary over the target and syncs the
    /// directory (best effort). On failure the temporary is removed and the target untouched.
    pub fn commit(mut self) -> Result<(), FileError> {
        let Some(out) = self.out.take() else {
            return Err(FileError::io(
                &self.target,
                "write",
                std::io::Error::other("already committed"),
            ));
        };
        let result = (|| {
            let f = out
                .into_inner()
                .map_err(|e| FileError::io(&self.target, "write", e.into_error()))?;
            f.sync_all()
                .map_err(|e| FileError::io(&self.target, "sync", e))?;
            drop(f);
            std::fs::rename(&self.temp, &self.target)
                .map_err(|e| FileError::io(&self.target, "rename a temporary file over", e))
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&self.temp);
        } else {
            sync_parent(&self.target);
        }
        live::unregister(self.live_id);
        result
    }

    fn writer(&mut self) -> std::io::Result<&mut BufWriter<File>> {
        self.out
            .as_mut()
            .ok_or_else(|| std::io::Error::other("the file is already committed"))
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.writer()?.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.writer()?.write_all(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.writer()?.flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if let Some(out) = self.out.take() {
            // Not committed: discard the buffer unwritten and remove the temporary.
            let (f, _) = out.into_parts();
            drop(f);
            let _ = std::fs::remove_file(&self.temp);
            live::unregister(self.live_id);
        }
    }
}

/// Writes `bytes` to `path` atomically (see the [module docs](self)).
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    atomic_write_with(path, |w| w.write_all(bytes))
}

/// Streams a file to `path` atomically: `write` receives a buffered writer on a temporary file
/// that replaces `path` only if `write` returns `Ok` and the data reaches the disk. An error
/// from `write` (or a panic in it) leaves the previous `path` untouched and no temporary behind.
pub fn atomic_write_with<F>(path: &Path, write: F) -> Result<(), FileError>
where
    F: FnOnce(&mut dyn Write) -> std::io::Result<()>,
{
    let mut f = AtomicFile::create(path)?;
    write(&mut f).map_err(|e| FileError::io(path, "write", e))?;
    f.commit()
}

// ---------------------------------------------------------------------------------------------
// Live temporaries and interruption
// ---------------------------------------------------------------------------------------------

/// The process-wide registry of temporaries that exist right now: an entry is added, under the
/// registry's lock, in the same critical section that creates the file, and removed after the
/// commit's rename or the drop's removal. [`remove_live_temporaries`] takes the lock, so it never
/// races with a creation: a temporary either is in the list or does not exist yet.
mod live {
    use std::fs::{File, OpenOptions};
    use std::path::{Path, PathBuf};
    use std::sync::{Mutex, MutexGuard};

    pub(super) struct Registry {
        next_id: u64,
        paths: Vec<(u64, PathBuf)>,
    }

    static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
        next_id: 1,
        paths: Vec::new(),
    });

    /// The lock, whether or not a panicking thread poisoned it (the list stays consistent: every
    /// change is one push or one removal).
    pub(super) fn lock() -> MutexGuard<'static, Registry> {
        REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Creates `temp` (it must not exist) and registers it, atomically with respect to
    /// [`remove_all`].
    pub(super) fn create_registered(temp: &Path) -> std::io::Result<(File, u64)> {
        let mut r = lock();
        let f = OpenOptions::new().write(true).create_new(true).open(temp)?;
        let id = r.next_id;
        r.next_id += 1;
        r.paths.push((id, temp.to_path_buf()));
        Ok((f, id))
    }

    pub(super) fn unregister(id: u64) {
        let mut r = lock();
        if let Some(i) = r.paths.iter().position(|(k, _)| *k == id) {
            r.paths.swap_remove(i);
        }
    }

    pub(super) fn paths() -> Vec<PathBuf> {
        lock().paths.iter().map(|(_, p)| p.clone()).collect()
    }

    /// Removes every live temporary (with the lock held, so that none is created meanwhile) and
    /// returns the guard: a caller about to end the process keeps it, so that no other thread
    /// creates a temporary before the exit.
    pub(super) fn remove_all() -> (usize, MutexGuard<'static, Registry>) {
        let mut r = lock();
        let mut removed = 0;
        for (_, p) in r.paths.drain(..) {
            if std::fs::remove_file(&p).is_ok() {
                removed += 1;
            }
        }
        (removed, r)
    }
}

/// The temporaries this process has created and not yet committed or removed (for tests and
/// diagnostics).
pub fn live_temporaries() -> Vec<PathBuf> {
    live::paths()
}

/// Removes every temporary this process has created and not yet committed or removed, and
/// returns how many files were removed. Meant for programs that handle termination themselves;
/// [`install_signal_cleanup`] does it on SIGINT, SIGTERM and SIGHUP. Guards still alive
/// afterwards fail at their commit (their temporary is gone) and leave the target untouched.
pub fn remove_live_temporaries() -> usize {
    live::remove_all().0
}

/// Makes SIGINT, SIGTERM and SIGHUP remove every live temporary (see
/// [`remove_live_temporaries`]) and end the process with exit status 128 + the signal number
/// (130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP). A target being replaced is left as it was;
/// one whose rename already happened is complete.
///
/// Call it first thing in `main`, before any other thread starts: it blocks the three signals in
/// the calling thread (threads started later inherit that) and waits for them in a dedicated
/// thread with `sigwait`, so the clean-up runs as ordinary code, not in a signal handler. A
/// thread started before the call still has the signals unblocked and may receive one with its
/// default action (the process ends without clean-up). Calling it again does nothing. On
/// platforms other than Unix it does nothing.
///
/// The signal mask is inherited by child processes; a program that spawns some should unblock
/// the signals in them.
pub fn install_signal_cleanup() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        static INSTALLED: std::sync::OnceLock<()> = std::sync::OnceLock::new();
        let mut result = Ok(());
        INSTALLED.get_or_init(|| result = unix_signals::install());
        result
    }
    #[cfg(not(unix))]
    {
        Ok(())
    }
}

#[cfg(unix)]
mod unix_signals {
    /// The signals that end the process after the clean-up.
    const SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

    pub(super) fn install() -> std::io::Result<()> {
        // SAFETY: `set` is initialised by `sigemptyset` before use; the calls only read and
        // write the set and this thread's signal mask.
        let set = unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for s in SIGNALS {
                libc::sigaddset(&mut set, s);
            }
            let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            if rc != 0 {
                return Err(std::io::Error::from_raw_os_error(rc));
            }
            set
        };
        let spawned = std::thread::Builder::new()
            .name("snn-signals".into())
            .spawn(move || {
                loop {
                    let mut sig: libc::c_int = 0;
                    // SAFETY: `set` is a valid, initialised signal set and `sig` a valid out
                    // pointer.
                    if unsafe { libc::sigwait(&set, &mut sig) } != 0 {
                        continue;
                    }
                    // Keep the registry locked until the exit: no temporary is created after
                    // the clean-up.
                    let (_, _guard) = super::live::remove_all();
                    // SAFETY: `_exit` ends the process at once, without running destructors or
                    // handlers in the middle of other threads' work.
                    unsafe { libc::_exit(128 + sig) };
                }
            });
        if let Err(e) = spawned {
            // No thread waits for the signals: restore their default action.
            // SAFETY: as above.
            unsafe {
                libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            }
            return Err(e);
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Output paths, checked before any work
// ---------------------------------------------------------------------------------------------

/// The directory that holds `path` (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Where a write to `path` lands, for comparing paths: the canonical path when it exists, else
/// its canonical directory joined with its file name, else `path` made absolute.
pub fn resolved_target(path: &Path) -> PathBuf {
    if let Ok(p) = std::fs::canonicalize(path) {
        return p;
    }
    if let (Ok(dir), Some(name)) = (std::fs::canonicalize(parent_dir(path)), path.file_name()) {
        return dir.join(name);
    }
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Whether writing to `a` and to `b` would write the same file (compared by
/// [`resolved_target`]: `out/x.csv`, `./out/x.csv` and a symbolic link to it are the same).
pub fn same_target(a: &Path, b: &Path) -> bool {
    resolved_target(a) == resolved_target(b)
}

/// Checks, before any work starts, that a file can be written at `path` and that doing so would
/// not destroy one of `inputs`: `path` has a file name and is not a directory, its directory
/// exists and a file can be created in it (tried by creating and removing a temporary, so
/// permissions, ACLs and read-only file systems all count), and it is not one of `inputs`
/// (compared by [`same_target`]). Errors are [`FileError::NotAFile`] and
/// [`FileError::Output`], naming `path` as given.
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("snn-types-doc-co-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// use snn_types::file::check_output;
///
/// let spec = dir.join("net.toml");
/// std::fs::write(&spec, "dt_ms = 0.1").unwrap();
/// check_output(&dir.join("raster.csv"), &[&spec]).unwrap();
/// let e = check_output(&spec, &[&spec]).unwrap_err();
/// assert!(e.to_string().ends_with(&format!("would overwrite the input file {}", spec.display())));
/// let e = check_output(&dir.join("no/raster.csv"), &[]).unwrap_err();
/// assert!(e.to_string().ends_with("does not exist"));
/// let e = check_output(&dir, &[]).unwrap_err();
/// assert!(e.to_string().ends_with(": is a directory"));
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn check_output(path: &Path, inputs: &[&Path]) -> Result<(), FileError> {
    if !names_a_file(path) {
        return Err(FileError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    if std::fs::metadata(path).is_ok_and(|m| m.is_dir()) {
        return Err(FileError::output(path, OutputProblem::IsDirectory));
    }
    check_not_special(path)?;
    let dir = parent_dir(path);
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(FileError::output(
                path,
                OutputProblem::NotADirectory(dir.to_path_buf()),
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(FileError::output(
                path,
                OutputProblem::MissingDirectory(dir.to_path_buf()),
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            return Err(FileError::output(
                path,
                OutputProblem::NotADirectory(dir.to_path_buf()),
            ));
        }
        Err(error) => {
            return Err(FileError::output(
                path,
                OutputProblem::NotWritable {
                    dir: dir.to_path_buf(),
                    error,
                },
            ));
        }
    }
    if let Some(input) = inputs.iter().find(|i| same_target(path, i)) {
        return Err(FileError::output(
            path,
            OutputProblem::IsInput(input.to_path_buf()),
        ));
    }
    // Can a file be created there? Try it the way the write will (a registered temporary).
    let mut last = None;
    for _ in 0..16 {
        let temp = temp_sibling(path)?;
        match live::create_registered(&temp) {
            Ok((f, id)) => {
                drop(f);
                let _ = std::fs::remove_file(&temp);
                live::unregister(id);
                return Ok(());
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(error) => {
                return Err(FileError::output(
                    path,
                    OutputProblem::NotWritable {
                        dir: dir.to_path_buf(),
                        error,
                    },
                ));
            }
        }
    }
    Err(FileError::output(
        path,
        OutputProblem::NotWritable {
            dir: dir.to_path_buf(),
            error: last.unwrap_or_else(|| std::io::Error::other("no free temporary name")),
        },
    ))
}

// ---------------------------------------------------------------------------------------------
// CRC-32
// ---------------------------------------------------------------------------------------------

/// The CRC-32 (IEEE 802.3, reflected polynomial `0xEDB88320`) lookup table, built at compile
/// time.
const CRC_TABLE: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

/// An incremental CRC-32 (IEEE, as in zlib, PNG and Ethernet).
///
/// ```
/// let mut c = snn_types::file::Crc32::new();
/// c.update(b"1234");
/// c.update(b"56789");
/// assert_eq!(c.finish(), 0xCBF4_3926);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Crc32(u32);

impl Default for Crc32 {
    fn default() -> Self {
        Self::new()
    }
}

impl Crc32 {
    /// A checksum of no bytes yet.
    pub fn new() -> Self {
        Crc32(0xFFFF_FFFF)
    }

    /// Adds `bytes`.
    pub fn update(&mut self, bytes: &[u8]) {
        let mut c = self.0;
        for &b in bytes {
            c = CRC_TABLE[((c ^ b as u32) & 0xFF) as usize] ^ (c >> 8);
        }
        self.0 = c;
    }

    /// The checksum of everything added.
    pub fn finish(&self) -> u32 {
        !self.0
    }
}

/// The CRC-32 (IEEE) of `bytes`: `crc32(b"123456789") == 0xCBF43926`.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut c = Crc32::new();
    c.update(bytes);
    c.finish()
}

// ---------------------------------------------------------------------------------------------
// Framed binary format
// ---------------------------------------------------------------------------------------------

/// The first 8 bytes of every framed file.
pub const MAGIC: &[u8; 8] = b"SNNFRAME";

/// Bytes before the body: magic, kind, version, length, CRC-32.
pub const HEADER_LEN: usize = 8 + 4 + 4 + 8 + 4;

/// What a framed file holds: a 4-byte tag stored in the file and a description for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameKind {
    /// The tag stored at offset 8.
    pub tag: [u8; 4],
    /// What a file of this kind is, with its article ("a training checkpoint").
    pub description: &'static str,
}

impl FrameKind {
    /// A training checkpoint (`snn-learn`'s `Trainer`).
    pub const CHECKPOINT: FrameKind = FrameKind::new(*b"CKPT", "a training checkpoint");
    /// A Diehl & Cook STDP classifier's weights (`snn-learn`'s `DiehlCook`).
    pub const STDP_WEIGHTS: FrameKind = FrameKind::new(*b"STDP", "an STDP weight file");
    /// Snapshots of a projection's weights over a run (`snn-core`'s `WeightHistory`).
    pub const WEIGHT_HISTORY: FrameKind = FrameKind::new(*b"WHST", "a weight history");
    /// Every kind the toolkit writes (tags never collide), for messages about a wrong kind.
    pub const KNOWN: &'static [FrameKind] = &[
        FrameKind::CHECKPOINT,
        FrameKind::STDP_WEIGHTS,
        FrameKind::WEIGHT_HISTORY,
    ];

    /// A kind with its tag and description.
    pub const fn new(tag: [u8; 4], description: &'static str) -> Self {
        FrameKind { tag, description }
    }

    /// The known kind with `tag`, if any.
    pub fn from_tag(tag: [u8; 4]) -> Option<FrameKind> {
        Self::KNOWN.iter().copied().find(|k| k.tag == tag)
    }
}

impl fmt::Display for FrameKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description)
    }
}

/// Describes a found tag for an error message.
fn describe_tag(tag: [u8; 4]) -> String {
    match FrameKind::from_tag(tag) {
        Some(k) => k.description.to_string(),
        None => format!("an snn file of unknown kind \"{}\"", tag.escape_ascii()),
    }
}

fn le_u32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_le_bytes(a)
}

fn le_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

/// The kind tag of a framed file, if `bytes` start with a frame header; `None` otherwise.
/// Checks nothing else (use it to dispatch on what a file is).
pub fn peek_kind(bytes: &[u8]) -> Option<[u8; 4]> {
    if bytes.len() >= 12 && &bytes[..8] == MAGIC {
        let mut t = [0u8; 4];
        t.copy_from_slice(&bytes[8..12]);
        Some(t)
    } else {
        None
    }
}

/// Frames an already encoded body (most callers want [`encode_framed`]).
pub fn frame_bytes(kind: FrameKind, version: u32, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&kind.tag);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    let mut c = Crc32::new();
    c.update(&out[8..24]);
    c.update(body);
    out.extend_from_slice(&c.finish().to_le_bytes());
    out.extend_from_slice(body);
    out
}

/// Encodes `value` with postcard and frames it as `kind`, body format `version`.
pub fn encode_framed<T: Serialize + ?Sized>(
    kind: FrameKind,
    version: u32,
    value: &T,
) -> Result<Vec<u8>, FileError> {
    let body = postcard::to_stdvec(value).map_err(|source| FileError::Encode {
        kind: kind.description,
        source,
    })?;
    Ok(frame_bytes(kind, version, &body))
}

/// A checked frame: its body's format version and the body bytes (not yet decoded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The body's format version (at most the `max_version` given to [`decode_frame`]).
    pub version: u32,
    /// The body, checksum verified.
    pub body: &'a [u8],
}

/// Checks a frame (header, magic, kind, length, checksum, version no newer than `max_version`)
/// and returns its body undecoded: for readers that handle several body versions. `origin`
/// names the source in errors.
pub fn decode_frame<'a>(
    bytes: &'a [u8],
    kind: FrameKind,
    max_version: u32,
    origin: &str,
) -> Result<Frame<'a>, FileError> {
    let origin_s = || origin.to_string();
    if bytes.len() < 8 || &bytes[..8] != MAGIC {
        // A prefix of the magic is a truncated frame; anything else is not ours.
        if bytes.len() < 8 && MAGIC.starts_with(bytes) {
            return Err(FileError::Truncated {
                origin: origin_s(),
                detail: format!(
                    "{} bytes, a frame header alone is {HEADER_LEN}",
                    bytes.len()
                ),
            });
        }
        return Err(FileError::NotSnnFile { origin: origin_s() });
    }
    if bytes.len() < HEADER_LEN {
        return Err(FileError::Truncated {
            origin: origin_s(),
            detail: format!(
                "{} bytes, a frame header alone is {HEADER_LEN}",
                bytes.len()
            ),
        });
    }
    let mut tag = [0u8; 4];
    tag.copy_from_slice(&bytes[8..12]);
    if tag != kind.tag {
        return Err(FileError::WrongKind {
            origin: origin_s(),
            expected: kind.description,
            found: describe_tag(tag),
        });
    }
    let version = le_u32(&bytes[12..16]);
    let len = le_u64(&bytes[16..24]);
    let stored_crc = le_u32(&bytes[24..28]);
    let have = (bytes.len() - HEADER_LEN) as u64;
    if len > have {
        return Err(FileError::Truncated {
            origin: origin_s(),
            detail: format!("the header announces a {len}-byte body, {have} bytes follow it"),
        });
    }
    if len < have {
        return Err(FileError::TrailingBytes {
            origin: origin_s(),
            count: have - len,
        });
    }
    let body = &bytes[HEADER_LEN..];
    let mut c = Crc32::new();
    c.update(&bytes[8..24]);
    c.update(body);
    if c.finish() != stored_crc {
        return Err(FileError::Checksum { origin: origin_s() });
    }
    if version > max_version {
        return Err(FileError::NewerVersion {
            origin: origin_s(),
            kind: kind.description,
            found: version,
            supported: max_version,
        });
    }
    Ok(Frame { version, body })
}

/// Decodes a postcard body (every byte must be used).
pub fn decode_body<T: DeserializeOwned>(
    body: &[u8],
    kind: FrameKind,
    origin: &str,
) -> Result<T, FileError> {
    let (value, rest) =
        postcard::take_from_bytes::<T>(body).map_err(|source| FileError::Decode {
            origin: origin.to_string(),
            kind: kind.description,
            source,
        })?;
    if !rest.is_empty() {
        return Err(FileError::TrailingBytes {
            origin: origin.to_string(),
            count: rest.len() as u64,
        });
    }
    Ok(value)
}

/// Decodes a frame of `kind` whose body is exactly format `version`: a newer version is
/// [`FileError::NewerVersion`], an older one [`FileError::OlderVersion`]. `origin` names the
/// source in errors.
pub fn decode_framed<T: DeserializeOwned>(
    bytes: &[u8],
    kind: FrameKind,
    version: u32,
    origin: &str,
) -> Result<T, FileError> {
    let frame = decode_frame(bytes, kind, version, origin)?;
    if frame.version != version {
        return Err(FileError::OlderVersion {
            origin: origin.to_string(),
            format: format!("{kind} format version {}", frame.version),
        });
    }
    decode_body(frame.body, kind, origin)
}

/// Encodes `value` as a frame and writes it to `path` atomically.
pub fn write_framed<T: Serialize + ?Sized>(
    path: &Path,
    kind: FrameKind,
    version: u32,
    value: &T,
) -> Result<(), FileError> {
    atomic_write(path, &encode_framed(kind, version, value)?)
}

/// Reads a whole file, naming it in the error. A special file (a device such as `/dev/zero`, a
/// pipe: no size known beforehand) is read up to [`MAX_SPECIAL_FILE_BYTES`], so an endless one
/// is refused instead of filling memory; a regular file is read whole.
pub fn read(path: &Path) -> Result<Vec<u8>, FileError> {
    read_capped(path, MAX_SPECIAL_FILE_BYTES)
}

/// A whole file; a special file up to `special_cap` bytes.
fn read_capped(path: &Path, special_cap: u64) -> Result<Vec<u8>, FileError> {
    let special = std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir());
    if special {
        read_limited(path, special_cap)
    } else {
        std::fs::read(path).map_err(|e| FileError::io(path, "read", e))
    }
}

/// [`read`] as UTF-8 text (a byte-order mark at the start is dropped); a special file up to
/// [`MAX_SPECIAL_TEXT_BYTES`].
pub fn read_text(path: &Path) -> Result<String, FileError> {
    let bytes = read_capped(path, MAX_SPECIAL_TEXT_BYTES)?;
    text_of(&bytes).map(str::to_string).map_err(|why| {
        FileError::io(
            path,
            "read",
            std::io::Error::new(std::io::ErrorKind::InvalidData, why),
        )
    })
}

/// `bytes` without a leading UTF-8 byte-order mark (some editors write one; it is not part of
/// the text).
pub fn without_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

/// The UTF-8 text of a file's `bytes` ([`without_bom`]), or why it is not text.
pub fn text_of(bytes: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(without_bom(bytes))
        .map_err(|e| format!("not UTF-8 text (byte {})", e.valid_up_to()))
}

/// Largest special file (a device or a pipe) [`read`] takes: 1 GiB (a checkpoint or raster
/// streamed through a pipe).
pub const MAX_SPECIAL_FILE_BYTES: u64 = 1 << 30;

/// Largest special file [`read_text`] takes: 256 MiB (CSV, architecture and mapping files).
pub const MAX_SPECIAL_TEXT_BYTES: u64 = 256 << 20;

/// Largest network spec file read (256 MiB): far beyond any spec, even with long spike arrays,
/// and a bound on what an endless or huge file (`/dev/zero`, a mistaken dataset) can take
/// before it is refused.
pub const MAX_SPEC_BYTES: u64 = 256 << 20;

/// Reads a whole file of at most `limit` bytes, naming it in the error. A larger regular file is
/// refused before anything is read; a special file (`/dev/zero`, a pipe) is read until it ends
/// or passes the limit, so an endless one cannot fill memory.
pub fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, FileError> {
    use std::io::Read;
    let too_large = || {
        FileError::io(
            path,
            "read",
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "larger than {} MiB, the limit for this kind of file",
                    limit >> 20
                ),
            ),
        )
    };
    let f = std::fs::File::open(path).map_err(|e| FileError::io(path, "read", e))?;
    if let Ok(m) = f.metadata()
        && m.is_file()
        && m.len() > limit
    {
        return Err(too_large());
    }
    let mut buf = Vec::new();
    f.take(limit.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(|e| FileError::io(path, "read", e))?;
    if buf.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(buf)
}

/// Reads a frame of `kind`, body format `version`, from `path` (see [`decode_framed`]).
pub fn read_framed<T: DeserializeOwned>(
    path: &Path,
    kind: FrameKind,
    version: u32,
) -> Result<T, FileError> {
    let bytes = read(path)?;
    decode_framed(&bytes, kind, version, &path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_known_values() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
    }

    /// A temporary that a killed process left next to a target is removed by the next write of
    /// that target once it is a minute old; a fresh one, this process's own, a running
    /// process's, another target's and other files are kept.
    #[test]
    fn stale_temporaries_of_killed_processes_are_removed() {
        let dir = std::env::temp_dir().join(format!(
            "snn-types-stale-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        // No process has a pid above Linux's largest pid_max (2^22).
        let (dead, dead2, me) = (4_294_967_295u32, 4_294_967_294u32, std::process::id());
        let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
        let make = |name: &str, old: bool| {
            let p = dir.join(name);
            let f = std::fs::File::create(&p).unwrap();
            if old {
                f.set_modified(hour_ago).unwrap();
            }
            p
        };
        let stale = make(&format!(".r.csv.{dead}.0.tmp.csv"), true);
        let kept = [
            make(&format!(".r.csv.{dead2}.1.tmp.csv"), false),
            make(&format!(".r.csv.{me}.99.tmp.csv"), true),
            make(".r.csv.1.5.tmp.csv", true),
            make(&format!(".other.csv.{dead}.0.tmp.csv"), true),
            make(&format!(".r.csv.{dead}.0.tmp.txt"), true),
            make(&format!("r.csv.{dead}.0.tmp.csv"), true),
            make("notes.txt", true),
        ];
        atomic_write(&dir.join("r.csv"), b"x\n").unwrap();
        if Path::new("/proc/self").exists() {
            assert!(!stale.exists(), "the stale temporary is gone");
        }
        for k in &kept {
            assert!(k.exists(), "{} kept", k.display());
        }
        assert_eq!(std::fs::read(dir.join("r.csv")).unwrap(), b"x\n");
        assert_eq!(temp_owner(".a.b.12.3.tmp", "a.b", None), Some(12));
        assert_eq!(temp_owner(".a.b.12.3.tmp.b", "a.b", Some("b")), Some(12));
        assert_eq!(temp_owner(".a.b.12.3.tmp", "a.b", Some("b")), None);
        assert_eq!(temp_owner(".a.b.x.3.tmp", "a.b", None), None);
        assert_eq!(temp_owner(".a.bc.12.3.tmp", "a.b", None), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn temp_names_are_unique_and_recognised() {
        let a = temp_sibling(Path::new("dir/raster.csv")).unwrap();
        let b = temp_sibling(Path::new("dir/raster.csv")).unwrap();
        assert_ne!(a, b);
        assert_eq!(a.parent(), Some(Path::new("dir")));
        let name = a.file_name().unwrap();
        let s = name.to_str().unwrap();
        assert!(s.starts_with(".raster.csv."), "{s}");
        assert!(s.ends_with(".tmp.csv"), "{s}");
        assert!(is_temp_name(name));
        let c = temp_sibling(Path::new("noext")).unwrap();
        assert!(c.to_str().unwrap().ends_with(".tmp"));
        assert!(is_temp_name(c.file_name().unwrap()));
        for plain in ["raster.csv", ".hidden", ".a.tmp", "x.1.2.tmp", ".x.a.2.tmp"] {
            assert!(!is_temp_name(std::ffi::OsStr::new(plain)), "{plain}");
        }
        assert!(matches!(
            temp_sibling(Path::new("/")),
            Err(FileError::NotAFile { .. })
        ));
    }
}
