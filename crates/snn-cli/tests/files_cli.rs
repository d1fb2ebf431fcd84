//! Files written by every command: interrupted runs leave no temporary, output paths are checked
//! before any work (a usage error, exit code 2, naming the flag and the path), directory targets
//! leave nothing behind, and error messages name the user's path once and the OS reason once.

use std::path::Path;
use std::process::{Command, Output};

use snn_types::file::is_temp_name;

// The scratch-directory guard shared by the workspace's tests (one copy, in snn-types).
#[path = "../../snn-types/tests/common/mod.rs"]
mod common;
use common::scratch;

const SNN: &str = env!("CARGO_BIN_EXE_snn");

/// A small network for `chip`.
const NET: &str = r#"
name = "ff"
dt_ms = 1.0
seed = 3
[[populations]]
name = "in"
size = 20
neuron = { model = "input" }
[[populations]]
name = "h"
size = 30
neuron = { model = "lif_beta", beta = 0.9, threshold = 1.0 }
[[projections]]
source = "in"
target = "h"
connectivity = { rule = "fixed_probability", p = 0.3 }
weight = 0.3
[[stimuli]]
kind = "poisson"
target = "in"
rate_hz = 100.0
"#;

/// Every file name in `d`, sorted.
fn names(d: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn temporaries(d: &Path) -> Vec<String> {
    names(d)
        .into_iter()
        .filter(|n| is_temp_name(std::ffi::OsStr::new(n)))
        .collect()
}

fn run(d: &Path, args: &[&str]) -> Output {
    Command::new(SNN)
        .current_dir(d)
        .args(args)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts a usage error (exit code 2) whose message is exactly `message`, nothing on stdout.
fn assert_usage(o: &Output, message: &str) {
    assert_eq!(o.status.code(), Some(2), "{}", stderr(o));
    assert_eq!(stderr(o), format!("error: {message}\n"));
    assert!(
        o.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

// ------------------------------------------------------------------------------------------------
// Interruption
// ------------------------------------------------------------------------------------------------

/// Starts a long `snn simulate --raster r.csv` in `d`, waits for its temporary, sends `signal`,
/// and returns the exit code.
#[cfg(unix)]
fn interrupt_simulation(d: &Path, signal: libc::c_int) -> Option<i32> {
    let mut child = Command::new(SNN)
        .current_dir(d)
        .args([
            "simulate",
            "--neurons",
            "4000",
            "--duration-ms",
            "100000",
            "--raster",
            "r.csv",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait for the raster's temporary: one that stays (the output check's probe lasts an
    // instant).
    let t0 = std::time::Instant::now();
    loop {
        if t0.elapsed().as_secs() > 120 || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            panic!("the raster's temporary never appeared");
        }
        let seen = temporaries(d);
        std::thread::sleep(std::time::Duration::from_millis(200));
        if !seen.is_empty() && temporaries(d) == seen {
            break;
        }
    }
    // SAFETY: sends a signal to our own child process.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, signal) }, 0);
    child.wait().unwrap().code()
}

#[cfg(unix)]
#[test]
fn sigint_removes_the_temporary_and_keeps_the_previous_raster() {
    let d = scratch("files-sigint");
    std::fs::write(d.join("r.csv"), "previous\n").unwrap();
    assert_eq!(interrupt_simulation(&d, libc::SIGINT), Some(130));
    assert_eq!(names(&d), ["r.csv"]);
    assert_eq!(
        std::fs::read_to_string(d.join("r.csv")).unwrap(),
        "previous\n"
    );
}

#[cfg(unix)]
#[test]
fn sigterm_removes_the_temporary_and_writes_no_raster() {
    let d = scratch("files-sigterm");
    assert_eq!(interrupt_simulation(&d, libc::SIGTERM), Some(143));
    assert!(names(&d).is_empty(), "{:?}", names(&d));
}

// ------------------------------------------------------------------------------------------------
// Output paths checked before any work
// ------------------------------------------------------------------------------------------------

#[test]
fn simulate_checks_its_outputs_first() {
    let d = scratch("files-simulate");
    std::fs::write(d.join("net.toml"), NET).unwrap();
    std::fs::create_dir(d.join("sub")).unwrap();
    let cases: [(&[&str], &str); 6] = [
        (
            &["simulate", "net.toml", "--raster", "net.toml"],
            "--raster net.toml: would overwrite the input file net.toml",
        ),
        (
            &["simulate", "net.toml", "--plot", "./sub/../net.toml"],
            "--plot ./sub/../net.toml: would overwrite the input file net.toml",
        ),
        (
            &["simulate", "--raster", "x.svg", "--plot", "./x.svg"],
            "--plot ./x.svg: same file as --raster x.svg",
        ),
        (
            &["simulate", "--raster", "nodir/r.csv"],
            "--raster nodir/r.csv: directory nodir does not exist",
        ),
        (
            &["simulate", "--raster", "net.toml/r.csv"],
            "--raster net.toml/r.csv: net.toml is not a directory",
        ),
        (
            &["simulate", "--raster", "sub"],
            "--raster sub: is a directory",
        ),
    ];
    for (args, message) in cases {
        assert_usage(&run(&d, args), message);
    }
    assert_eq!(std::fs::read_to_string(d.join("net.toml")).unwrap(), NET);
    assert_eq!(names(&d), ["net.toml", "sub"]);
}

#[test]
fn encode_checks_its_outputs_first() {
    let d = scratch("files-encode");
    std::fs::write(d.join("in.csv"), "1,2,3\n").unwrap();
    std::fs::create_dir(d.join("sub.svg")).unwrap();
    let cases: [(&[&str], &str); 5] = [
        (
            &["encode", "--out", "-"],
            "--out -: writing to standard output is not supported; give a file name",
        ),
        (
            &["encode", "--csv", "in.csv", "--out", "in.csv"],
            "--out in.csv: would overwrite the input file in.csv",
        ),
        (
            &["encode", "--out", "a.svg", "--plot", "a.svg"],
            "--plot a.svg: same file as --out a.svg",
        ),
        (
            &["encode", "--out", "nodir/r.csv"],
            "--out nodir/r.csv: directory nodir does not exist",
        ),
        (
            &["encode", "--plot", "sub.svg"],
            "--plot sub.svg: is a directory",
        ),
    ];
    for (args, message) in cases {
        assert_usage(&run(&d, args), message);
    }
    assert_eq!(
        std::fs::read_to_string(d.join("in.csv")).unwrap(),
        "1,2,3\n"
    );
    assert_eq!(names(&d), ["in.csv", "sub.svg"]);
}

#[test]
fn chip_checks_its_outputs_first() {
    let d = scratch("files-chip");
    std::fs::write(d.join("net.toml"), NET).unwrap();
    std::fs::write(d.join("in.csv"), "step,neuron\n0,1\n").unwrap();
    std::fs::create_dir(d.join("sub")).unwrap();
    let cases: [(&[&str], &str); 4] = [
        (
            &["chip", "net.toml", "--trace", "net.toml"],
            "--trace net.toml: would overwrite the input file net.toml",
        ),
        (
            &["chip", "net.toml", "--input", "in.csv", "--trace", "in.csv"],
            "--trace in.csv: would overwrite the input file in.csv",
        ),
        (
            &["chip", "net.toml", "--trace", "nodir/t.csv"],
            "--trace nodir/t.csv: directory nodir does not exist",
        ),
        (
            &["chip", "net.toml", "--trace", "sub"],
            "--trace sub: is a directory",
        ),
    ];
    for (args, message) in cases {
        assert_usage(&run(&d, args), message);
    }
    assert_eq!(names(&d), ["in.csv", "net.toml", "sub"]);
}

#[test]
fn train_checks_its_outputs_before_the_first_epoch() {
    let d = scratch("files-train");
    std::fs::create_dir(d.join("sub")).unwrap();
    std::fs::write(d.join("m.ckpt"), b"stands for a checkpoint").unwrap();
    // Each would train for minutes (30 epochs of a 64-1000-10 network) if not refused first.
    let cases: [(&[&str], &str); 5] = [
        (
            &["train", "--out", "nodir/m.ckpt"],
            "--out nodir/m.ckpt: directory nodir does not exist",
        ),
        (
            &["train", "--metrics", "sub"],
            "--metrics sub: is a directory",
        ),
        (
            &["train", "--export", "nodir/net.toml"],
            "--export nodir/net.toml: directory nodir does not exist",
        ),
        (
            &["train", "--out", "a.ckpt", "--export", "./a.ckpt"],
            "--export ./a.ckpt: same file as --out a.ckpt",
        ),
        (
            &["train", "--resume", "m.ckpt", "--export", "m.ckpt"],
            "--export m.ckpt: would overwrite the input file m.ckpt",
        ),
    ];
    for (args, message) in cases {
        assert_usage(&run(&d, args), message);
    }
    assert_eq!(names(&d), ["m.ckpt", "sub"]);
}

#[test]
fn stdp_checks_its_outputs_first() {
    let d = scratch("files-stdp");
    std::fs::create_dir(d.join("sub.svg")).unwrap();
    std::fs::write(d.join("w.bin"), b"stands for weights").unwrap();
    let cases: [(&[&str], &str); 3] = [
        (
            &["stdp", "--out", "nodir/w.bin"],
            "--out nodir/w.bin: directory nodir does not exist",
        ),
        (
            &["stdp", "--plot-weights", "sub.svg"],
            "--plot-weights sub.svg: is a directory",
        ),
        (
            &["stdp", "--load", "w.bin", "--plot-weights", "w.bin"],
            "--plot-weights w.bin: would overwrite the input file w.bin",
        ),
    ];
    for (args, message) in cases {
        assert_usage(&run(&d, args), message);
    }
    assert_eq!(names(&d), ["sub.svg", "w.bin"]);
}

#[test]
fn demo_checks_its_outputs_before_training() {
    let d = scratch("files-demo");
    std::fs::write(d.join("file"), b"x").unwrap();
    std::fs::create_dir_all(d.join("out/comparison.md")).unwrap();
    assert_usage(
        &run(&d, &["demo", "--out", "file"]),
        "--out file: is a file, not a directory",
    );
    assert_usage(
        &run(&d, &["demo", "--out", "out"]),
        "--out out/comparison.md: is a directory",
    );
    assert_eq!(names(&d), ["file", "out"]);
    assert_eq!(names(&d.join("out")), ["comparison.md"]);
}

// ------------------------------------------------------------------------------------------------
// Error messages: the user's path once, the OS reason once
// ------------------------------------------------------------------------------------------------

#[test]
fn a_missing_directory_is_named_once() {
    let d = scratch("files-msg-missing");
    let p = d.join("nodir").join("r.csv");
    let o = Command::new(SNN)
        .args([
            "simulate",
            "--neurons",
            "100",
            "--duration-ms",
            "5",
            "--raster",
        ])
        .arg(&p)
        .output()
        .unwrap();
    assert_usage(
        &o,
        &format!(
            "--raster {}: directory {} does not exist",
            p.display(),
            d.join("nodir").display()
        ),
    );
}

#[cfg(unix)]
#[test]
fn a_read_only_directory_gives_the_os_reason_once() {
    // SAFETY: a plain query.
    if unsafe { libc::geteuid() } == 0 {
        eprintln!("skipped: root ignores file permissions");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let d = scratch("files-msg-ro");
    let ro = d.join("ro");
    std::fs::create_dir(&ro).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    let denied = std::fs::write(ro.join("probe"), b"").unwrap_err();
    for (cmd, flag) in [("simulate", "--raster"), ("encode", "--out")] {
        let p = ro.join("r.csv");
        let mut c = Command::new(SNN);
        c.arg(cmd);
        if cmd == "simulate" {
            c.args(["--neurons", "100", "--duration-ms", "5"]);
        }
        let o = c.arg(flag).arg(&p).output().unwrap();
        assert_usage(
            &o,
            &format!(
                "{flag} {}: cannot write in directory {}: {denied}",
                p.display(),
                ro.display()
            ),
        );
    }
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert!(names(&ro).is_empty());
}
