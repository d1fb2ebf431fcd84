//! `cargo xtask fuzz [--engine stable|libfuzzer] [--time SECS] [--cases N] [--seed S] [--target NAME]`:
//! runs the fuzz targets of `crates/snn-fuzz` (every parser of untrusted input).
//!
//! * `stable` (default, any toolchain): rounds of `--cases` generated inputs per target (proptest
//!   mutations of valid seeds), each round with the next seed, until `--time` seconds are spent;
//!   prints and writes `target/fuzz/report.md` with the cases run and accepted per target. A panic
//!   stops the run, prints the input, and leaves it in `target/tmp/fuzz-failures/` to be added to
//!   `crates/snn-fuzz/corpus/<target>/`.
//! * `libfuzzer` (needs a nightly toolchain and `cargo install cargo-fuzz`): coverage-guided
//!   libFuzzer on the same targets through `fuzz/`, `--time` split evenly over the targets, starting
//!   from the seeds and the regression corpus; crashes land in `fuzz/artifacts/`.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::root;

const USAGE: &str = "\
usage: cargo xtask fuzz [--engine stable|libfuzzer] [--time SECS] [--cases N] [--seed S] [--target NAME]

stable (default): runs every fuzz target (or one) in rounds of N generated inputs (default 2000),
seeds S, S+1, ... (default 1), until SECS seconds are spent (default 60); writes
target/fuzz/report.md.
libfuzzer: cargo +nightly fuzz (cargo-fuzz) on each target for SECS / targets seconds.";

struct Opts {
    libfuzzer: bool,
    time: Duration,
    cases: u32,
    seed: u64,
    target: Option<String>,
}

fn parse(args: &[String]) -> Result<Opts> {
    let mut o = Opts {
        libfuzzer: false,
        time: Duration::from_secs(60),
        cases: 2000,
        seed: 1,
        target: None,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .with_context(|| format!("{name} needs a value\n{USAGE}"))
        };
        match a.as_str() {
            "--time" => {
                let s: u64 = value("--time")?
                    .parse()
                    .context("--time must be a whole number of seconds")?;
                o.time = Duration::from_secs(s);
            }
            "--cases" => {
                o.cases = value("--cases")?
                    .parse()
                    .context("--cases must be a positive integer")?;
                if o.cases == 0 {
                    bail!("--cases must be at least 1");
                }
            }
            "--seed" => {
                o.seed = value("--seed")?
                    .parse()
                    .context("--seed must be an integer")?
            }
            "--target" => o.target = Some(value("--target")?),
            "--engine" => match value("--engine")?.as_str() {
                "stable" => o.libfuzzer = false,
                "libfuzzer" => o.libfuzzer = true,
                other => bail!("--engine {other}: expected stable or libfuzzer\n{USAGE}"),
            },
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown option '{other}'\n{USAGE}"),
        }
    }
    Ok(o)
}

/// `(target, cases, accepted)` from the harness's lines `fuzz NAME: C corpus files, N cases (A accepted), no panic`.
fn parse_lines(out: &str) -> Vec<(String, u64, u64)> {
    out.lines()
        .filter_map(|l| {
            // With parallel tests, libtest may print `test NAME ... ` before the line.
            let l = &l[l.find("fuzz ")? + 5..];
            let (name, rest) = l.split_once(':')?;
            let mut words = rest.split_whitespace();
            let n: u64 = words.nth(3)?.parse().ok()?;
            let acc: u64 = words.nth(1)?.trim_start_matches('(').parse().ok()?;
            Some((name.to_string(), n, acc))
        })
        .collect()
}

/// Runs the fuzz command.
pub fn run(args: &[String]) -> Result<()> {
    let o = parse(args)?;
    if o.libfuzzer {
        return libfuzzer(&o);
    }
    let cargo = env!("CARGO");
    let status = Command::new(cargo)
        .current_dir(root())
        .args([
            "test",
            "--release",
            "-p",
            "snn-fuzz",
            "--test",
            "fuzz",
            "--no-run",
        ])
        .status()
        .context("cannot run cargo")?;
    if !status.success() {
        bail!("building the fuzz harness failed");
    }
    let start = Instant::now();
    let mut totals: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut seed = o.seed;
    let mut rounds = 0u64;
    while rounds == 0 || start.elapsed() < o.time {
        let mut cmd = Command::new(cargo);
        cmd.current_dir(root())
            .args([
                "test",
                "--release",
                "-q",
                "-p",
                "snn-fuzz",
                "--test",
                "fuzz",
                "--",
            ])
            .args(["--nocapture", "--test-threads", "2"])
            .env("SNN_FUZZ_CASES", o.cases.to_string())
            .env("SNN_FUZZ_SEED", seed.to_string());
        if let Some(t) = &o.target {
            cmd.args(["--exact", t]);
        }
        let out = cmd.output().context("cannot run the fuzz harness")?;
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            eprintln!("{text}");
            bail!("a fuzz target panicked (round {rounds}, seed {seed}); see above");
        }
        for (name, n, acc) in parse_lines(&text) {
            let e = totals.entry(name).or_default();
            e.0 += n;
            e.1 += acc;
        }
        rounds += 1;
        seed += 1;
        eprintln!(
            "round {rounds} (seed {}) done, {:.0} s of {} s",
            seed - 1,
            start.elapsed().as_secs_f64(),
            o.time.as_secs()
        );
    }
    if totals.is_empty() {
        bail!("no fuzz target ran (is --target one of the names in crates/snn-fuzz/src/lib.rs?)");
    }
    let mut md = format!(
        "# Fuzz run\n\n`cargo xtask fuzz --time {} --cases {} --seed {}{}`: {rounds} rounds, seeds {}..={}, {:.0} s, no panic.\n\n| target | cases | accepted by the parser |\n|---|---:|---:|\n",
        o.time.as_secs(),
        o.cases,
        o.seed,
        o.target
            .as_ref()
            .map_or(String::new(), |t| format!(" --target {t}")),
        o.seed,
        seed - 1,
        start.elapsed().as_secs_f64()
    );
    for (name, (n, acc)) in &totals {
        md.push_str(&format!("| {name} | {n} | {acc} |\n"));
    }
    println!("{md}");
    let dir = root().join("target").join("fuzz");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join("report.md");
    crate::fsutil::write_atomic(&path, md.as_bytes())?;
    eprintln!("written to {}", path.display());
    Ok(())
}

/// The target names, from the harness's list in `crates/snn-fuzz/src/lib.rs`.
fn target_names() -> Result<Vec<String>> {
    let path = root().join("crates/snn-fuzz/src/lib.rs");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("name: \""))
        .filter_map(|l| l.split('"').next())
        .map(str::to_string)
        .collect())
}

/// Runs cargo-fuzz (libFuzzer) on each target.
fn libfuzzer(o: &Opts) -> Result<()> {
    let has = Command::new("cargo")
        .args(["+nightly", "fuzz", "--version"])
        .output()
        .map(|out| out.status.success())
        .unwrap_or(false);
    if !has {
        bail!(
            "--engine libfuzzer needs a nightly toolchain and cargo-fuzz (`rustup toolchain install nightly`, `cargo install cargo-fuzz`); the stable engine needs neither"
        );
    }
    let names = match &o.target {
        Some(t) => vec![t.clone()],
        None => target_names()?,
    };
    let work = root().join("target").join("fuzz").join("libfuzzer");
    let status = Command::new(env!("CARGO"))
        .current_dir(root())
        .args([
            "run",
            "--release",
            "-q",
            "-p",
            "snn-fuzz",
            "--example",
            "seeds",
            "--",
        ])
        .arg(&work)
        .status()
        .context("cannot run cargo")?;
    if !status.success() {
        bail!("writing the seed corpus failed");
    }
    let per = (o.time.as_secs() / names.len().max(1) as u64).max(1);
    let mut md = format!(
        "# Fuzz run (libFuzzer)\n\n`cargo xtask fuzz --engine libfuzzer --time {}`: {per} s per target, no crash.\n\n| target | runs |\n|---|---:|\n",
        o.time.as_secs()
    );
    for name in &names {
        let out = Command::new("cargo")
            .current_dir(root())
            .args(["+nightly", "fuzz", "run", "-O", "fuzz_target"])
            .arg(work.join(name))
            .args([
                "--",
                &format!("-max_total_time={per}"),
                "-rss_limit_mb=4096",
            ])
            .env("SNN_FUZZ_TARGET", name)
            .output()
            .context("cannot run cargo fuzz")?;
        let text = String::from_utf8_lossy(&out.stderr).to_string();
        if !out.status.success() {
            eprintln!("{text}");
            bail!(
                "libFuzzer stopped on target {name} (see above; a crash leaves its input in fuzz/artifacts/)"
            );
        }
        let runs = text
            .lines()
            .rev()
            .find_map(|l| {
                l.strip_prefix("Done ")?
                    .split_whitespace()
                    .next()?
                    .parse::<u64>()
                    .ok()
            })
            .unwrap_or(0);
        eprintln!("{name}: {runs} runs, no crash");
        md.push_str(&format!("| {name} | {runs} |\n"));
    }
    println!("{md}");
    let dir = root().join("target").join("fuzz");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    crate::fsutil::write_atomic(&dir.join("report-libfuzzer.md"), md.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn harness_lines_are_parsed() {
        let out = "running 3 tests\nfuzz spec_toml: 2 corpus files, 2000 cases (153 accepted), no panic\n\
                   test spec_toml ... ok\ntest aer ... fuzz aer: 0 corpus files, 10 cases (1 accepted), no panic\n";
        assert_eq!(
            parse_lines(out),
            vec![("spec_toml".into(), 2000, 153), ("aer".into(), 10, 1)]
        );
    }

    #[test]
    fn options_are_checked() {
        let a = |v: &[&str]| parse(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert!(a(&["--cases", "0"]).is_err());
        assert!(a(&["--time", "x"]).is_err());
        assert_eq!(a(&["--time", "5"]).unwrap().time, Duration::from_secs(5));
        assert!(a(&["--engine", "afl"]).is_err());
        assert!(a(&["--engine", "libfuzzer"]).unwrap().libfuzzer);
    }

    #[test]
    fn target_names_are_read_from_the_harness() {
        let names = target_names().unwrap();
        assert!(names.contains(&"spec_toml".to_string()), "{names:?}");
        assert!(names.contains(&"checkpoint_body".to_string()), "{names:?}");
    }
}
