//! `snn train` and `snn eval`: surrogate-gradient training on the built-in and shared datasets.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use snn_learn::augment::Augment;
use snn_learn::data::{self, Loaded};
use snn_learn::export::{EngineClassifier, to_network_spec};
use snn_learn::model::{LayerConfig, Model, ModelConfig, Readout};
use snn_learn::optim::{OptimizerKind, Schedule};
use snn_learn::surrogate::Surrogate;
use snn_learn::train::{Encoding, EventSource, SHARD, Source, TrainConfig, Trainer};
use snn_learn::{arch, checkpoint};

use crate::peak_rss_bytes;
use crate::usage::usage;

/// Arguments of `snn train`.
///
/// The model and training flags are options so that `--resume` can tell a flag given on the
/// command line from its default: a given flag that differs from the checkpoint is a usage
/// error. Their defaults are in [`TrainArgs::DEFAULTS`] and the help text.
#[derive(clap::Args)]
pub struct TrainArgs {
    /// Dataset: digits (bundled), mnist, fashion-mnist or nmnist (from --data / $SNN_DATA) [default: digits; with --resume: the checkpoint's].
    #[arg(long)]
    dataset: Option<String>,
    /// Directory holding mnist/, fashion-mnist/, nmnist-small/ (default: $SNN_DATA, else ../shared/data).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Hidden layer sizes, comma-separated (e.g. 1000 or 500,300) [default: 1000].
    #[arg(long, value_delimiter = ',', action = clap::ArgAction::Set)]
    hidden: Option<Vec<usize>>,
    /// Make every hidden layer recurrent.
    #[arg(long)]
    recurrent: bool,
    /// Layer stack as an architecture string instead of --hidden, e.g. 12C5-AP2-64C5-AP2-FC10.
    /// Tokens separated by '-': <c>C<k> conv (c channels, k x k kernel; suffixes s<stride>,
    /// p<pad>, e.g. 12C5p2), AP<k> / SP<k> average / sum pooling of the preceding conv's
    /// currents (MP is refused: max pooling is not a synaptic operation), [<n>]FC<m> dense layer
    /// (optional flatten size n, checked), D<p> dropout of the preceding layer's spikes
    /// (training only); the last FC is the output (its size = the classes).
    #[arg(long, conflicts_with_all = ["hidden", "recurrent"], value_name = "ARCH")]
    arch: Option<String>,
    /// Time steps per sample [default: 25].
    #[arg(long)]
    steps: Option<usize>,
    /// Epochs (in total, including those of a resumed checkpoint).
    #[arg(long, default_value_t = 30)]
    epochs: usize,
    /// Input coding: direct, rate, ttfs, or events (nmnist) [default: direct].
    #[arg(long)]
    encoding: Option<String>,
    /// Surrogate derivative: fast-sigmoid:K, arctan:A, sigmoid:K, triangle:W or ste [default: fast-sigmoid:25].
    #[arg(long)]
    surrogate: Option<String>,
    /// Output readout: membrane (leaky integrator, mean membrane) or count (spike count) [default: membrane].
    #[arg(long)]
    readout: Option<String>,
    /// Membrane decay per step [default: 0.95].
    #[arg(long, value_parser = crate::usage::parse_f32)]
    beta: Option<f32>,
    /// Learning rate (Adam) [default: 0.0005].
    #[arg(long, value_parser = crate::usage::parse_f32)]
    lr: Option<f32>,
    /// Decoupled weight decay (AdamW) [default: 0.01].
    #[arg(long, value_parser = crate::usage::parse_f32)]
    weight_decay: Option<f32>,
    /// Mini-batch size [default: 128].
    #[arg(long)]
    batch_size: Option<usize>,
    /// Cosine learning-rate schedule over the epochs (default: constant).
    #[arg(long)]
    cosine: bool,
    /// Training-time augmentation: none, or shift:N (every training sample moved by a random
    /// offset in -N..=N pixels on each axis, drawn per sample and epoch from the seed; never at
    /// evaluation). Not stored in checkpoints: give it again with --resume [default: none].
    #[arg(long, value_name = "SPEC")]
    augment: Option<String>,
    /// Stop after N epochs without a better test accuracy (keeps the best model).
    #[arg(long, value_name = "N")]
    early_stop: Option<usize>,
    /// Use only the first N training samples. Not stored in checkpoints: give it again with
    /// --resume (a resumed run without it trains on every sample, and says so).
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// Worker threads (results are identical for any count).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Seed of weights, shuffling and random input coding [default: 1].
    #[arg(long)]
    seed: Option<u64>,
    /// Write a checkpoint here after every epoch (atomically).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Continue from this checkpoint (model, optimiser, epoch and RNG state); model and training
    /// flags may be left out, and any given must match the checkpoint.
    #[arg(long, value_name = "FILE")]
    resume: Option<PathBuf>,
    /// Write the trained network as a NetworkSpec (.toml or .json) for `snn simulate` / `snn chip`.
    #[arg(long, value_name = "FILE")]
    export: Option<PathBuf>,
    /// Append one JSON line of metrics per epoch to this file (after that epoch's checkpoint is
    /// saved); the file is first made to hold exactly the run's epochs so far (the checkpoint's
    /// on --resume, none for a fresh run).
    #[arg(long, value_name = "FILE")]
    metrics: Option<PathBuf>,
    /// Memory budget (e.g. 512M, 8G; default: the memory available): a model, batch and thread
    /// count whose estimated training memory exceeds it is refused before allocating.
    #[arg(long, value_name = "SIZE", value_parser = crate::budget::parse_max_memory)]
    pub max_memory: Option<u64>,
    /// Print one final JSON object on stdout instead of the table.
    #[arg(long)]
    json: bool,
}

/// Defaults of the optional model and training flags of [`TrainArgs`].
struct Defaults {
    dataset: &'static str,
    hidden: &'static [usize],
    steps: usize,
    encoding: &'static str,
    surrogate: &'static str,
    readout: &'static str,
    beta: f32,
    lr: f32,
    weight_decay: f32,
    batch_size: usize,
    seed: u64,
}

impl TrainArgs {
    /// The values of flags not given.
    const DEFAULTS: Defaults = Defaults {
        dataset: "digits",
        hidden: &[1000],
        steps: 25,
        encoding: "direct",
        surrogate: "fast-sigmoid:25",
        readout: "membrane",
        beta: 0.95,
        lr: 5e-4,
        weight_decay: 0.01,
        batch_size: 128,
        seed: 1,
    };
}

/// Arguments of `snn eval`.
#[derive(clap::Args)]
pub struct EvalArgs {
    /// Checkpoint written by `snn train --out`.
    checkpoint: PathBuf,
    /// Directory holding the datasets (default: $SNN_DATA, else ../shared/data).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Also simulate the exported network in the engine and count agreeing predictions.
    #[arg(long)]
    engine: bool,
    /// Worker threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Print one JSON object on stdout.
    #[arg(long)]
    json: bool,
}

/// A loaded dataset as training sources.
enum Sets {
    Images(data::Dataset, data::Dataset),
    Events(Vec<data::EventSample>, Vec<data::EventSample>),
}

impl Sets {
    fn load(name: &str, dir: Option<&Path>, limit: Option<usize>) -> Result<Self> {
        Ok(match data::load(name, dir)? {
            Loaded::Images { train, test } => Sets::Images(
                match limit {
                    Some(n) => train.take(n),
                    None => train,
                },
                test,
            ),
            Loaded::Events { mut train, test } => {
                if let Some(n) = limit {
                    train.truncate(n);
                }
                Sets::Events(train, test)
            }
        })
    }
    /// Number of training samples.
    fn train_len(&self) -> usize {
        match self {
            Sets::Images(t, _) => t.len(),
            Sets::Events(t, _) => t.len(),
        }
    }

    /// Rows and columns of one image (one polarity of an event sample).
    fn image_shape(&self) -> (usize, usize) {
        match self {
            Sets::Images(t, _) => t.shape,
            Sets::Events(..) => (data::NMNIST_SIZE, data::NMNIST_SIZE),
        }
    }
    fn n_inputs(&self) -> usize {
        match self {
            Sets::Images(t, _) => t.n_features,
            Sets::Events(..) => 2 * data::NMNIST_SIZE * data::NMNIST_SIZE,
        }
    }
    fn sources(&self) -> (Box<dyn Source + '_>, Box<dyn Source + '_>) {
        match self {
            Sets::Images(a, b) => (Box::new(a), Box::new(b)),
            Sets::Events(a, b) => (Box::new(EventSource(a)), Box::new(EventSource(b))),
        }
    }
}

fn parse_encoding(s: &str, dataset: &str) -> Result<Encoding> {
    Ok(match s {
        "direct" => Encoding::Direct,
        "rate" => Encoding::Rate { p_max: 1.0 },
        "ttfs" => Encoding::Ttfs { threshold: 0.05 },
        "events" => Encoding::Events {
            duration_us: 300_000,
        },
        other => {
            return Err(crate::usage::usage(format!(
                "--encoding {other}: expected direct, rate, ttfs or events"
            )));
        }
    })
    .and_then(|e| match (e, dataset) {
        (Encoding::Events { .. }, "nmnist")
        | (
            Encoding::Direct | Encoding::Rate { .. } | Encoding::Ttfs { .. },
            "digits" | "mnist" | "fashion-mnist",
        ) => Ok(e),
        (Encoding::Events { .. }, d) => Err(crate::usage::usage(format!(
            "--encoding events needs --dataset nmnist, not {d}"
        ))),
        (_, "nmnist") => Err(crate::usage::usage(
            "--dataset nmnist needs --encoding events",
        )),
        _ => Ok(e),
    })
}

fn bar(n: u64, enabled: bool) -> ProgressBar {
    if enabled && std::io::stderr().is_terminal() {
        let b = ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr());
        b.set_style(
            ProgressStyle::with_template("{prefix} {bar:30} {pos}/{len} batches {msg} ({eta})")
                .expect("static template"),
        );
        b
    } else {
        ProgressBar::hidden()
    }
}

fn write_spec(path: &Path, model: &Model, encoding: Encoding) -> Result<()> {
    // The spec carries its readout: how the trainer, fed with `encoding`, predicts.
    let spec = to_network_spec(model, encoding)?;
    let text = if crate::outputs::spec_output_is_json("--export", path)? {
        spec.to_json_string()
    } else {
        spec.to_toml_string()?
    };
    Ok(snn_types::file::atomic_write(path, text.as_bytes())?)
}

fn parse_readout(s: &str) -> Result<Readout> {
    Ok(match s {
        "membrane" => Readout::Membrane,
        "count" => Readout::SpikeCount,
        other => {
            return Err(usage(format!(
                "--readout {other}: expected membrane or count"
            )));
        }
    })
}

/// Refuses flag values no run can use (exit code 2), naming the flag, before any data is loaded.
fn check_train_flags(a: &TrainArgs) -> Result<()> {
    let bad = |msg: String| Err(usage(msg));
    if a.threads == 0 {
        return bad("--threads must be at least 1".into());
    }
    if let Some(Err(e)) = a.augment.as_deref().map(str::parse::<Augment>) {
        return bad(format!("--augment: {e}"));
    }
    if a.steps == Some(0) {
        return bad("--steps 0: steps must be at least 1".into());
    }
    if a.batch_size == Some(0) {
        return bad("--batch-size 0: batch_size must be at least 1".into());
    }
    if a.early_stop == Some(0) {
        return bad("--early-stop 0: early_stop_patience must be at least 1".into());
    }
    if let Some(lr) = a.lr
        && !(lr.is_finite() && lr > 0.0)
    {
        return bad(format!("--lr {lr}: must be a finite number > 0"));
    }
    if let Some(b) = a.beta
        && !(b.is_finite() && (0.0..=1.0).contains(&b))
    {
        return bad(format!("--beta {b}: beta must be in [0, 1]"));
    }
    if let Some(wd) = a.weight_decay
        && !(wd.is_finite() && wd >= 0.0)
    {
        return bad(format!("--weight-decay {wd}: must be a finite number >= 0"));
    }
    Ok(())
}

/// The model and training flags given with `--resume` that differ from the checkpoint `t`, as
/// `--flag VALUE (the checkpoint has X)`; a flag that cannot be parsed is an error of its own.
fn resume_conflicts(a: &TrainArgs, t: &Trainer) -> Result<Vec<String>> {
    let mut c = Vec::new();
    let mc = &t.model.config;
    let tc = &t.config;
    let mut differ = |flag: &str, given: String, have: String| {
        c.push(format!("{flag} {given} (the checkpoint has {have})"));
    };
    if let Some(d) = &a.dataset
        && *d != t.dataset
    {
        differ("--dataset", d.clone(), t.dataset.clone());
    }
    let join = |v: &[usize]| {
        v.iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    if let Some(s) = &a.arch {
        let shape = mc
            .input_shape
            .unwrap_or_else(|| dataset_shape(&t.dataset).unwrap_or([1, 1, mc.n_inputs]));
        let given = arch::parse(s, shape).map_err(|e| usage(format!("--arch: {e}")))?;
        if given.hidden != mc.hidden || given.n_outputs != mc.n_outputs {
            differ("--arch", s.clone(), arch::describe(mc));
        }
    }
    let sizes: Vec<usize> = mc.hidden.iter().map(|h| h.size).collect();
    if let Some(h) = &a.hidden {
        if mc.hidden.iter().any(|l| l.conv.is_some()) {
            // Sizes alone would match a conv layer of as many neurons: a conv checkpoint is
            // never the dense stack --hidden describes.
            differ(
                "--hidden",
                join(h),
                format!(
                    "the conv architecture {}; give it as --arch or leave --hidden out",
                    arch::describe(mc)
                ),
            );
        } else if *h != sizes {
            differ("--hidden", join(h), join(&sizes));
        }
    }
    if a.recurrent && !mc.hidden.iter().all(|h| h.recurrent) {
        differ(
            "--recurrent",
            "(given)".into(),
            "feed-forward hidden layers".into(),
        );
    }
    if let Some(s) = a.steps
        && s != mc.steps
    {
        differ("--steps", s.to_string(), mc.steps.to_string());
    }
    if let Some(e) = &a.encoding
        && parse_encoding(e, &t.dataset)? != tc.encoding
    {
        differ("--encoding", e.clone(), format!("{:?}", tc.encoding));
    }
    if let Some(s) = &a.surrogate {
        let sur: Surrogate = s.parse().map_err(|e| anyhow::anyhow!("--surrogate: {e}"))?;
        if sur != mc.surrogate {
            differ("--surrogate", s.clone(), mc.surrogate.to_string());
        }
    }
    if let Some(r) = &a.readout
        && parse_readout(r)? != mc.readout
    {
        let have = match mc.readout {
            Readout::Membrane => "membrane",
            Readout::SpikeCount => "count",
        };
        differ("--readout", r.clone(), have.into());
    }
    if let Some(b) = a.beta
        && b != mc.beta
    {
        differ("--beta", b.to_string(), mc.beta.to_string());
    }
    if let Some(lr) = a.lr
        && lr != tc.lr
    {
        differ("--lr", lr.to_string(), tc.lr.to_string());
    }
    if let Some(wd) = a.weight_decay {
        let have = match tc.optimizer {
            OptimizerKind::Adam { weight_decay, .. } | OptimizerKind::Sgd { weight_decay, .. } => {
                weight_decay
            }
        };
        if wd != have {
            differ("--weight-decay", wd.to_string(), have.to_string());
        }
    }
    if let Some(bs) = a.batch_size
        && bs != tc.batch_size
    {
        differ("--batch-size", bs.to_string(), tc.batch_size.to_string());
    }
    if a.cosine && !matches!(tc.schedule, Schedule::Cosine { .. }) {
        differ("--cosine", "(given)".into(), format!("{:?}", tc.schedule));
    }
    if let Some(p) = a.early_stop
        && Some(p) != tc.early_stop_patience
    {
        let have = tc
            .early_stop_patience
            .map_or("no early stopping".into(), |p| p.to_string());
        differ("--early-stop", p.to_string(), have);
    }
    if let Some(s) = a.seed
        && s != tc.seed
    {
        differ("--seed", s.to_string(), tc.seed.to_string());
    }
    Ok(c)
}

/// Refuses an existing `path` that is not a training checkpoint: `--out` replaces a checkpoint
/// (that is how a run continues one), never a spec, a dataset or any other file by mistake.
fn replaces_only_a_checkpoint(flag: &str, path: &std::path::Path) -> Result<()> {
    use std::io::Read;
    if !path.is_file() {
        return Ok(());
    }
    let mut head = [0u8; 64];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    // An empty file (made by `mktemp`, say) holds nothing to lose.
    if n == 0 || checkpoint::is_checkpoint(&head[..n]) {
        return Ok(());
    }
    Err(usage(format!(
        "{flag} {}: the file exists and is not a training checkpoint; refusing to replace it \
         (choose another name, or delete it first)",
        path.display()
    )))
}

/// Runs `snn train`.
pub fn train(a: TrainArgs) -> Result<()> {
    check_train_flags(&a)?;
    // Before the first epoch, not after it. `--out` may replace the `--resume` checkpoint.
    crate::outputs::check(
        &[
            ("--out", a.out.as_deref()),
            ("--metrics", a.metrics.as_deref()),
            ("--export", a.export.as_deref()),
        ],
        &[crate::outputs::Input {
            path: a.resume.as_deref(),
            replaced_by: &["--out"],
        }],
    )?;
    if let Some(p) = &a.export {
        crate::outputs::spec_output_is_json("--export", p)?;
    }
    if let Some(p) = &a.out {
        replaces_only_a_checkpoint("--out", p)?;
    }
    if a.limit == Some(0) {
        return Err(usage("--limit 0: at least one training sample is needed"));
    }
    let d = TrainArgs::DEFAULTS;
    let mut trainer = match &a.resume {
        Some(p) => {
            let mut t = checkpoint::load(p)?;
            let conflicts = resume_conflicts(&a, &t)?;
            if !conflicts.is_empty() {
                return Err(usage(format!(
                    "--resume {}: the checkpoint fixes the model and training settings; leave \
                     out or correct {}",
                    p.display(),
                    conflicts.join("; ")
                )));
            }
            t.config.epochs = a.epochs;
            t.model.config.check_train_memory(
                t.config.batch_size,
                a.threads,
                &crate::budget::budget(a.max_memory),
            )?;
            t
        }
        None => {
            if a.epochs == 0 {
                return Err(usage("--epochs 0: a new run needs at least one epoch"));
            }
            let dataset = a.dataset.as_deref().unwrap_or(d.dataset);
            let encoding = parse_encoding(a.encoding.as_deref().unwrap_or(d.encoding), dataset)?;
            let surrogate: Surrogate = a
                .surrogate
                .as_deref()
                .unwrap_or(d.surrogate)
                .parse()
                .map_err(|e| usage(format!("--surrogate: {e}")))?;
            let readout = parse_readout(a.readout.as_deref().unwrap_or(d.readout))?;
            let hidden = a.hidden.as_deref().unwrap_or(d.hidden);
            if hidden.contains(&0) {
                return Err(usage("--hidden: every layer needs at least one neuron"));
            }
            let n_inputs = match dataset {
                "digits" => 64,
                "mnist" | "fashion-mnist" => 784,
                "nmnist" => 2 * data::NMNIST_SIZE * data::NMNIST_SIZE,
                other => {
                    return Err(crate::usage::usage(format!(
                        "--dataset {other}: expected digits, mnist, fashion-mnist or nmnist"
                    )));
                }
            };
            let lr = a.lr.unwrap_or(d.lr);
            if !(lr.is_finite() && lr > 0.0) {
                return Err(usage(format!("--lr {lr}: must be finite and > 0")));
            }
            let weight_decay = a.weight_decay.unwrap_or(d.weight_decay);
            if !(weight_decay.is_finite() && weight_decay >= 0.0) {
                return Err(usage(format!(
                    "--weight-decay {weight_decay}: must be finite and >= 0"
                )));
            }
            let seed = a.seed.unwrap_or(d.seed);
            let mut mc = ModelConfig::feed_forward(
                n_inputs,
                hidden,
                data::N_CLASSES,
                a.steps.unwrap_or(d.steps),
            );
            mc.hidden = hidden
                .iter()
                .map(|&n| LayerConfig {
                    recurrent: a.recurrent,
                    ..LayerConfig::lif(n)
                })
                .collect();
            if let Some(s) = &a.arch {
                let shape = dataset_shape(dataset).unwrap_or([1, 1, n_inputs]);
                let parsed = arch::parse(s, shape).map_err(|e| usage(format!("--arch: {e}")))?;
                if parsed.n_outputs != data::N_CLASSES {
                    return Err(usage(format!(
                        "--arch {s}: the output layer FC{} must have {} neurons (the classes)",
                        parsed.n_outputs,
                        data::N_CLASSES
                    )));
                }
                mc.hidden = parsed.hidden;
                mc.input_shape = Some(shape);
            }
            mc.surrogate = surrogate;
            mc.readout = readout;
            mc.beta = a.beta.unwrap_or(d.beta);
            // The configuration comes from the flags alone: what it rejects is a usage error.
            mc.validate()
                .map_err(|e| usage(format!("invalid model: {e}")))?;
            let batch_size = a.batch_size.unwrap_or(d.batch_size);
            mc.check_train_memory(batch_size, a.threads, &crate::budget::budget(a.max_memory))?;
            let model = Model::new(mc, seed).map_err(|e| usage(format!("invalid model: {e}")))?;
            let mut tc = TrainConfig::recipe(a.epochs, seed);
            tc.lr = lr;
            tc.batch_size = batch_size;
            tc.encoding = encoding;
            tc.optimizer = OptimizerKind::Adam {
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay,
            };
            if a.cosine {
                tc.schedule = Schedule::Cosine {
                    total_epochs: a.epochs,
                    min_lr: 0.0,
                };
            }
            tc.early_stop_patience = a.early_stop;
            let mut t = Trainer::new(model, tc).map_err(|e| usage(e.to_string()))?;
            t.dataset = dataset.to_string();
            t
        }
    };
    if let Some(spec) = &a.augment {
        trainer.config.augment = spec.parse().map_err(|e| usage(format!("--augment: {e}")))?;
    }
    let dataset = trainer.dataset.clone();
    let sets = Sets::load(&dataset, a.data.as_deref(), a.limit)?;
    if a.resume.is_some() && a.limit.is_none() {
        errln!(
            "note: training on all {} {dataset} training samples (--limit is not stored in checkpoints; give it again to keep a limit)",
            sets.train_len()
        );
    }
    let (h, w) = sets.image_shape();
    let shift = trainer.config.augment.shift;
    if shift >= h.min(w) {
        return Err(usage(format!(
            "--augment shift:{shift}: the {dataset} images are {h}x{w}, so a shift of {shift} pixels moves some samples entirely off the image (a shift must be below {})",
            h.min(w)
        )));
    }
    if sets.n_inputs() != trainer.model.config.n_inputs {
        bail!(
            "the dataset has {} inputs but the model expects {}",
            sets.n_inputs(),
            trainer.model.config.n_inputs
        );
    }
    let (train_src, test_src) = sets.sources();
    let mut metrics_file = match &a.metrics {
        Some(p) => Some({
            // The file holds exactly this run's epochs so far: the checkpoint's on --resume,
            // none for a fresh run (whose lines used to follow an earlier run's).
            checkpoint::reconcile_metrics(p, &trainer)?;
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .with_context(|| format!("cannot open {}", p.display()))?
        }),
        None => None,
    };
    let human = !a.json;
    if human {
        outln!(
            "training {} on {} ({} train / {} test), {} steps, {} threads",
            describe(&trainer.model),
            dataset,
            train_src.len(),
            test_src.len(),
            trainer.model.config.steps,
            a.threads
        );
        outln!(
            "{:>5} {:>10} {:>9} {:>9} {:>9} {:>8} {:>8}",
            "epoch",
            "loss",
            "train",
            "test",
            "lr",
            "time_s",
            "rate"
        );
    }
    let start = Instant::now();
    // Wall times of this run's epochs (checkpoints hold none).
    let mut per_epoch: Vec<f64> = Vec::new();
    while !trainer.finished() {
        let n_batches = train_src.len().div_ceil(trainer.config.batch_size) as u64;
        let pb = bar(n_batches, true);
        pb.set_prefix(format!("epoch {}", trainer.epoch + 1));
        let m = trainer.run_epoch(
            train_src.as_ref(),
            test_src.as_ref(),
            a.threads,
            &mut |done, _, loss, acc| {
                pb.set_position(done as u64);
                pb.set_message(format!("loss {loss:.4} acc {acc:.4}"));
            },
        )?;
        pb.finish_and_clear();
        let line = format!(
            "{:>5} {:>10.4} {:>9.4} {:>9.4} {:>9.2e} {:>8.2} {:>8.3}",
            m.epoch, m.train_loss, m.train_acc, m.test_acc, m.lr, m.train_s, m.hidden_rate
        );
        if human {
            outln!("{line}");
        } else {
            errln!("{line}");
        }
        per_epoch.push(m.train_s);
        // Checkpoint first, then the metrics line: an interruption in between leaves the metrics
        // one epoch behind the checkpoint, which a resumed run fills in from its history.
        if let Some(p) = &a.out {
            checkpoint::save(&trainer, p)?;
        }
        if let Some(f) = &mut metrics_file {
            writeln!(f, "{}", serde_json::to_string(&m)?)
                .context("cannot append to the metrics file")?;
        }
    }
    if trainer.stopped_early && human {
        outln!(
            "early stop: keeping the model of epoch {}",
            trainer.best.as_ref().map_or(0, |b| b.epoch)
        );
    }
    let test_acc = trainer.evaluate(test_src.as_ref(), a.threads)?.0;
    if let Some(p) = &a.out {
        checkpoint::save(&trainer, p)?;
    }
    if let Some(p) = &a.export {
        write_spec(p, &trainer.model, trainer.config.encoding)?;
    }
    // (`sum` of no floats is -0.0: printed as "-0.00 s per epoch" when no epoch ran.)
    let mean_epoch_s = if per_epoch.is_empty() {
        0.0
    } else {
        per_epoch.iter().sum::<f64>() / per_epoch.len() as f64
    };
    let rss_mb = peak_rss_bytes().map(|b| b as f64 / 1048576.0);
    if a.json {
        outln!(
            "{}",
            serde_json::json!({
                "dataset": dataset,
                "epochs": trainer.epoch,
                "test_acc": test_acc,
                "train_s_per_epoch": mean_epoch_s,
                "peak_rss_mb": rss_mb,
                "threads": a.threads,
                "seed": trainer.config.seed,
                "model": describe(&trainer.model),
                "arch": arch::describe(&trainer.model.config),
                "augment": trainer.config.augment.to_string(),
                "wall_s": start.elapsed().as_secs_f64(),
                "checkpoint": a.out.as_ref().map(|p| p.display().to_string()),
                "export": a.export.as_ref().map(|p| p.display().to_string()),
            })
        );
    } else {
        let timing = if per_epoch.is_empty() {
            "no epoch left to run".to_string()
        } else {
            format!("{mean_epoch_s:.2} s per epoch")
        };
        outln!(
            "test accuracy {:.4} after {} epochs ({timing}, peak memory {:.0} MiB)",
            test_acc,
            trainer.epoch,
            rss_mb.unwrap_or(0.0)
        );
        if let Some(p) = &a.out {
            outln!("checkpoint  {}", p.display());
        }
        if let Some(p) = &a.export {
            outln!("network     {}", p.display());
        }
    }
    Ok(())
}

/// The input shape `[C, H, W]` of a dataset's samples.
fn dataset_shape(dataset: &str) -> Option<[usize; 3]> {
    match dataset {
        "digits" => Some([1, 8, 8]),
        "mnist" | "fashion-mnist" => Some([1, 28, 28]),
        "nmnist" => Some([2, data::NMNIST_SIZE, data::NMNIST_SIZE]),
        _ => None,
    }
}

fn describe(m: &Model) -> String {
    let mut s = m.config.n_inputs.to_string();
    if m.config
        .hidden
        .iter()
        .any(|h| h.conv.is_some() || h.dropout.is_some())
    {
        s = format!("{s}-{}", arch::describe(&m.config));
    } else {
        for l in &m.layers {
            s.push_str(&format!("-{}", l.n_out));
        }
    }
    let readout = if m.config.readout == Readout::Membrane {
        "membrane readout"
    } else {
        "spike-count readout"
    };
    format!("{s} LIF ({readout}, {})", m.config.surrogate)
}

/// Runs `snn eval`.
pub fn eval(a: EvalArgs) -> Result<()> {
    if a.threads == 0 {
        return Err(crate::usage::usage("--threads must be at least 1"));
    }
    let t = checkpoint::load(&a.checkpoint)?;
    // Only the test split is read (MNIST's training files need not be there).
    let sets = match t.dataset.as_str() {
        "mnist" | "fashion-mnist" => {
            let dir = data::data_dir(a.data.as_deref())?;
            let test = data::mnist_like_test(&dir, &t.dataset)?;
            Sets::Images(test.take(0), test)
        }
        name => Sets::load(name, a.data.as_deref(), None)?,
    };
    let (_, test) = sets.sources();
    let start = Instant::now();
    let (acc, preds) = t.evaluate(test.as_ref(), a.threads.max(1))?;
    let eval_s = start.elapsed().as_secs_f64();
    let mut engine = serde_json::Value::Null;
    if a.engine {
        let mut clf = EngineClassifier::new(&t.model, t.config.encoding)?;
        let idx: Vec<usize> = (0..test.len()).collect();
        let (mut agree, mut correct, mut events) = (0usize, 0usize, 0u64);
        let t0 = Instant::now();
        for shard in idx.chunks(SHARD) {
            // Coded as the exported spec's readout says (the trainer's encoding and steps).
            let input = clf.encode(test.as_ref(), shard, t.config.seed ^ 0xE7A1_0000_0000_0001)?;
            let (p, e) = clf.predict(&input, shard.len())?;
            events += e;
            for (k, &i) in shard.iter().enumerate() {
                agree += (p[k] == preds[i]) as usize;
                correct += (p[k] == test.label(i) as usize) as usize;
            }
        }
        engine = serde_json::json!({
            "test_acc": correct as f64 / test.len().max(1) as f64,
            "agreement": agree as f64 / test.len().max(1) as f64,
            "syn_events": events,
            "run_s": t0.elapsed().as_secs_f64(),
        });
    }
    if a.json {
        outln!(
            "{}",
            serde_json::json!({"dataset": t.dataset, "epochs": t.epoch, "test_acc": acc, "eval_s": eval_s, "threads": a.threads, "seed": t.config.seed, "engine": engine})
        );
    } else {
        outln!(
            "{}: {} trained {} epochs on {}",
            a.checkpoint.display(),
            describe(&t.model),
            t.epoch,
            t.dataset
        );
        outln!("test accuracy (trainer)  {acc:.4}");
        if !engine.is_null() {
            outln!(
                "test accuracy (engine)   {:.4}",
                engine["test_acc"].as_f64().unwrap_or(0.0)
            );
            outln!(
                "agreement                {:.4} ({} synaptic events)",
                engine["agreement"].as_f64().unwrap_or(0.0),
                engine["syn_events"]
            );
        }
    }
    Ok(())
}
