//! `remove_live_temporaries` (what the signal clean-up runs): its own test binary, since it
//! removes every live temporary of the process and would disturb concurrent tests.

use std::io::Write;

use snn_types::file::{AtomicFile, atomic_write, live_temporaries, remove_live_temporaries};

mod common;
use common::scratch;

#[test]
fn removing_live_temporaries_leaves_targets_untouched() {
    let d = scratch("cleanup");
    let kept = d.join("kept.csv");
    atomic_write(&kept, b"previous\n").unwrap();
    let mut a = AtomicFile::create(&kept).unwrap();
    a.write_all(b"half of a new raster").unwrap();
    a.flush().unwrap();
    let b = AtomicFile::create(&d.join("new.bin")).unwrap();
    assert!(a.temp_path().exists() && b.temp_path().exists());
    assert_eq!(remove_live_temporaries(), 2);
    assert!(live_temporaries().is_empty());
    let names = |d: &std::path::Path| {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names(&d), ["kept.csv"]);
    // A guard whose temporary was removed cannot commit, and the target stays as it was.
    assert!(a.commit().is_err());
    drop(b);
    assert_eq!(std::fs::read(&kept).unwrap(), b"previous\n");
    assert_eq!(names(&d), ["kept.csv"]);
    assert_eq!(remove_live_temporaries(), 0);
}
