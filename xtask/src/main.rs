//! Project automation. `cargo xtask bench [--full] [--save-baseline NAME] [--baseline NAME]`,
//! `cargo xtask release` and `cargo xtask fuzz [--time SECS]`.
//!
//! `bench` builds the `snn` binary in release mode, runs the end-to-end scenarios (each a few
//! times, keeping the fastest run), then the criterion micro-benchmarks (`--quick` unless
//! `--full`), and writes `target/bench/report.json` and `target/bench/report.md` with the machine,
//! the commit and every figure with its unit. With `--baseline NAME` it compares against a report
//! saved earlier with `--save-baseline NAME` and flags every figure that got worse by more than
//! the noise threshold (`--threshold PCT`, default 10).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

mod fsutil;
mod fuzz;
mod release;

const USAGE: &str = "\
usage: cargo xtask bench [--full] [--no-criterion] [--repeat N] [--threshold PCT]
                         [--save-baseline NAME] [--baseline NAME]

Runs the benchmark suite in release mode and writes target/bench/report.{json,md}.
  --full             criterion micro-benchmarks with full sampling (default: --quick)
  --no-criterion     skip the criterion micro-benchmarks
  --repeat N         runs per end-to-end scenario, the fastest is kept (default 3)
  --threshold PCT    regression threshold against the baseline, in percent (default 10)
  --save-baseline N  also save this report as target/bench/baselines/N.json
  --baseline N       compare with target/bench/baselines/N.json and flag regressions

usage: cargo xtask release [--bump patch|minor|major] [--dry-run] [--no-checks]  (see docs/release.md)

usage: cargo xtask fuzz [--time SECS] [--cases N] [--seed S] [--target NAME]  (see docs/reliability.md)";

struct Opts {
    full: bool,
    criterion: bool,
    repeat: usize,
    threshold_pct: f64,
    save: Option<String>,
    baseline: Option<String>,
}

fn parse(args: &[String]) -> Result<Opts> {
    let mut o = Opts {
        full: false,
        criterion: true,
        repeat: 3,
        threshold_pct: 10.0,
        save: None,
        baseline: None,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .with_context(|| format!("{name} needs a value\n{USAGE}"))
        };
        match a.as_str() {
            "--full" => o.full = true,
            "--no-criterion" => o.criterion = false,
            "--repeat" => {
                o.repeat = value("--repeat")?
                    .parse()
                    .context("--repeat must be a positive integer")?
            }
            "--threshold" => {
                o.threshold_pct = value("--threshold")?
                    .parse()
                    .context("--threshold must be a number")?
            }
            "--save-baseline" => o.save = Some(value("--save-baseline")?),
            "--baseline" => o.baseline = Some(value("--baseline")?),
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown option '{other}'\n{USAGE}"),
        }
    }
    if o.repeat == 0 {
        bail!("--repeat must be at least 1");
    }
    Ok(o)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("bench") => parse(&args[1..]).and_then(|o| bench(&o)),
        Some("release") => release::run(&args[1..]),
        Some("fuzz") => fuzz::run(&args[1..]),
        _ => Err(anyhow::anyhow!("{USAGE}")),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn run(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let mem_kb = std::fs::read_to_string("/proc/meminfo").ok().and_then(|s| {
        s.lines()
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|x| x.parse::<u64>().ok())
    });
    json!({
        "cpu": cpu,
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "memory_gib": mem_kb.map(|k| (k as f64 / 1048576.0 * 10.0).round() / 10.0),
        "os": std::env::consts::OS,
        "arch": std::env::consts::ARCH,
    })
}

fn commit() -> String {
    run(Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(root()))
    .map(|s| s.trim().to_string())
    .unwrap_or_else(|_| "unknown".into())
}

/// A figure: name, value, unit, and whether larger is better.
struct Figure {
    name: String,
    value: f64,
    unit: &'static str,
    higher_is_better: bool,
}

fn simulate_json(bin: &Path, args: &[&str]) -> Result<Value> {
    let out = run(Command::new(bin).arg("simulate").args(args).arg("--json"))?;
    serde_json::from_str(out.trim())
        .context("snn simulate --json printed something that is not JSON")
}

/// Runs a scenario `repeat` times and keeps the run with the smallest `run_s`.
fn best_of(bin: &Path, args: &[&str], repeat: usize) -> Result<Value> {
    let mut best: Option<Value> = None;
    for _ in 0..repeat {
        let v = simulate_json(bin, args)?;
        let better = match &best {
            None => true,
            Some(b) => v["run_s"].as_f64() < b["run_s"].as_f64(),
        };
        if better {
            best = Some(v);
        }
    }
    best.context("no run")
}

fn bench(o: &Opts) -> Result<()> {
    let root = root();
    eprintln!("building snn (release)...");
    run(Command::new(env!("CARGO"))
        .args(["build", "--release", "-p", "snn-cli"])
        .current_dir(&root))?;
    let bin = root.join("target/release/snn");
    let mut figs: Vec<Figure> = Vec::new();
    let mut scenarios = Vec::new();

    let cases: [(&str, &[&str]); 4] = [
        (
            "cuba4k_t1",
            &[
                "--neurons",
                "4000",
                "--duration-ms",
                "1000",
                "--threads",
                "1",
            ],
        ),
        (
            "cuba4k_t2",
            &[
                "--neurons",
                "4000",
                "--duration-ms",
                "1000",
                "--threads",
                "2",
            ],
        ),
        (
            "cuba40k_t1",
            &[
                "--neurons",
                "40000",
                "--duration-ms",
                "200",
                "--threads",
                "1",
            ],
        ),
        (
            "cuba40k_t2",
            &[
                "--neurons",
                "40000",
                "--duration-ms",
                "200",
                "--threads",
                "2",
            ],
        ),
    ];
    for (name, args) in cases {
        eprintln!("scenario {name}: snn simulate {}", args.join(" "));
        let v = best_of(&bin, args, o.repeat)?;
        let sim_s = v["sim_ms"].as_f64().unwrap_or(1.0) / 1000.0;
        let run_s = v["run_s"].as_f64().unwrap_or(f64::NAN);
        figs.push(Figure {
            name: format!("{name}.build_s"),
            value: v["build_s"].as_f64().unwrap_or(f64::NAN),
            unit: "s",
            higher_is_better: false,
        });
        figs.push(Figure {
            name: format!("{name}.run_ms_per_sim_s"),
            value: run_s * 1000.0 / sim_s,
            unit: "ms wall per s simulated",
            higher_is_better: false,
        });
        figs.push(Figure {
            name: format!("{name}.syn_events_per_s"),
            value: v["syn_events_per_s"].as_f64().unwrap_or(f64::NAN),
            unit: "events/s",
            higher_is_better: true,
        });
        if name.starts_with("cuba40k")
            && let (Some(rss), Some(syn)) = (v["peak_rss_bytes"].as_f64(), v["synapses"].as_f64())
        {
            figs.push(Figure {
                name: format!("{name}.peak_bytes_per_synapse"),
                value: rss / syn,
                unit: "B/synapse (peak RSS)",
                higher_is_better: false,
            });
        }
        scenarios.push(json!({ "name": name, "command": format!("snn simulate {}", args.join(" ")), "result": v }));
    }

    // Training: one epoch of the digits recipe, and of MNIST when the data is present.
    let data_dir = std::env::var_os("SNN_DATA").map(PathBuf::from).or_else(|| {
        let p = root.join("../shared/data");
        p.is_dir().then_some(p)
    });
    let mut train_cases: Vec<(&str, Vec<String>)> =
        vec![("train_digits", vec!["--dataset".into(), "digits".into()])];
    if let Some(d) = &data_dir
        && d.join("mnist").is_dir()
    {
        train_cases.push((
            "train_mnist",
            vec![
                "--dataset".into(),
                "mnist".into(),
                "--data".into(),
                d.display().to_string(),
            ],
        ));
    }
    for (name, extra) in train_cases {
        let mut args: Vec<String> = vec![
            "train".into(),
            "--epochs".into(),
            "1".into(),
            "--threads".into(),
            "1".into(),
            "--json".into(),
        ];
        args.extend(extra);
        eprintln!("scenario {name}: snn {}", args.join(" "));
        let out = run(Command::new(&bin).args(&args))?;
        let v: Value = serde_json::from_str(out.trim())
            .context("snn train --json printed something that is not JSON")?;
        figs.push(Figure {
            name: format!("{name}.s_per_epoch"),
            value: v["train_s_per_epoch"].as_f64().unwrap_or(f64::NAN),
            unit: "s (1 thread)",
            higher_is_better: false,
        });
        figs.push(Figure {
            name: format!("{name}.test_acc_1_epoch"),
            value: v["test_acc"].as_f64().unwrap_or(f64::NAN),
            unit: "fraction",
            higher_is_better: true,
        });
        figs.push(Figure {
            name: format!("{name}.peak_rss_mb"),
            value: v["peak_rss_mb"].as_f64().unwrap_or(f64::NAN),
            unit: "MiB",
            higher_is_better: false,
        });
        scenarios.push(
            json!({ "name": name, "command": format!("snn {}", args.join(" ")), "result": v }),
        );
    }

    if o.criterion {
        eprintln!(
            "criterion micro-benchmarks ({})...",
            if o.full { "full" } else { "--quick" }
        );
        let mut cmd = Command::new(env!("CARGO"));
        cmd.args(["bench", "-p", "snn-benches", "--"])
            .current_dir(&root);
        if !o.full {
            cmd.arg("--quick");
        }
        let criterion_out = run(&mut cmd)?;
        for (name, secs) in parse_criterion(&criterion_out) {
            figs.push(Figure {
                name: format!("criterion.{name}"),
                value: secs * 1e3,
                unit: "ms",
                higher_is_better: false,
            });
        }
    }

    let report = json!({
        "machine": machine(),
        "commit": commit(),
        "date_unix": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        "scenarios": scenarios,
        "figures": figs.iter().map(|f| json!({"name": f.name, "value": f.value, "unit": f.unit, "higher_is_better": f.higher_is_better})).collect::<Vec<_>>(),
    });

    let mut md = String::new();
    md.push_str(&format!(
        "# Benchmark report\n\nCommit `{}`; machine: {}\n\n",
        report["commit"].as_str().unwrap_or(""),
        report["machine"]
    ));
    let base = match &o.baseline {
        Some(name) => {
            let p = root
                .join("target/bench/baselines")
                .join(format!("{name}.json"));
            let text = std::fs::read_to_string(&p)
                .with_context(|| format!("cannot read baseline {}", p.display()))?;
            Some(
                serde_json::from_str::<Value>(&text)
                    .with_context(|| format!("{} is not a report", p.display()))?,
            )
        }
        None => None,
    };
    md.push_str("| figure | value | unit | vs baseline |\n|---|---:|---|---|\n");
    let mut regressions = Vec::new();
    for f in &figs {
        let old = base.as_ref().and_then(|b| {
            b["figures"]
                .as_array()?
                .iter()
                .find(|x| x["name"] == f.name.as_str())
                .and_then(|x| x["value"].as_f64())
        });
        let cmp = match old {
            Some(old) if old != 0.0 => {
                let change = (f.value - old) / old * 100.0;
                let worse = if f.higher_is_better { -change } else { change };
                if worse > o.threshold_pct {
                    regressions.push(format!(
                        "{}: {:.4} -> {:.4} {} ({:+.1}%)",
                        f.name, old, f.value, f.unit, change
                    ));
                    format!("{change:+.1}% REGRESSION")
                } else {
                    format!("{change:+.1}%")
                }
            }
            _ => String::new(),
        };
        md.push_str(&format!(
            "| {} | {:.4} | {} | {} |\n",
            f.name, f.value, f.unit, cmp
        ));
    }
    let dir = root.join("target/bench");
    std::fs::create_dir_all(&dir)?;
    write_atomic(
        &dir.join("report.json"),
        &serde_json::to_string_pretty(&report)?,
    )?;
    write_atomic(&dir.join("report.md"), &md)?;
    if let Some(name) = &o.save {
        let b = dir.join("baselines");
        std::fs::create_dir_all(&b)?;
        write_atomic(
            &b.join(format!("{name}.json")),
            &serde_json::to_string_pretty(&report)?,
        )?;
        eprintln!("saved baseline '{name}'");
    }
    print!("{md}");
    eprintln!("wrote {} and report.md", dir.join("report.json").display());
    if !regressions.is_empty() {
        bail!(
            "{} figure(s) regressed by more than {}%:\n  {}",
            regressions.len(),
            o.threshold_pct,
            regressions.join("\n  ")
        );
    }
    Ok(())
}

/// Extracts `(benchmark id, median seconds)` from criterion's terminal output.
fn parse_criterion(out: &str) -> Vec<(String, f64)> {
    let mut res = Vec::new();
    let mut last_name = String::new();
    for line in out.lines() {
        let t = line.trim();
        if let Some(rest) = t.split("time:").nth(1).filter(|_| t.contains("time:")) {
            let name = t.split("time:").next().unwrap_or("").trim();
            let name = if name.is_empty() {
                last_name.clone()
            } else {
                name.to_string()
            };
            let nums: Vec<&str> = rest
                .trim()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .split_whitespace()
                .collect();
            // [low unit mid unit high unit]
            if nums.len() >= 4
                && let Ok(v) = nums[2].parse::<f64>()
            {
                let scale = match nums[3] {
                    "ns" => 1e-9,
                    "µs" | "us" => 1e-6,
                    "ms" => 1e-3,
                    _ => 1.0,
                };
                res.push((name, v * scale));
            }
        } else if !t.is_empty()
            && !t.starts_with("Benchmarking")
            && !t.contains(':')
            && !t.starts_with("Found")
        {
            last_name = t.to_string();
        }
    }
    res
}

/// Writes `text` to `path` atomically.
fn write_atomic(path: &Path, text: &str) -> Result<()> {
    fsutil::write_atomic(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn criterion_lines_are_parsed() {
        let out = "cuba_build/4000         time:   [3.8023 ms 3.8165 ms 3.8731 ms]\n\
                   cuba_run_100ms/threads/1\n                        time:   [3.8 µs 4.5 µs 5.0 µs]\n";
        let v = parse_criterion(out);
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].0, "cuba_build/4000");
        assert!((v[0].1 - 3.8165e-3).abs() < 1e-12);
        assert_eq!(v[1].0, "cuba_run_100ms/threads/1");
        assert!((v[1].1 - 4.5e-6).abs() < 1e-15);
    }

    #[test]
    fn options_are_checked() {
        assert!(parse(&["--repeat".into(), "0".into()]).is_err());
        assert!(parse(&["--bogus".into()]).is_err());
        let o = parse(&["--full".into(), "--baseline".into(), "main".into()]).unwrap();
        assert!(o.full && o.baseline.as_deref() == Some("main"));
    }
}
