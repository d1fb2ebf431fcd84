//! Scratch directories for the integration tests.
//!
//! Each `scratch(name)` is a fresh directory of its own under the system temp dir (process id,
//! a per-process counter and `name`: tests run in parallel threads of one process), removed
//! with everything in it when the guard is dropped, also when the test fails.

#![allow(dead_code)]

use std::ffi::OsStr;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A directory removed (with its contents) on drop; derefs to its `Path`.
pub struct Scratch(PathBuf);

/// A new empty directory `<crate>-<pid>-<n>-<name>` (e.g. `snn-cli-4242-0-demo`) under the
/// system temp dir.
pub fn scratch(name: &str) -> Scratch {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!(
        "{}-{}-{n}-{name}",
        env!("CARGO_PKG_NAME"),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    Scratch(d)
}

impl Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<OsStr> for Scratch {
    fn as_ref(&self) -> &OsStr {
        self.0.as_os_str()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
