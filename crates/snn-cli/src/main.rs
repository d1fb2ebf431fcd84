//! `snn`: the command line of the snn toolkit. Thin by design: parse, call the libraries, print.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use snn_core::{CsvSpikeWriter, Network, SpikeSink, models};
use snn_types::ms_to_steps;

#[macro_use]
mod out;

mod analysis;
mod budget;
mod charts;
mod chip;
mod demo;
mod distributed;
mod encode;
mod inspect;
mod nir;
mod outputs;
mod plastic;
mod stdp;
mod train;
mod usage;

#[derive(Parser)]
#[command(
    name = "snn",
    version,
    about = "Spiking neural networks: simulate, encode, train, deploy."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Simulate a network spec (TOML or JSON), or a built-in network (CUBA, COBA, or the
    /// Potjans & Diesmann cortical microcircuit) when no file is given.
    #[command(after_help = "\
Examples:
  snn simulate                                  # CUBA, 4000 neurons, 1 s of biological time
  snn simulate --neurons 40000 --threads 2      # the same network scaled up
  snn simulate --network coba                   # COBA: conductance-based, 4000 neurons
  snn simulate examples/cuba.toml --raster spikes.csv
  snn simulate my_net.json --duration-ms 500 --json
  snn simulate --neurons 500 --duration-ms 200 --plot raster.svg
  snn simulate --network microcircuit --scale 0.1 --warmup-ms 100 --duration-ms 1000 --analyse
  snn simulate --network microcircuit --scale 1 --background dc --threads 2 --warmup-ms 100
  snn simulate --network microcircuit --scale 0.01 --write-spec mc.toml   # the spec, not run
  snn simulate examples/song2000.toml --save-weights w.whst --weights-every-ms 10000 \\
      --learned-spec learned.toml               # STDP from the spec; weights over time
  snn simulate examples/cuba.toml --dry-run-ranks 4 --raster out.csv   # 4 ranks in one process
  snn simulate --neurons 40000 --plan-ranks 16 --plan-rate-hz 10       # memory per rank, traffic
  mpirun -np 4 snn simulate examples/cuba.toml --raster out.csv        # needs --features mpi
  snn spikes merge out.csv.rank*of4 -o out.csv")]
    Simulate(SimulateArgs),
    /// Spike files: merge the per-rank files of a distributed run.
    #[command(subcommand)]
    Spikes(SpikesCommand),
    /// Encode data (a digits image, a CSV row) into spike trains and write the raster.
    Encode(encode::EncodeArgs),
    /// Compile a network onto a neuromorphic chip model, run it, and report time and energy.
    Chip(chip::ChipArgs),
    /// Unsupervised STDP learning (Diehl & Cook 2015) on digits or MNIST.
    Stdp(stdp::StdpArgs),
    /// The whole story on built-in data: encode, train (SNN and ANN), export, simulate, run on a
    /// chip model, and compare accuracy, operations, energy and latency.
    #[command(after_help = "\
Examples:
  snn demo                          # writes demo-out/comparison.md and friends
  snn demo --hidden 256 --epochs 30 --out results --json")]
    Demo(demo::DemoArgs),
    /// Train a spiking classifier with surrogate gradients (BPTT).
    #[command(after_help = "\
Examples:
  snn train                                          # digits (bundled), 64-1000-10, 30 epochs
  snn train --dataset mnist --epochs 1 --threads 2   # MNIST from $SNN_DATA or ../shared/data
  snn train --encoding rate --readout count --out model.ckpt --export net.toml
  snn train --resume model.ckpt --epochs 40 --out model.ckpt")]
    Train(Box<train::TrainArgs>),
    /// Evaluate a checkpoint on its dataset's test split (optionally also in the engine).
    #[command(after_help = "Example:\n  snn eval model.ckpt --engine")]
    Eval(train::EvalArgs),
    /// Check a network spec and print a summary of it (or every problem found, with its path).
    #[command(after_help = "Example:\n  snn validate examples/cuba.toml")]
    Validate {
        /// Spec file (.toml, .json, or .nir).
        spec: PathBuf,
        /// Memory budget (e.g. 512M, 8G; default: the memory available): a spec whose estimated
        /// memory exceeds it is reported as an error.
        #[arg(long, value_name = "SIZE", value_parser = budget::parse_max_memory)]
        max_memory: Option<u64>,
    },
    /// Summarise a network spec, a training checkpoint or a chip report (kind detected from content).
    #[command(after_help = "\
Examples:
  snn inspect examples/cuba.toml
  snn inspect model.ckpt --json
  snn inspect chip-report.json")]
    Inspect(inspect::InspectArgs),
    /// NIR (Neuromorphic Intermediate Representation) files: import, export, inspect.
    Nir(nir::NirArgs),
}

/// `snn spikes ...`.
#[derive(Subcommand)]
enum SpikesCommand {
    /// Merge spike CSV files (`step,neuron`, each sorted) into one sorted file, streaming (a
    /// k-way merge: memory does not grow with the files).
    #[command(after_help = "\
Examples:
  snn spikes merge out.csv.rank*of4 -o out.csv
  snn spikes merge a.csv b.csv -o both.csv")]
    Merge {
        /// Input files (e.g. the `<raster>.rank<r>of<R>` files of a distributed run).
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// Output file.
        #[arg(short, long, value_name = "FILE")]
        out: PathBuf,
    },
}

/// The built-in benchmark networks of `snn simulate`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum BuiltIn {
    /// Current-based benchmark (Brette et al. 2007 benchmark 2), `lif_exp` neurons.
    Cuba,
    /// Conductance-based benchmark (Brette et al. 2007 benchmark 1), `lif_cond_exp` neurons.
    Coba,
    /// The Potjans & Diesmann (2014) cortical microcircuit (docs/microcircuit.md), at --scale.
    Microcircuit,
}

/// Background drive of the microcircuit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum BackgroundArg {
    /// Poisson input, 8 Hz per external synapse (the reference's default).
    Poisson,
    /// The Poisson input's mean as a constant current (the reference's benchmark setting).
    Dc,
}

#[derive(clap::Args)]
struct SimulateArgs {
    /// Network spec (.toml, .json, or .nir imported with the default options); default: the
    /// built-in network chosen by --network.
    spec: Option<PathBuf>,
    /// Built-in network to simulate when no spec file is given (default: cuba).
    #[arg(long, value_enum, value_name = "NAME")]
    network: Option<BuiltIn>,
    /// Size of the built-in network (80% excitatory); only CUBA and COBA.
    #[arg(long, value_name = "N")]
    neurons: Option<u32>,
    /// Scale of the microcircuit's neurons and in-degrees, in (0, 1] (1: 77,169 neurons, 3e8
    /// synapses; default 0.1, the reference's default).
    #[arg(long, value_name = "S")]
    scale: Option<f64>,
    /// Background drive of the microcircuit (default: poisson).
    #[arg(long, value_enum, value_name = "KIND")]
    background: Option<BackgroundArg>,
    /// Write the network's spec (.toml or .json) to this file and stop (with --seed and
    /// --duration-ms applied).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["raster", "plot", "analyse", "warmup_ms", "dry_run_ranks", "plan_ranks"])]
    write_spec: Option<PathBuf>,
    /// Simulate this long (ms) first; its spikes are neither recorded nor analysed (default 0).
    #[arg(long, value_name = "T")]
    warmup_ms: Option<f64>,
    /// Print rates, CV of inter-spike intervals and synchrony per population (after the
    /// warm-up), next to the reference values for the microcircuit.
    #[arg(long)]
    analyse: bool,
    /// Simulated time in ms (default: the spec's duration_ms, else 1000).
    #[arg(long, value_name = "T")]
    duration_ms: Option<f64>,
    /// Worker threads; spikes are identical for any count.
    #[arg(long, default_value_t = 1, value_name = "K")]
    threads: usize,
    /// Seed of every random stream (default: the spec's seed; 1 for CUBA and COBA, 55 (the
    /// reference's) for the microcircuit).
    #[arg(long, value_name = "S")]
    seed: Option<u64>,
    /// Write the recorded spikes as CSV (`step,neuron`, sorted) to this file.
    #[arg(long, value_name = "FILE")]
    raster: Option<PathBuf>,
    /// Draw the recorded spikes as a raster plot (.svg or .png).
    #[arg(long, value_name = "FILE")]
    plot: Option<PathBuf>,
    /// Print the summary as one JSON object on stdout.
    #[arg(long)]
    json: bool,
    /// Memory budget (e.g. 512M, 8G; default: the memory available): a network or run whose
    /// estimated memory exceeds it is refused before allocating.
    #[arg(long, value_name = "SIZE", value_parser = budget::parse_max_memory)]
    max_memory: Option<u64>,
    /// Simulate N ranks of a distributed run inside this process (threads standing in for MPI
    /// processes); prints per-rank time, exchange traffic and the memory plan. Spikes are the
    /// same as in one process; --raster writes one file per rank (`<FILE>.rank<r>of<N>`).
    #[arg(long, value_name = "N")]
    dry_run_ranks: Option<usize>,
    /// Print the memory plan of a run over N ranks (per rank: neurons, synapses, bytes) and its
    /// exchange rate, without building anything.
    #[arg(long, value_name = "N", conflicts_with_all = ["dry_run_ranks", "raster", "plot", "analyse", "warmup_ms"])]
    plan_ranks: Option<usize>,
    /// Mean firing rate (Hz) the plan assumes for its traffic estimate (--plan-ranks).
    #[arg(long, value_name = "HZ", requires = "plan_ranks")]
    plan_rate_hz: Option<f64>,
    /// For a spec with plastic projections (`[projections.plasticity]`): write each one's
    /// weights at step 0, at the start of the recorded run (after --warmup-ms), every
    /// --weights-every-ms, and at its end, as a weight history (framed binary, read by `snn
    /// inspect`); with several plastic projections one file each, `<stem>.<projection>.<ext>`.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["write_spec", "plan_ranks"])]
    save_weights: Option<PathBuf>,
    /// Interval (ms) between the snapshots of --save-weights (default: start and end only).
    #[arg(long, value_name = "T", requires = "save_weights")]
    weights_every_ms: Option<f64>,
    /// Write the spec with every plastic projection's learned weights as explicit connectivity
    /// and no plasticity (.toml or .json): it simulates with the weights fixed, and `snn chip`
    /// and `snn nir export` take it.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["write_spec", "plan_ranks"])]
    learned_spec: Option<PathBuf>,
}

/// Every option that takes a value accepts one that looks like a negative number after a space
/// (`--duration-ms -5`), so that it reaches the option's own check and its error ("must be >= 0,
/// got -5") instead of clap's "unexpected argument '-5'"; in every subcommand.
fn accept_negative_numbers(cmd: clap::Command) -> clap::Command {
    cmd.mut_args(|a| {
        if a.get_action().takes_values() {
            a.allow_negative_numbers(true)
        } else {
            a
        }
    })
    .mut_subcommands(accept_negative_numbers)
}

/// `--option -inf` (also `-infinity`, `-nan`, any case) as `--option=-inf`: clap takes a value
/// after a space for a negative number only when it is written with digits, so `-inf` read as
/// the short flags `-i -n -f` ("unexpected argument '-i' found"); joined, it reaches the
/// option's own check ("must be a finite number"). Only right after a long option without `=`;
/// nothing after `--` is touched.
fn join_nonfinite_values(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let mut out: Vec<std::ffi::OsString> = Vec::with_capacity(args.len());
    let mut rest = false;
    for a in args {
        let text = a.to_str().map(str::to_ascii_lowercase);
        let nonfinite = matches!(text.as_deref(), Some("-inf" | "-infinity" | "-nan"));
        if !rest
            && nonfinite
            && let Some(prev) = out.last_mut()
            && let Some(p) = prev.to_str().map(str::to_owned)
            && p.starts_with("--")
            && p.len() > 2
            && !p.contains('=')
        {
            *prev = format!("{p}={}", a.to_string_lossy()).into();
            continue;
        }
        rest |= a == "--";
        out.push(a);
    }
    out
}

/// A negative number given to an option that takes none (`--threads -1`, `--max-memory -5`),
/// which clap reports as "invalid digit found in string" or the parser's own words: said
/// plainly instead, naming the option.
fn negative_count_message(e: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if e.kind() != ErrorKind::ValueValidation {
        return None;
    }
    let text = |k| match e.get(k) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    let (arg, value) = (
        text(ContextKind::InvalidArg)?,
        text(ContextKind::InvalidValue)?,
    );
    // Options that take negative numbers but not that one (`--min=-1e308`, beyond f32) keep
    // their parser's words.
    if std::error::Error::source(e).is_some_and(|s| s.to_string().contains(usage::BEYOND_F32)) {
        return None;
    }
    let negative = value.starts_with('-') && value[1..].parse::<f64>().is_ok();
    negative.then(|| format!("invalid value '{value}' for '{arg}': must not be negative"))
}

fn main() -> ExitCode {
    // First, before any thread starts: SIGINT/SIGTERM remove the live temporaries and exit 130/143.
    let _ = snn_types::file::install_signal_cleanup();
    let args = join_nonfinite_values(std::env::args_os().collect());
    let cli = match accept_negative_numbers(Cli::command())
        .try_get_matches_from(args)
        .and_then(|m| Cli::from_arg_matches(&m))
    {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            if let Some(msg) = negative_count_message(&e) {
                eprintln!("error: {msg}");
            } else {
                let _ = e.print();
            }
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Simulate(a) => simulate(a),
        Command::Spikes(SpikesCommand::Merge { inputs, out }) => distributed::merge(&inputs, &out),
        Command::Validate { spec, max_memory } => validate(&spec, max_memory),
        Command::Inspect(a) => inspect::run(a),
        Command::Encode(a) => encode::run(a),
        Command::Chip(a) => chip::run(a),
        Command::Stdp(a) => stdp::run(a),
        Command::Train(a) => train::train(*a),
        Command::Demo(a) => demo::run(a),
        Command::Eval(a) => train::eval(a),
        Command::Nir(a) => nir::run(a),
    };
    // Output still buffered is written now, so that a reader that left is noticed here too.
    let result = result.and_then(|()| out::flush_stdout().map_err(anyhow::Error::from));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of stdout went away (`snn ... | head`): stop quietly, as `SIGPIPE` would.
        Err(e) if out::is_broken_pipe(&e) => ExitCode::from(out::BROKEN_PIPE_EXIT),
        Err(e) => {
            errln!("error: {e:#}");
            ExitCode::from(usage::exit_code(&e))
        }
    }
}

/// Validates without building: the counts and the memory come from the estimate
/// (`snn_core::memory`), so a spec too large to build is still described.
fn validate(path: &Path, max_memory: Option<u64>) -> Result<()> {
    let spec = nir::load_spec(path)?;
    let est = snn_core::NetworkMemory::estimate(&spec, 1);
    let needed = est.build_bytes();
    let plastic = plastic::plastic_projections(&spec).len();
    let summary = format!(
        "{} populations, {} neurons, {} projections{}, {} synapses, dt = {} ms; about {} of memory \
         to build",
        spec.populations.len(),
        est.neurons,
        spec.projections.len(),
        if plastic > 0 {
            format!(" ({plastic} plastic)")
        } else {
            String::new()
        },
        est.synapses(),
        spec.dt_ms,
        snn_types::budget::format_bytes(needed)
    );
    if let Err(e) = est.check_build(&budget::budget(max_memory)) {
        outln!("{}: {summary}", path.display());
        let limit = match e.available_bytes {
            Some(b) if e.source == snn_types::budget::BudgetSource::User => {
                format!(
                    "{} allowed by --max-memory",
                    snn_types::budget::format_bytes(b)
                )
            }
            Some(b) if e.source == snn_types::budget::BudgetSource::AddressSpace => format!(
                "{} left under the process's address-space limit (ulimit -v)",
                snn_types::budget::format_bytes(b)
            ),
            Some(b) => format!(
                "{} available; set --max-memory to change the limit",
                snn_types::budget::format_bytes(b)
            ),
            None => "addressable".into(),
        };
        let part = if !e.what.starts_with("network '") {
            format!(
                " (the largest part: {} needs about {} for {})",
                e.what,
                snn_types::budget::format_bytes(e.needed_bytes),
                e.parts
            )
        } else {
            String::new()
        };
        bail!(
            "{}: the spec is valid, but building it would need about {}, more than the {limit}{part}",
            path.display(),
            snn_types::budget::format_bytes(needed.max(e.needed_bytes)),
        );
    }
    outln!("{}: valid; {summary}", path.display());
    Ok(())
}

/// Hands each step's spikes to the CSV writer and/or the in-memory raster.
struct Tee<'a, W: std::io::Write> {
    csv: Option<&'a mut CsvSpikeWriter<W>>,
    raster: Option<&'a mut snn_types::SpikeRaster>,
    analyser: Option<&'a mut snn_core::analysis::ActivityAnalyser>,
}

impl<W: std::io::Write> SpikeSink for Tee<'_, W> {
    fn on_step(&mut self, step: snn_types::Step, neurons: &[u32]) {
        if let Some(c) = self.csv.as_mut() {
            c.on_step(step, neurons);
        }
        if let Some(r) = self.raster.as_mut() {
            r.on_step(step, neurons);
        }
        if let Some(a) = self.analyser.as_mut() {
            a.on_step(step, neurons);
        }
    }
}

/// Peak resident memory of this process in bytes (Linux; `None` elsewhere).
pub(crate) fn peak_rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// A number given on the command line, for an error message: as written when short, else in
/// scientific notation (`1e300`, not 301 digits).
pub(crate) fn flag_num(x: f64) -> String {
    let s = format!("{x}");
    if s.len() > 16 { format!("{x:e}") } else { s }
}

/// Most worker threads of one `snn simulate` process (over all the ranks of `--dry-run-ranks`):
/// far more than any machine's cores, and few enough that the OS lets the process start them. A
/// thread the OS refused to start (`--threads 4000` under a memory limit) panicked in the engine
/// and left the other threads waiting at the step barrier for ever.
const MAX_THREADS: usize = 1024;

fn simulate(a: SimulateArgs) -> Result<()> {
    // Started by mpirun/srun as one of several ranks: run distributed, or refuse to run N copies.
    let launched = snn_core::comm::launched_ranks().filter(|&n| n > 1);
    // Both flags mean "no MPI here": under a launcher they were ignored (--dry-run-ranks ran the
    // launcher's ranks instead) or printed once per rank (--plan-ranks).
    if let Some(n) = launched {
        let flag = match (a.dry_run_ranks, a.plan_ranks) {
            (Some(_), _) => Some("--dry-run-ranks simulates ranks as threads of one process"),
            (_, Some(_)) => Some("--plan-ranks builds nothing and needs no ranks"),
            _ => None,
        };
        if let Some(what) = flag {
            return Err(usage::usage(format!(
                "{what}, but this snn was started by an MPI launcher as one of {n} ranks: run \
                 it without mpirun/srun, or drop the flag to run over the launcher's {n} ranks"
            )));
        }
    }
    #[cfg(not(feature = "mpi"))]
    if let Some(n) = launched {
        return distributed::refuse_without_mpi(n);
    }
    if a.threads == 0 {
        return Err(usage::usage("--threads must be at least 1"));
    }
    if a.threads > MAX_THREADS {
        return Err(usage::usage(format!(
            "--threads {}: at most {MAX_THREADS} (spikes are the same for any count; more threads \
             than cores only slow the run down)",
            a.threads
        )));
    }
    for (flag, v) in [
        ("--dry-run-ranks", a.dry_run_ranks),
        ("--plan-ranks", a.plan_ranks),
    ] {
        if v == Some(0) {
            return Err(usage::usage(format!("{flag} 0: must be at least 1")));
        }
    }
    if let Some(r) = a.dry_run_ranks
        && r <= distributed::MAX_DRY_RUN_RANKS
        && r.saturating_mul(a.threads) > MAX_THREADS
    {
        return Err(usage::usage(format!(
            "--dry-run-ranks {r} with --threads {}: {} threads in one process, at most \
             {MAX_THREADS} (every dry-run rank runs its own --threads)",
            a.threads,
            r.saturating_mul(a.threads)
        )));
    }
    if let Some(r) = a.plan_rate_hz
        && !(r.is_finite() && r >= 0.0)
    {
        return Err(usage::usage(format!(
            "--plan-rate-hz {r}: must be a finite rate >= 0"
        )));
    }
    let ranked = launched.is_some() || a.dry_run_ranks.is_some() || a.plan_ranks.is_some();
    if ranked && a.plot.is_some() {
        return Err(usage::usage(
            "--plot needs every spike in one process; with ranks, write --raster (one file per \
             rank), merge the files with `snn spikes merge`, and plot a single-process run",
        ));
    }
    if ranked && (a.analyse || a.warmup_ms.is_some_and(|w| w != 0.0)) {
        return Err(usage::usage(
            "--analyse and --warmup-ms run in one process only; with ranks, write --raster (one \
             file per rank) and merge the files with `snn spikes merge`",
        ));
    }
    outputs::check(
        &[
            ("--raster", a.raster.as_deref()),
            ("--plot", a.plot.as_deref()),
            ("--write-spec", a.write_spec.as_deref()),
            ("--save-weights", a.save_weights.as_deref()),
            ("--learned-spec", a.learned_spec.as_deref()),
        ],
        &[outputs::Input::new(a.spec.as_deref())],
    )?;
    // Checked up front, like --plot's: anything else was written as TOML whatever its name.
    if let Some(p) = &a.write_spec {
        outputs::spec_output_is_json("--write-spec", p)?;
    }
    if let Some(p) = &a.learned_spec {
        outputs::spec_output_is_json("--learned-spec", p)?;
    }
    let learning = plastic::Options {
        save_weights: a.save_weights.as_deref(),
        every_ms: a.weights_every_ms,
        learned_spec: a.learned_spec.as_deref(),
    };
    if a.spec.is_some() && a.network.is_some() {
        return Err(usage::usage(
            "--network selects a built-in network; it cannot be combined with a spec file",
        ));
    }
    let is_microcircuit = a.spec.is_none() && a.network == Some(BuiltIn::Microcircuit);
    // The scale of the microcircuit, for the reference column of --analyse.
    let mc_scale = is_microcircuit.then(|| a.scale.unwrap_or(0.1));
    if !is_microcircuit && (a.scale.is_some() || a.background.is_some()) {
        return Err(usage::usage(
            "--scale and --background apply only to --network microcircuit",
        ));
    }
    let mut spec = match (&a.spec, a.neurons) {
        (Some(_), Some(_)) => {
            return Err(usage::usage(
                "--neurons applies only to the built-in networks, not to a spec file",
            ));
        }
        (Some(p), None) => nir::load_spec(p)?,
        (None, n) => match a.network.unwrap_or(BuiltIn::Cuba) {
            BuiltIn::Microcircuit => {
                if n.is_some() {
                    return Err(usage::usage(
                        "--neurons does not apply to the microcircuit; use --scale",
                    ));
                }
                let options = models::MicrocircuitOptions {
                    background: match a.background.unwrap_or(BackgroundArg::Poisson) {
                        BackgroundArg::Poisson => models::Background::Poisson,
                        BackgroundArg::Dc => models::Background::Dc,
                    },
                    ..Default::default()
                };
                let scale = a.scale.unwrap_or(0.1);
                models::microcircuit(scale, &options)
                    .map_err(|e| usage::usage(format!("--scale {scale}: {e}")))?
            }
            net => {
                let n = n.unwrap_or(4000);
                if n < 2 {
                    return Err(usage::usage("--neurons must be at least 2"));
                }
                match net {
                    BuiltIn::Coba => models::coba(n, 1),
                    _ => models::cuba(n, 1),
                }
            }
        },
    };
    if let Some(s) = a.seed {
        spec.seed = s;
    }
    if let Some(d) = a.duration_ms {
        // The spec's own duration_ms is bounded by validation; the flag is checked the same way.
        if let Err(why) = snn_types::check_duration(d, spec.dt_ms) {
            return Err(usage::usage(format!(
                "--duration-ms {}: {why}",
                flag_num(d)
            )));
        }
    }
    if let Some(p) = &a.write_spec {
        // The spec runs as this command would have: its duration too, not only its seed.
        if let Some(d) = a.duration_ms {
            spec.duration_ms = Some(d);
        }
        let text = if outputs::spec_output_is_json("--write-spec", p)? {
            spec.to_json_string()
        } else {
            spec.to_toml_string()?
        };
        snn_types::file::atomic_write(p, text.as_bytes())
            .with_context(|| format!("cannot write {}", p.display()))?;
        if a.json {
            outln!("{}", serde_json::json!({ "spec": p.display().to_string() }));
        } else {
            outln!("spec             {}", p.display());
        }
        return Ok(());
    }
    let duration_ms = a.duration_ms.or(spec.duration_ms).unwrap_or(1000.0);
    let n_steps = ms_to_steps(duration_ms, spec.dt_ms)
        .with_context(|| format!("duration {duration_ms} ms is not a valid duration"))?;
    let warmup_steps = match a.warmup_ms {
        None => 0,
        Some(w) => {
            // 0 is the default (no warm-up), so it may also be given.
            if let Err(why) = snn_types::check_time(w, spec.dt_ms) {
                return Err(usage::usage(format!("--warmup-ms {}: {why}", flag_num(w))));
            }
            let steps = ms_to_steps(w, spec.dt_ms)
                .with_context(|| format!("warm-up {w} ms is not a valid duration"))?;
            if w > 0.0 && steps == 0 {
                return Err(usage::usage(format!(
                    "--warmup-ms {}: shorter than one step of dt = {} ms",
                    flag_num(w),
                    spec.dt_ms
                )));
            }
            steps
        }
    };

    plastic::check_options(&spec, &learning, ranked)?;
    if let Some(p) = learning.save_weights {
        // The per-projection names, against every other output too.
        let files = plastic::weight_paths(&spec, p);
        let mut named: Vec<(&str, Option<&Path>)> = vec![
            ("--raster", a.raster.as_deref()),
            ("--plot", a.plot.as_deref()),
            ("--learned-spec", a.learned_spec.as_deref()),
        ];
        named.extend(files.iter().map(|f| ("--save-weights", Some(f.as_path()))));
        outputs::check(&named, &[outputs::Input::new(a.spec.as_deref())])?;
    }
    let budget = budget::budget(a.max_memory);
    if let Some(r) = a.plan_rate_hz
        && r > 1000.0 / spec.dt_ms
    {
        return Err(usage::usage(format!(
            "--plan-rate-hz {}: a neuron fires at most once per step, {} Hz at dt = {} ms",
            flag_num(r),
            1000.0 / spec.dt_ms,
            spec.dt_ms
        )));
    }
    if let Some(r) = a.plan_ranks {
        let plan =
            snn_core::distributed::plan_ranks(&spec, r, a.threads, a.plan_rate_hz.unwrap_or(0.0))
                .map_err(|e| usage::usage(e.to_string()))?;
        return distributed::print_plan(&spec, &plan, a.json);
    }
    if launched.is_some() || a.dry_run_ranks.is_some() {
        let job = distributed::Job {
            spec: &spec,
            n_steps,
            threads: a.threads,
            raster: a.raster.as_deref(),
            budget: budget.clone(),
            json: a.json,
        };
        #[cfg(feature = "mpi")]
        if launched.is_some() {
            return distributed::run_mpi(&job);
        }
        if let Some(r) = a.dry_run_ranks {
            return distributed::run_dry(&job, r);
        }
    }
    snn_core::NetworkMemory::estimate(&spec, a.threads).check_run(
        &budget,
        n_steps,
        a.plot.is_some(),
    )?;
    let t0 = Instant::now();
    let mut net = Network::build_with_budget(&spec, a.threads, &budget)?;
    let snapshots = match learning.save_weights {
        None => None,
        Some(_) => {
            let every = match learning.every_ms {
                None => None,
                Some(t) => Some(
                    ms_to_steps(t, spec.dt_ms)
                        .with_context(|| format!("--weights-every-ms {}", flag_num(t)))?,
                ),
            };
            Some(plastic::Snapshots {
                start: warmup_steps,
                n_steps,
                every,
            })
        }
    };
    let learned = plastic::attach(
        &mut net,
        &spec,
        snapshots,
        learning.learned_spec.is_some(),
        &budget,
    )?;
    let build_s = t0.elapsed().as_secs_f64();
    if net.threads() < a.threads {
        eprintln!(
            "note: --threads {}: the network has {} neurons, so {} threads run (one neuron each at \
             least)",
            a.threads,
            net.n_neurons(),
            net.threads()
        );
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if net.threads() > cores {
        eprintln!(
            "warning: {} threads on {cores} cores: the threads wait for each other at every step, \
             so the run is much slower than with --threads {cores} (spikes are the same)",
            net.threads()
        );
    }

    let bar = if std::io::stderr().is_terminal() {
        // The warm-up counts too: a long one showed nothing at all.
        let b = ProgressBar::with_draw_target(
            Some(warmup_steps.saturating_add(n_steps)),
            ProgressDrawTarget::stderr(),
        );
        b.set_style(
            ProgressStyle::with_template("simulating {bar:40} {pos}/{len} steps ({eta} left)")
                .expect("static template"),
        );
        b
    } else {
        ProgressBar::hidden()
    };
    // The raster streams to a temporary file that replaces the target only on success (and is
    // removed if anything fails before).
    let mut csv = match &a.raster {
        Some(p) => Some(CsvSpikeWriter::new(snn_types::file::AtomicFile::create(p)?)),
        None => None,
    };
    if let Some(p) = &a.plot
        && charts::Format::of(p).is_none()
    {
        return Err(usage::usage(format!(
            "--plot {}: the file name must end in .svg or .png",
            p.display()
        )));
    }
    let mut collected = a.plot.as_ref().map(|_| snn_types::SpikeRaster::new(0));
    let ranges: Vec<snn_core::analysis::PopulationRange> = net
        .populations()
        .iter()
        .map(|p| snn_core::analysis::PopulationRange {
            name: p.name.clone(),
            start: p.start,
            size: p.size,
        })
        .collect();
    let mut analyser = if a.analyse {
        let bin_steps = ms_to_steps(analysis::BIN_MS, spec.dt_ms)
            .context("analysis bin")?
            .max(1);
        Some(snn_core::analysis::ActivityAnalyser::new(
            &ranges,
            spec.dt_ms,
            warmup_steps,
            warmup_steps + n_steps,
            bin_steps,
            analysis::SYNC_NEURONS,
        )?)
    } else {
        None
    };
    let tw = Instant::now();
    if warmup_steps > 0 {
        net.run_with_progress(warmup_steps, &mut snn_core::NullSink, &mut |done| {
            bar.set_position(done)
        });
    }
    let warmup_s = tw.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let stats = {
        let mut tee = Tee {
            csv: csv.as_mut(),
            raster: collected.as_mut(),
            analyser: analyser.as_mut(),
        };
        net.run_with_progress(n_steps, &mut tee, &mut |done| {
            bar.set_position(warmup_steps + done)
        })
    };
    let run_s = t1.elapsed().as_secs_f64();
    bar.finish_and_clear();
    if net.threads_refused() > 0 {
        eprintln!(
            "warning: the system refused to start one of the engine's {} threads; the run went on in one thread (same result, slower); ask for fewer with --threads",
            net.threads()
        );
    }
    if let (Some(c), Some(dst)) = (csv, &a.raster) {
        let (file, _) = c
            .finish()
            .with_context(|| format!("cannot write {}", dst.display()))?;
        file.commit()?;
    }
    let weights_after = plastic::finish(&mut net, &spec, &learned, &learning)?;

    if let (Some(r), Some(path)) = (&collected, &a.plot) {
        let populations: Vec<(String, u32, u32)> = net
            .populations()
            .iter()
            .map(|p| (p.name.clone(), p.start, p.size))
            .collect();
        charts::raster_chart(
            path,
            &format!(
                "{}: {} spikes",
                spec.name.as_deref().unwrap_or("network"),
                r.len()
            ),
            r,
            spec.dt_ms,
            &populations,
        )
        .context("--plot")?;
    }
    let neurons = net.n_neurons();
    let synapses = net.n_synapses();
    // Conv/pool projections store kernels, not synapses (docs/conv.md).
    let storage = if net.projections().iter().any(|p| p.conv().is_some()) {
        "stored as CSR and conv kernels"
    } else {
        "in CSR"
    };
    let sim_ms = n_steps as f64 * spec.dt_ms;
    let mean_rate_hz = if neurons > 0 && sim_ms > 0.0 {
        stats.spikes as f64 / neurons as f64 / (sim_ms / 1000.0)
    } else {
        0.0
    };
    let eps = if run_s > 0.0 {
        stats.syn_events as f64 / run_s
    } else {
        0.0
    };
    let syn_bytes = net.synapse_memory_bytes();
    if a.json {
        let j = serde_json::json!({
            "network": spec.name.clone().unwrap_or_default(),
            "neurons": neurons,
            "synapses": synapses,
            "sim_ms": sim_ms,
            "build_s": build_s,
            "run_s": run_s,
            "spikes": stats.spikes,
            "mean_rate_hz": mean_rate_hz,
            "syn_events": stats.syn_events,
            "syn_events_per_s": eps,
            "threads": net.threads(),
            "seed": spec.seed,
            "synapse_bytes": syn_bytes,
            "peak_rss_bytes": peak_rss_bytes(),
            "warmup_s": warmup_s,
            "analysis": analyser.as_ref().map(|a| analysis::json(&a.finish(), mc_scale)),
            "raster": a.raster.as_ref().map(|p| p.display().to_string()),
            "plot": a.plot.as_ref().map(|p| p.display().to_string()),
            "plasticity": plastic::json(&learned.before, &weights_after),
            "save_weights": learning.save_weights.map(|p| plastic::weight_paths(&spec, p)
                .iter().map(|f| f.display().to_string()).collect::<Vec<_>>()),
            "learned_spec": learning.learned_spec.map(|p| p.display().to_string()),
        });
        outln!("{j}");
    } else {
        outln!(
            "network          {}",
            spec.name.as_deref().unwrap_or("(unnamed)")
        );
        outln!("neurons          {neurons}");
        outln!(
            "synapses         {synapses} ({:.2} bytes/synapse {storage})",
            syn_bytes as f64 / synapses.max(1) as f64
        );
        outln!(
            "simulated        {sim_ms} ms ({n_steps} steps of {} ms)",
            spec.dt_ms
        );
        outln!("threads          {}", net.threads());
        if warmup_steps > 0 {
            outln!(
                "warm-up          {} ms in {warmup_s:.3} s (not recorded)",
                warmup_steps as f64 * spec.dt_ms
            );
        }
        outln!("seed             {}", spec.seed);
        outln!("build            {build_s:.3} s");
        outln!(
            "run              {run_s:.3} s ({:.1} ms per simulated second)",
            run_s * 1000.0 / (sim_ms / 1000.0).max(1e-12)
        );
        outln!(
            "spikes           {} (mean rate {mean_rate_hz:.2} Hz)",
            stats.spikes
        );
        outln!(
            "synaptic events  {} ({:.3e} per second)",
            stats.syn_events,
            eps
        );
        if let Some(b) = peak_rss_bytes() {
            outln!("peak memory      {:.1} MiB", b as f64 / (1024.0 * 1024.0));
        }
        if let Some(p) = &a.raster {
            outln!("raster           {}", p.display());
        }
        for line in plastic::text(&learned.before, &weights_after) {
            outln!("{line}");
        }
        if let Some(p) = learning.save_weights {
            for f in plastic::weight_paths(&spec, p) {
                outln!("weights          {}", f.display());
            }
        }
        if let Some(p) = learning.learned_spec {
            outln!("learned spec     {}", p.display());
        }
        if let Some(an) = &analyser {
            analysis::print(&an.finish(), mc_scale)?;
        }
    }
    Ok(())
}
