//! Atomic file writes for xtask. xtask depends on no crate of the workspace (it runs cargo and
//! the binary; see ../shared/DESIGN.md), so it keeps this one small copy of the rule that
//! `snn_types::file` implements for the libraries: a temporary with a unique name in the target's
//! directory, fsync, rename over the target, and no temporary left behind on failure.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temporary next to `target`, removed on drop unless [`commit`](Self::commit)ted.
pub struct TempFile {
    target: PathBuf,
    temp: PathBuf,
    done: bool,
}

impl TempFile {
    /// A unique temporary path for `target` (`.<name>.<pid>.<n>.tmp`); nothing is created yet.
    pub fn new(target: &Path) -> Result<Self> {
        let name = target
            .file_name()
            .with_context(|| format!("{} has no file name", target.display()))?
            .to_string_lossy();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let temp = target.with_file_name(format!(".{name}.{}.{n}.tmp", std::process::id()));
        Ok(Self {
            target: target.to_path_buf(),
            temp,
            done: false,
        })
    }

    /// The temporary's path (for tools that write a path themselves).
    pub fn path(&self) -> &Path {
        &self.temp
    }

    /// Syncs the temporary and renames it over the target.
    pub fn commit(mut self) -> Result<()> {
        std::fs::File::open(&self.temp)
            .and_then(|f| f.sync_all())
            .and_then(|_| std::fs::rename(&self.temp, &self.target))
            .with_context(|| format!("cannot write {}", self.target.display()))?;
        self.done = true;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let t = TempFile::new(path)?;
    std::fs::File::create(t.path())
        .and_then(|mut f| f.write_all(bytes))
        .with_context(|| format!("cannot write {}", path.display()))?;
    t.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replace_the_target_and_leave_no_temporary() {
        let dir = std::env::temp_dir().join(format!("xtask-fsutil-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("a.txt");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        // A failed write (the target is a non-empty directory) is an error naming the target.
        let e = write_atomic(&dir, b"x").unwrap_err().to_string();
        assert!(e.contains("cannot write"), "{e}");
        {
            let t = TempFile::new(&p).unwrap();
            std::fs::write(t.path(), b"abandoned").unwrap();
        }
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("a.txt")], "{names:?}");
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        std::fs::remove_dir_all(&dir).ok();
    }
}
