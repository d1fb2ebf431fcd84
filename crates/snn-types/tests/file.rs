//! The file module: atomic writes under errors, panics and concurrency; the framed format's
//! round trip, every error message, and no panic on any input.

use std::io::Write;
use std::path::{Path, PathBuf};

mod common;
use common::scratch;

use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use snn_types::file::{
    AtomicFile, FileError, FrameKind, HEADER_LEN, OutputProblem, atomic_write, atomic_write_with,
    check_output, crc32, decode_frame, decode_framed, encode_framed, frame_bytes, is_temp_name,
    live_temporaries, peek_kind, read_framed, same_target, write_framed,
};

/// Every file name in `d`, sorted.
fn names(d: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn crc32_of_the_check_string() {
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
}

#[test]
fn atomic_write_replaces_and_leaves_no_temporary() {
    let d = scratch("file-replace");
    let p = d.join("a.txt");
    atomic_write(&p, b"one").unwrap();
    atomic_write(&p, b"two").unwrap();
    assert_eq!(std::fs::read(&p).unwrap(), b"two");
    assert_eq!(names(&d), ["a.txt"]);
}

#[test]
fn an_error_mid_write_keeps_the_old_file_and_no_temporary() {
    let d = scratch("file-midwrite");
    let p = d.join("raster.csv");
    atomic_write(&p, b"old contents\n").unwrap();
    let err = atomic_write_with(&p, |w| {
        w.write_all(&[b'x'; 100_000])?;
        Err(std::io::Error::other("simulation failed"))
    })
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("raster.csv") && msg.contains("cannot write"),
        "{msg}"
    );
    assert!(msg.contains("simulation failed"), "{msg}");
    assert_eq!(std::fs::read(&p).unwrap(), b"old contents\n");
    assert_eq!(names(&d), ["raster.csv"]);
}

#[test]
fn a_panic_or_a_drop_without_commit_keeps_the_old_file() {
    let d = scratch("file-panic");
    let p = d.join("w.bin");
    atomic_write(&p, b"old").unwrap();
    let r = std::panic::catch_unwind(|| {
        let _ = atomic_write_with(&p, |w| {
            w.write_all(b"new")?;
            panic!("boom");
        });
    });
    assert!(r.is_err());
    {
        let mut f = AtomicFile::create(&p).unwrap();
        f.write_all(b"never committed").unwrap();
        f.flush().unwrap();
        assert!(f.temp_path().exists());
        assert!(is_temp_name(f.temp_path().file_name().unwrap()));
        assert_eq!(f.target(), p);
    }
    assert_eq!(std::fs::read(&p).unwrap(), b"old");
    assert_eq!(names(&d), ["w.bin"]);
}

#[test]
fn a_missing_directory_is_an_error_naming_the_path() {
    let d = scratch("file-missing");
    let p = d.join("no/such/dir/x.csv");
    let msg = atomic_write(&p, b"x").unwrap_err().to_string();
    assert!(msg.contains("no/such/dir/x.csv"), "{msg}");
    assert!(msg.contains("cannot create a temporary file for"), "{msg}");
    let msg = atomic_write(Path::new("/"), b"x").unwrap_err().to_string();
    assert!(msg.contains("not a file path"), "{msg}");
}

#[test]
fn external_writers_can_fill_the_temporary_path() {
    let d = scratch("file-external");
    let p = d.join("chart.png");
    let f = AtomicFile::create(&p).unwrap();
    assert_eq!(f.temp_path().extension().unwrap(), "png");
    std::fs::write(f.temp_path(), b"written by someone else").unwrap();
    f.commit().unwrap();
    assert_eq!(std::fs::read(&p).unwrap(), b"written by someone else");
    assert_eq!(names(&d), ["chart.png"]);
}

#[test]
fn concurrent_writes_to_one_target_never_corrupt_it() {
    let d = scratch("file-concurrent");
    let p = d.join("shared.bin");
    // Each writer writes a large file made of its own byte; the target must always be exactly
    // one writer's whole file.
    let len = 256 * 1024;
    std::thread::scope(|s| {
        for t in 0..8u8 {
            let p = &p;
            s.spawn(move || {
                for _ in 0..5 {
                    atomic_write_with(p, |w| {
                        for _ in 0..len / 4096 {
                            w.write_all(&[t; 4096])?;
                        }
                        Ok(())
                    })
                    .unwrap();
                    let b = std::fs::read(p).unwrap();
                    assert_eq!(b.len(), len);
                    assert!(b.iter().all(|&x| x == b[0]), "a mixed file");
                }
            });
        }
    });
    assert_eq!(names(&d), ["shared.bin"]);
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Model {
    name: String,
    weights: Vec<f32>,
    epoch: u32,
}

fn model() -> Model {
    Model {
        name: "digits".into(),
        weights: vec![0.5, -1.25, 3.0],
        epoch: 7,
    }
}

#[test]
fn framed_round_trip_in_memory_and_on_disk() {
    let m = model();
    let b = encode_framed(FrameKind::CHECKPOINT, 3, &m).unwrap();
    assert_eq!(&b[..8], b"SNNFRAME");
    assert_eq!(&b[8..12], b"CKPT");
    assert_eq!(&b[12..16], &3u32.to_le_bytes());
    assert_eq!(peek_kind(&b), Some(*b"CKPT"));
    assert_eq!(
        decode_framed::<Model>(&b, FrameKind::CHECKPOINT, 3, "m").unwrap(),
        m
    );
    let f = decode_frame(&b, FrameKind::CHECKPOINT, 5, "m").unwrap();
    assert_eq!(f.version, 3);
    assert_eq!(
        f.body.len() as u64,
        u64::from_le_bytes(b[16..24].try_into().unwrap())
    );

    let d = scratch("file-framed");
    let p = d.join("m.ckpt");
    write_framed(&p, FrameKind::STDP_WEIGHTS, 1, &m).unwrap();
    assert_eq!(
        read_framed::<Model>(&p, FrameKind::STDP_WEIGHTS, 1).unwrap(),
        m
    );
    assert_eq!(names(&d), ["m.ckpt"]);
    let msg = read_framed::<Model>(&d.join("nope"), FrameKind::STDP_WEIGHTS, 1)
        .unwrap_err()
        .to_string();
    assert!(
        msg.starts_with("cannot read ") && msg.contains("nope: "),
        "{msg}"
    );
}

fn err(bytes: &[u8]) -> String {
    decode_framed::<Model>(bytes, FrameKind::CHECKPOINT, 2, "run/m.ckpt")
        .unwrap_err()
        .to_string()
}

#[test]
fn every_framed_error_names_the_file_and_the_problem() {
    let good = encode_framed(FrameKind::CHECKPOINT, 2, &model()).unwrap();

    // Truncated header, truncated body.
    assert_eq!(
        err(&good[..10]),
        format!("run/m.ckpt: truncated: 10 bytes, a frame header alone is {HEADER_LEN}")
    );
    assert_eq!(
        err(&good[..3]),
        format!("run/m.ckpt: truncated: 3 bytes, a frame header alone is {HEADER_LEN}")
    );
    let body = good.len() - HEADER_LEN;
    assert_eq!(
        err(&good[..good.len() - 1]),
        format!(
            "run/m.ckpt: truncated: the header announces a {body}-byte body, {} bytes follow it",
            body - 1
        )
    );
    // Not ours.
    assert_eq!(
        err(b"step,neuron\n0,1\n"),
        "run/m.ckpt: not an snn file (bad magic bytes)"
    );
    assert_eq!(
        err(b""),
        format!("run/m.ckpt: truncated: 0 bytes, a frame header alone is {HEADER_LEN}")
    );
    // Another kind.
    let stdp = encode_framed(FrameKind::STDP_WEIGHTS, 2, &model()).unwrap();
    assert_eq!(
        err(&stdp),
        "run/m.ckpt: is an STDP weight file, expected a training checkpoint"
    );
    let odd = encode_framed(FrameKind::new(*b"ZZ\0Z", "odd"), 2, &model()).unwrap();
    assert_eq!(
        err(&odd),
        "run/m.ckpt: is an snn file of unknown kind \"ZZ\\x00Z\", expected a training checkpoint"
    );
    // Newer, older.
    let newer = encode_framed(FrameKind::CHECKPOINT, 9, &model()).unwrap();
    assert_eq!(
        err(&newer),
        "run/m.ckpt: a training checkpoint format version 9 was written by a newer version of \
         snn (this build reads up to version 2)"
    );
    let older = encode_framed(FrameKind::CHECKPOINT, 1, &model()).unwrap();
    assert_eq!(
        err(&older),
        "run/m.ckpt: written by an older version of snn (a training checkpoint format version \
         1); retrain or convert"
    );
    // Corrupt body, corrupt header field.
    let mut bad = good.clone();
    *bad.last_mut().unwrap() ^= 1;
    assert_eq!(err(&bad), "run/m.ckpt: corrupt: checksum mismatch");
    let mut bad = good.clone();
    bad[13] ^= 0x40; // the version field: a flipped bit is corruption, not a "newer version"
    assert_eq!(err(&bad), "run/m.ckpt: corrupt: checksum mismatch");
    // Trailing bytes after the frame, and inside the body after the value.
    let mut long = good.clone();
    long.extend_from_slice(b"xyz");
    assert_eq!(err(&long), "run/m.ckpt: 3 unexpected bytes after the body");
    let mut body = postcard::to_stdvec(&model()).unwrap();
    body.push(0);
    let padded = frame_bytes(FrameKind::CHECKPOINT, 2, &body);
    assert_eq!(
        err(&padded),
        "run/m.ckpt: 1 unexpected bytes after the body"
    );
    // A body that is not a `Model`.
    let wrong = encode_framed(FrameKind::CHECKPOINT, 2, &(1u8, 2u8)).unwrap();
    let msg = err(&wrong);
    assert!(
        msg.starts_with("run/m.ckpt: cannot decode the body of a training checkpoint: "),
        "{msg}"
    );
}

#[test]
fn a_huge_announced_length_allocates_nothing() {
    let mut b = encode_framed(FrameKind::CHECKPOINT, 2, &model()).unwrap();
    b[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(err(&b).contains("truncated: the header announces"));
    // A valid frame whose body claims a 2^60-element vector.
    let mut body = vec![0u8; 0];
    body.push(1);
    body.push(b'a');
    body.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]);
    let f = frame_bytes(FrameKind::CHECKPOINT, 2, &body);
    assert!(err(&f).contains("cannot decode the body"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode_framed::<Model>(&bytes, FrameKind::CHECKPOINT, 2, "x");
        let mut framed = b"SNNFRAMECKPT".to_vec();
        framed.extend_from_slice(&bytes);
        let _ = decode_framed::<Model>(&framed, FrameKind::CHECKPOINT, 2, "x");
        let _ = decode_frame(&framed, FrameKind::CHECKPOINT, u32::MAX, "x");
    }

    #[test]
    fn truncated_or_mutated_frames_never_panic_and_never_decode_wrongly(
        cut in 0usize..200,
        flips in proptest::collection::vec((0usize..200, 1u8..=255), 0..4),
        random_body in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let good = encode_framed(FrameKind::CHECKPOINT, 2, &model()).unwrap();
        let t = &good[..cut.min(good.len())];
        let r = decode_framed::<Model>(t, FrameKind::CHECKPOINT, 2, "x");
        prop_assert_eq!(r.is_ok(), t.len() == good.len());

        let mut m = good.clone();
        for (i, x) in &flips {
            let i = i % m.len();
            m[i] ^= x;
        }
        match decode_framed::<Model>(&m, FrameKind::CHECKPOINT, 2, "x") {
            Ok(v) => prop_assert_eq!(v, model()),
            Err(e) => prop_assert!(e.to_string().starts_with("x: ")),
        }
        // A checksum-valid frame around arbitrary bytes: the body decoder must cope.
        let f = frame_bytes(FrameKind::CHECKPOINT, 2, &random_body);
        let _ = decode_framed::<Model>(&f, FrameKind::CHECKPOINT, 2, "x");
    }
}

#[test]
fn file_errors_are_matchable() {
    let e = decode_framed::<Model>(b"nope", FrameKind::CHECKPOINT, 1, "x").unwrap_err();
    assert!(matches!(e, FileError::NotSnnFile { .. }));
}

/// Whether this process ignores file permissions (root): read-only directories cannot be tested.
fn permissions_ignored(d: &Path) -> bool {
    let probe = d.join("ro-probe");
    std::fs::create_dir_all(&probe).unwrap();
    set_mode(&probe, 0o555);
    let ignored = std::fs::write(probe.join("x"), b"x").is_ok();
    set_mode(&probe, 0o755);
    std::fs::remove_dir_all(&probe).unwrap();
    ignored
}

#[cfg(unix)]
fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[cfg(not(unix))]
fn set_mode(p: &Path, mode: u32) {
    let mut perm = std::fs::metadata(p).unwrap().permissions();
    perm.set_readonly(mode & 0o200 == 0);
    std::fs::set_permissions(p, perm).unwrap();
}

#[test]
fn io_errors_name_the_path_once_and_the_os_reason_once() {
    let d = scratch("file-msgshape");
    let p = d.join("nodir").join("x.csv");
    let e = atomic_write(&p, b"x").unwrap_err();
    let reason = std::io::Error::from_raw_os_error(
        std::fs::metadata(d.join("nodir"))
            .unwrap_err()
            .raw_os_error()
            .unwrap(),
    );
    assert_eq!(
        e.to_string(),
        format!(
            "cannot create a temporary file for {}: {reason}",
            p.display()
        )
    );
    // The reason is in the message, not also the source: a printed chain shows it once.
    assert!(std::error::Error::source(&e).is_none());
}

#[test]
fn a_directory_target_is_refused_before_any_temporary_exists() {
    let d = scratch("file-dirtarget");
    let target = d.join("out.csv");
    std::fs::create_dir(&target).unwrap();
    let e = AtomicFile::create(&target).unwrap_err();
    assert!(
        matches!(
            e,
            FileError::Output {
                problem: OutputProblem::IsDirectory,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        format!("{}: is a directory", target.display())
    );
    assert!(atomic_write(&target, b"x").is_err());
    assert!(atomic_write_with(&target, |w| w.write_all(b"x")).is_err());
    assert!(write_framed(&target, FrameKind::CHECKPOINT, 1, &1u32).is_err());
    assert_eq!(names(&d), ["out.csv"]);
    assert!(target.is_dir() && std::fs::read_dir(&target).unwrap().next().is_none());
}

#[test]
fn live_temporaries_are_registered_until_commit_or_drop() {
    let d = scratch("file-live");
    let a = AtomicFile::create(&d.join("a.csv")).unwrap();
    let b = AtomicFile::create(&d.join("b.csv")).unwrap();
    let (ta, tb) = (a.temp_path().to_path_buf(), b.temp_path().to_path_buf());
    let live = live_temporaries();
    assert!(live.contains(&ta) && live.contains(&tb), "{live:?}");
    a.commit().unwrap();
    drop(b);
    let live = live_temporaries();
    assert!(!live.contains(&ta) && !live.contains(&tb), "{live:?}");
    assert_eq!(names(&d), ["a.csv"]);
}

#[test]
fn check_output_accepts_a_writable_path_and_leaves_nothing() {
    let d = scratch("file-check-ok");
    let input = d.join("net.toml");
    std::fs::write(&input, "x").unwrap();
    check_output(&d.join("r.csv"), &[&input]).unwrap();
    // An existing file is fine to replace.
    std::fs::write(d.join("old.csv"), "old").unwrap();
    check_output(&d.join("old.csv"), &[&input]).unwrap();
    assert_eq!(names(&d), ["net.toml", "old.csv"]);
    assert_eq!(std::fs::read_to_string(d.join("old.csv")).unwrap(), "old");
}

#[test]
fn check_output_refuses_each_bad_target_with_one_message() {
    let d = scratch("file-check-bad");
    let input = d.join("net.toml");
    std::fs::write(&input, "spec").unwrap();
    std::fs::create_dir(d.join("sub")).unwrap();
    let msg = |p: &Path, inputs: &[&Path]| check_output(p, inputs).unwrap_err().to_string();
    let sub = d.join("sub");
    assert_eq!(msg(&sub, &[]), format!("{}: is a directory", sub.display()));
    let missing = d.join("nodir").join("r.csv");
    assert_eq!(
        msg(&missing, &[]),
        format!(
            "{}: directory {} does not exist",
            missing.display(),
            d.join("nodir").display()
        )
    );
    let under_file = input.join("r.csv");
    assert_eq!(
        msg(&under_file, &[]),
        format!(
            "{}: {} is not a directory",
            under_file.display(),
            input.display()
        )
    );
    // The input, spelled differently.
    let other_spelling = d.join("sub").join("..").join("net.toml");
    assert_eq!(
        msg(&other_spelling, &[&input]),
        format!(
            "{}: would overwrite the input file {}",
            other_spelling.display(),
            input.display()
        )
    );
    assert!(matches!(
        check_output(Path::new("/"), &[]),
        Err(FileError::NotAFile { .. })
    ));
    // `out.svg/` only a directory can be: refused up front (the rename used to fail after all
    // the work, e.g. `snn stdp --plot-weights fields.svg/` after training).
    let slash = PathBuf::from(format!("{}/", d.join("fields.svg").display()));
    assert!(matches!(
        check_output(&slash, &[]),
        Err(FileError::NotAFile { .. })
    ));
    assert!(
        atomic_write(&slash, b"x")
            .unwrap_err()
            .to_string()
            .contains("not a file path")
    );
    assert!(!d.join("fields.svg").exists());
    assert!(same_target(&other_spelling, &input));
    assert!(same_target(&d.join("sub/../x.csv"), &d.join("x.csv")));
    assert!(!same_target(&d.join("x.csv"), &d.join("y.csv")));
    #[cfg(unix)]
    {
        let link = d.join("link.toml");
        std::os::unix::fs::symlink(&input, &link).unwrap();
        let m = msg(&link, &[&input]);
        assert!(
            m.ends_with(&format!(
                "would overwrite the input file {}",
                input.display()
            )),
            "{m}"
        );
    }
    assert_eq!(std::fs::read_to_string(&input).unwrap(), "spec");
    assert!(
        !names(&d)
            .iter()
            .any(|n| is_temp_name(std::ffi::OsStr::new(n)))
    );
}

#[test]
fn check_output_refuses_a_read_only_directory() {
    let d = scratch("file-check-ro");
    if permissions_ignored(&d) {
        eprintln!("skipped: this process ignores file permissions (root)");
        return;
    }
    let ro = d.join("ro");
    std::fs::create_dir(&ro).unwrap();
    set_mode(&ro, 0o555);
    let p = ro.join("r.csv");
    let e = check_output(&p, &[]).unwrap_err();
    let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
    let os = std::fs::write(ro.join("probe"), b"").unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}: cannot write in directory {}: {os}",
            p.display(),
            ro.display()
        )
    );
    assert_eq!(os.kind(), denied.kind());
    let e = atomic_write(&p, b"x").unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("cannot create a temporary file for {}: {os}", p.display())
    );
    set_mode(&ro, 0o755);
    assert!(names(&ro).is_empty());
}

/// A pipe (like `/dev/null`, `/dev/full` or `/dev/stdout`, which root could otherwise replace)
/// is not replaced by a regular file: the write and the check refuse it, and it stays a pipe.
#[cfg(unix)]
#[test]
fn a_special_file_target_is_refused_and_kept() {
    use std::os::unix::fs::FileTypeExt;
    let d = scratch("file-fifo");
    let target = d.join("pipe");
    let c = std::ffi::CString::new(target.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path; mkfifo only creates a file system entry.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let link = d.join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    for p in [&target, &link] {
        let e = AtomicFile::create(p).unwrap_err();
        assert!(
            matches!(
                e,
                FileError::Output {
                    problem: OutputProblem::NotARegularFile,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains("is not a regular file"), "{e}");
        assert!(atomic_write(p, b"x").is_err());
        let e = check_output(p, &[]).unwrap_err();
        assert!(e.to_string().contains("is not a regular file"), "{e}");
    }
    assert!(
        std::fs::symlink_metadata(&target)
            .unwrap()
            .file_type()
            .is_fifo()
    );
    assert_eq!(names(&d), ["link", "pipe"]);
}

/// `read_limited` reads a file up to its limit, and refuses a larger regular file (before
/// reading) and an endless special file (`/dev/zero`, after `limit + 1` bytes) with an error
/// naming the file and the limit; a spec loaded from `/dev/zero` is refused the same way
/// instead of filling memory.
#[test]
fn read_limited_refuses_endless_and_oversized_files() {
    use snn_types::file::read_limited;
    let d = scratch("file-read-limited");
    let p = d.join("small.toml");
    std::fs::write(&p, vec![b'x'; 3 << 20]).unwrap();
    assert_eq!(read_limited(&p, 3 << 20).unwrap().len(), 3 << 20);
    let e = read_limited(&p, 2 << 20).unwrap_err().to_string();
    assert!(
        e.contains("small.toml") && e.contains("larger than 2 MiB"),
        "{e}"
    );
    let zero = Path::new("/dev/zero");
    if zero.exists() {
        let e = read_limited(zero, 1 << 20).unwrap_err().to_string();
        assert!(
            e.contains("/dev/zero") && e.contains("larger than 1 MiB"),
            "{e}"
        );
        let e = snn_types::NetworkSpec::load(zero).unwrap_err().to_string();
        assert!(
            e.contains("/dev/zero") && e.contains("larger than 256 MiB"),
            "{e}"
        );
    }
}

/// Spec files as careless users hand them over (session 10): a byte-order mark is skipped, an
/// snn binary file is named as such instead of "not UTF-8", and a parse error quoting a
/// megabyte-long line stays short.
#[test]
fn spec_files_with_a_bom_a_binary_frame_or_a_huge_line() {
    let d = scratch("spec-odd-files");
    let spec =
        "dt_ms = 0.1\n[[populations]]\nname = \"p\"\nsize = 2\nneuron = { model = \"lif_exp\" }\n";
    let bom = d.join("bom.toml");
    std::fs::write(&bom, [&b"\xEF\xBB\xBF"[..], spec.as_bytes()].concat()).unwrap();
    assert_eq!(
        snn_types::NetworkSpec::load(&bom)
            .unwrap()
            .populations
            .len(),
        1
    );
    let bin = d.join("model.toml");
    std::fs::write(&bin, [&snn_types::file::MAGIC[..], &[0u8; 40][..]].concat()).unwrap();
    let e = snn_types::NetworkSpec::load(&bin).unwrap_err().to_string();
    assert!(
        e.contains("model.toml") && e.contains("snn binary file"),
        "{e}"
    );
    let long = d.join("long.toml");
    std::fs::write(&long, format!("name = {}\n", "x".repeat(1 << 20))).unwrap();
    let e = snn_types::NetworkSpec::load(&long).unwrap_err().to_string();
    assert!(
        e.len() < 2000 && e.contains("more characters"),
        "{} chars",
        e.len()
    );
}
