//! `snn demo`: the whole story on built-in data — encode the digits into spikes, train a spiking
//! classifier with surrogate gradients and an ANN of the same shape, export the SNN, simulate it
//! in the engine, compile it onto a chip model, run the test set there, and compare.
//!
//! This module only orchestrates library calls and prints; every algorithm lives in the library
//! crates.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use snn_learn::ann::Mlp;
use snn_learn::data::digits;
use snn_learn::export::{EngineClassifier, sample_spikes};
use snn_learn::model::{Input, Model, ModelConfig};
use snn_learn::optim::OptimizerKind;
use snn_learn::train::{Encoding, SHARD, TrainConfig, Trainer};
use snn_neuromorphic::{Chip, RunOptions, compile};
use snn_types::file::atomic_write;

/// Energy of one 32-bit floating-point multiply (3.7 pJ) plus add (0.9 pJ) in 45 nm CMOS:
/// M. Horowitz, "Computing's energy problem (and what we can do about it)", ISSCC 2014.
pub const FP32_MAC_PJ: f64 = 4.6;
/// Energy of one 32-bit floating-point add in 45 nm CMOS (same source): the cost of one synaptic
/// event on a conventional processor, ignoring memory traffic.
pub const FP32_ADD_PJ: f64 = 0.9;

/// The files `snn demo` writes into its `--out` directory.
const OUTPUT_FILES: [&str; 13] = [
    "snn.toml",
    "comparison.md",
    "comparison.json",
    "training.json",
    "training.svg",
    "training.png",
    "chip_energy.svg",
    "chip_energy.png",
    "chip_cores.svg",
    "chip_cores.png",
    "chip_report_last_sample.json",
    "raster.svg",
    "raster.png",
];

/// Arguments of `snn demo`.
#[derive(clap::Args)]
pub struct DemoArgs {
    /// Directory for the table (Markdown, JSON), the exported network and the pictures.
    #[arg(long, default_value = "demo-out", value_name = "DIR")]
    out: PathBuf,
    /// Hidden LIF neurons (the ANN gets the same layer sizes).
    #[arg(long, default_value_t = 128)]
    hidden: usize,
    /// Training epochs of both networks.
    #[arg(long, default_value_t = 20)]
    epochs: usize,
    /// Time steps per sample (1 ms each).
    #[arg(long, default_value_t = 25)]
    steps: usize,
    /// Chip architecture: a preset (loihi) or an ArchSpec TOML file (truenorth's 4 axon types
    /// cannot hold the demo's trained weights and are refused up front).
    #[arg(long, default_value = "loihi")]
    arch: String,
    /// Worker threads for training (results are identical for any count).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Seed of every random stream.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Memory budget (e.g. 512M, 8G; default: the memory available): a `--hidden` or `--steps`
    /// whose training does not fit is refused before anything is written.
    #[arg(long, value_name = "SIZE", value_parser = crate::budget::parse_max_memory)]
    max_memory: Option<u64>,
    /// Print the result as one JSON object on stdout.
    #[arg(long)]
    json: bool,
    /// Tell the story with a small convolutional network instead
    /// (`16C3p1-AP2-32C3p1-AP2-FC10` on the 1 x 8 x 8 digits): trained, exported with conv2d
    /// projections, simulated in the engine and compiled onto the chip. `--hidden` then sizes
    /// the ANN only.
    #[arg(long)]
    conv: bool,
}

/// The network of `snn demo --conv`: two conv layers with folded average pooling on the
/// 1 x 8 x 8 digits.
pub const CONV_ARCH: &str = "16C3p1-AP2-32C3p1-AP2-FC10";

fn spinner(msg: &str) -> ProgressBar {
    if std::io::stderr().is_terminal() {
        let b = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        b.set_style(
            ProgressStyle::with_template("{spinner} {msg} {pos}/{len} ({elapsed})")
                .expect("static template"),
        );
        b.set_message(msg.to_string());
        b.enable_steady_tick(std::time::Duration::from_millis(120));
        b
    } else {
        ProgressBar::hidden()
    }
}

fn say(json: bool, text: String) -> Result<()> {
    if json {
        errln!("{text}");
    } else {
        outln!("{text}");
    }
    Ok(())
}

/// Fewest axon types (distinct weights per neuron) below which the demo refuses an architecture
/// before training: trained weights, quantised, give each neuron tens of distinct values (60 in
/// a 64-16-10 network), so a handful (TrueNorth's 4) never fits; an architecture above this may
/// still not fit, which the chip step then reports.
const MIN_DEMO_AXON_TYPES: u32 = 16;

/// Batch size of both networks' training.
const DEMO_BATCH: usize = 64;

/// The SNN's configuration: `64-hidden-10` (or [`CONV_ARCH`]), spike-count readout, reset to
/// zero as on Loihi.
fn snn_config(a: &DemoArgs) -> Result<ModelConfig> {
    let mut cfg = ModelConfig::feed_forward(64, &[a.hidden], 10, a.steps);
    if a.conv {
        let parsed = snn_learn::arch::parse(CONV_ARCH, [1, 8, 8])
            .map_err(|e| anyhow::anyhow!("the demo's architecture: {e}"))?;
        cfg.hidden = parsed.hidden;
        cfg.input_shape = Some([1, 8, 8]);
    }
    cfg.readout = snn_learn::model::Readout::SpikeCount;
    // Loihi's neuron resets to zero (it has no reset by subtraction), so train that way.
    cfg.reset = snn_types::ResetMode::Zero;
    Ok(cfg)
}

/// Runs `snn demo`.
pub fn run(a: DemoArgs) -> Result<()> {
    for (flag, v) in [
        ("--threads", a.threads),
        ("--hidden", a.hidden),
        ("--epochs", a.epochs),
        ("--steps", a.steps),
    ] {
        if v == 0 {
            return Err(crate::usage::usage(format!("{flag} 0: must be at least 1")));
        }
    }
    let arch = crate::chip::resolve_arch(&a.arch)?;
    // A chip with a handful of axon types (TrueNorth's 4 distinct weights per neuron) cannot hold
    // a network trained with real-valued weights (tens of distinct weights per neuron after
    // quantisation): said before training, not after it.
    if let Some(types) = arch.core.axon_types
        && types < MIN_DEMO_AXON_TYPES
    {
        return Err(crate::usage::usage(format!(
            "--arch {}: the architecture allows {types} distinct weights per neuron \
             (core.axon_types); the demo trains real-valued weights, which give each neuron tens \
             of them after quantisation, so the chip step would fail after training. Use \
             --arch loihi, or an ArchSpec without axon_types (or with at least \
             {MIN_DEMO_AXON_TYPES})",
            a.arch
        )));
    }
    let (train, test) = digits();
    // Both networks fit in memory, checked before anything is written or allocated.
    let cfg = snn_config(&a)?;
    let budget = crate::budget::budget(a.max_memory);
    cfg.check_train_memory(DEMO_BATCH, a.threads, &budget)?;
    // The trained SNN is kept while the ANN trains: their sum must fit.
    let snn_bytes = cfg
        .train_memory_bytes(DEMO_BATCH, a.threads)
        .unwrap_or(u64::MAX);
    budget.check_parts(
        format!(
            "training the 64-{}-10 ANN (batch {DEMO_BATCH}) beside the trained SNN",
            a.hidden
        ),
        Mlp::memory_bytes(&[64, a.hidden, 10], DEMO_BATCH, test.len())
            .unwrap_or(u64::MAX)
            .saturating_add(snn_bytes),
        "the SNN's training memory plus the ANN's parameters, Adam moments, gradients, activations",
    )?;
    // Every file of the run can be written, checked before the training starts.
    if a.out.is_file() {
        return Err(crate::usage::usage(format!(
            "--out {}: is a file, not a directory",
            a.out.display()
        )));
    }
    std::fs::create_dir_all(&a.out).map_err(|e| {
        crate::usage::usage(format!(
            "--out {}: cannot create the directory: {e}",
            a.out.display()
        ))
    })?;
    let arch_file = std::path::Path::new(&a.arch);
    let arch_input = arch_file.is_file().then_some(arch_file);
    for name in OUTPUT_FILES {
        snn_types::file::check_output(&a.out.join(name), arch_input.as_slice())
            .map_err(|e| crate::usage::usage(format!("--out {e}")))?;
    }
    let enc = Encoding::Rate { p_max: 0.8 };
    say(
        a.json,
        format!(
            "1. data: bundled digits, {} train / {} test, rate-coded into {} steps of spikes",
            train.len(),
            test.len(),
            a.steps
        ),
    )?;

    // 2. The SNN, trained with surrogate gradients.
    let snn_name = if a.conv {
        format!("{CONV_ARCH} (1x8x8 input)")
    } else {
        format!("64-{}-10", a.hidden)
    };
    let mut tc = TrainConfig::recipe(a.epochs, a.seed);
    tc.lr = if a.conv { 5e-3 } else { 2e-3 };
    tc.batch_size = DEMO_BATCH;
    tc.encoding = enc;
    tc.optimizer = OptimizerKind::Adam {
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.01,
    };
    let mut trainer = Trainer::new(Model::new(cfg, a.seed).map_err(|e| anyhow::anyhow!(e))?, tc)?;
    let pb = spinner("training the SNN (epochs)");
    pb.set_length(a.epochs as u64);
    let t0 = Instant::now();
    while !trainer.finished() {
        trainer.run_epoch(&train, &test, a.threads, &mut |_, _, _, _| {})?;
        pb.inc(1);
    }
    pb.finish_and_clear();
    let snn_train_s = t0.elapsed().as_secs_f64();
    let (snn_acc, snn_preds) = trainer.evaluate(&test, a.threads)?;
    say(
        a.json,
        format!("2. SNN {snn_name} LIF trained in {snn_train_s:.1} s: test accuracy {snn_acc:.4}"),
    )?;

    // 3. The ANN of the same shape.
    let t0 = Instant::now();
    let mut mlp = Mlp::new(&[64, a.hidden, 10], a.seed);
    let mut opt = mlp.adam();
    for e in 0..a.epochs {
        mlp.train_epoch(&train, &mut opt, 1e-3, 64, a.seed ^ e as u64);
    }
    let ann_train_s = t0.elapsed().as_secs_f64();
    let ann_acc = mlp.accuracy(&test);
    say(
        a.json,
        format!(
            "3. ANN 64-{}-10 ReLU trained in {ann_train_s:.1} s: test accuracy {ann_acc:.4}",
            a.hidden
        ),
    )?;

    // 4. Export (the spec carries its readout) and simulate in the engine.
    let mut clf = EngineClassifier::new(&trainer.model, enc)?;
    let spec = clf.spec().clone();
    let readout = clf.readout().clone();
    let spec_path = a.out.join("snn.toml");
    atomic_write(&spec_path, spec.to_toml_string()?.as_bytes())?;
    let idx: Vec<usize> = (0..test.len()).collect();
    let eval_seed = trainer.config.seed ^ 0xE7A1_0000_0000_0001;
    let inputs: Vec<(Vec<usize>, Input)> = idx
        .chunks(SHARD)
        .map(|s| Ok((s.to_vec(), clf.encode(&test, s, eval_seed)?)))
        .collect::<Result<_>>()?;
    let (mut engine_preds, mut engine_events) = (Vec::new(), 0u64);
    let t0 = Instant::now();
    for (s, input) in &inputs {
        let (p, e) = clf.predict(input, s.len())?;
        engine_preds.extend(p);
        engine_events += e;
    }
    let engine_s = t0.elapsed().as_secs_f64();
    let agree = engine_preds
        .iter()
        .zip(&snn_preds)
        .filter(|(x, y)| x == y)
        .count();
    let engine_acc = accuracy(&engine_preds, &test.labels);
    say(
        a.json,
        format!(
            "4. engine: exported network ({}), {agree}/{} predictions identical to the trainer's",
            spec_path.display(),
            test.len()
        ),
    )?;

    // 5. Compile onto the chip and run the test set; the spec's readout says how to feed a
    // sample, how long to run and how to read the class.
    let program = compile(&spec, &arch)?;
    let mut chip = Chip::new(&program)?;
    let opts = RunOptions::default();
    let (mut chip_preds, mut energy_pj, mut time_ns, mut syn_ops) =
        (Vec::new(), 0.0f64, 0.0f64, 0u64);
    let mut last_report = None;
    let mut energy_classes = [0.0f64; 4];
    let mut core_ops: Vec<(u64, u64)> = Vec::new();
    let mut first_input = None;
    let pb = spinner("running the test set on the chip model (samples)");
    pb.set_length(test.len() as u64);
    for (s, input) in &inputs {
        for k in 0..s.len() {
            chip.reset();
            let spikes = sample_spikes(&readout, input, s.len(), k)?;
            chip.inject_input(&spikes)?;
            let rep = chip.run(readout.run_steps(), &opts)?;
            chip_preds.push(
                readout
                    .predict(&rep.spikes)
                    .context("the chip run does not carry what the readout reads")?,
            );
            energy_pj += rep.energy.total_pj;
            for (acc, x) in energy_classes.iter_mut().zip([
                rep.energy.synaptic_pj,
                rep.energy.neuron_pj,
                rep.energy.network_pj,
                rep.energy.static_pj,
            ]) {
                *acc += x;
            }
            for c in &rep.cores {
                if core_ops.len() <= c.core as usize {
                    core_ops.resize(c.core as usize + 1, (0u64, 0u64));
                }
                core_ops[c.core as usize].0 += c.synaptic_ops;
                core_ops[c.core as usize].1 += c.neuron_updates;
            }
            time_ns += rep.total_time_ns;
            syn_ops += rep.counts.synaptic_ops;
            if first_input.is_none() {
                first_input = Some(spikes.clone());
            }
            last_report = Some(rep);
            pb.inc(1);
        }
    }
    pb.finish_and_clear();
    let chip_acc = accuracy(&chip_preds, &test.labels);
    let n = test.len() as f64;
    say(
        a.json,
        format!(
            "5. chip ({}): {} cores, test accuracy {chip_acc:.4} after quantisation",
            arch.name,
            program.n_cores_used()
        ),
    )?;

    // 6. The comparison.
    let ann_macs = mlp.macs() as f64;
    let engine_ev = engine_events as f64 / n;
    let table = json!({
        "ann": {
            "test_acc": ann_acc, "precision": "f32 activations / f32 weights",
            "ops_per_inference": ann_macs, "ops_unit": "MAC",
            "energy_per_inference_nj": ann_macs * FP32_MAC_PJ / 1000.0,
            "latency_per_inference": null, "train_s": ann_train_s,
        },
        "snn_engine": {
            "test_acc": engine_acc, "precision": "binary spikes / f32 weights",
            "ops_per_inference": engine_ev, "ops_unit": "synaptic event",
            "energy_per_inference_nj": engine_ev * FP32_ADD_PJ / 1000.0,
            "latency_per_inference_ms": a.steps as f64 * spec.dt_ms, "train_s": snn_train_s,
            "agreement_with_trainer": agree as f64 / n, "wall_s": engine_s,
        },
        "snn_chip": {
            "test_acc": chip_acc, "precision": format!("binary spikes / {}-bit weights", program.quantisation.num_weight_bits),
            "ops_per_inference": syn_ops as f64 / n, "ops_unit": "synaptic op",
            "energy_per_inference_nj": energy_pj / n / 1000.0,
            "latency_per_inference_us": time_ns / n / 1000.0,
            "arch": arch.name, "cores_used": program.n_cores_used(),
        },
        "energy_sources": {
            "ann_mac_pj": FP32_MAC_PJ, "engine_event_pj": FP32_ADD_PJ,
            "reference": "Horowitz, ISSCC 2014 (45 nm): fp32 mult 3.7 pJ + add 0.9 pJ; chip figures from the preset's per-operation energies",
        },
        "seed": a.seed, "epochs": a.epochs, "hidden": a.hidden, "steps": a.steps,
        "snn_net": snn_name, "ann_net": format!("MLP 64-{}-10", a.hidden),
    });
    let md = markdown(&table);
    atomic_write(&a.out.join("comparison.md"), md.as_bytes())?;
    atomic_write(
        &a.out.join("comparison.json"),
        serde_json::to_string_pretty(&table)?.as_bytes(),
    )?;
    let curves: Vec<_> = trainer
        .history
        .iter()
        .map(|m| json!({"epoch": m.epoch, "train_loss": m.train_loss, "test_acc": m.test_acc}))
        .collect();
    atomic_write(
        &a.out.join("training.json"),
        serde_json::to_string_pretty(&curves)?.as_bytes(),
    )?;
    let curve = |f: &dyn Fn(&snn_learn::train::EpochMetrics) -> f64| -> Vec<(f64, f64)> {
        trainer
            .history
            .iter()
            .map(|m| (m.epoch as f64, f(m)))
            .collect()
    };
    crate::charts::line_chart(
        &a.out.join("training"),
        "SNN training on the digits",
        "epoch",
        &[
            crate::charts::Series {
                label: "train loss",
                points: curve(&|m| m.train_loss),
            },
            crate::charts::Series {
                label: "test accuracy",
                points: curve(&|m| m.test_acc),
            },
        ],
    )?;
    let classes = ["synaptic", "neuron", "network", "static"];
    crate::charts::bar_chart(
        &a.out.join("chip_energy"),
        &format!("chip energy per inference by class ({})", arch.name),
        "nJ",
        &classes
            .iter()
            .zip(energy_classes)
            .map(|(c, e)| (c.to_string(), e / n / 1000.0))
            .collect::<Vec<_>>(),
    )?;
    crate::charts::bar_chart(
        &a.out.join("chip_cores"),
        "chip load per core and inference (synaptic ops)",
        "synaptic ops",
        &core_ops
            .iter()
            .enumerate()
            .map(|(i, c)| (format!("core {i}"), c.0 as f64 / n))
            .collect::<Vec<_>>(),
    )?;
    if let Some(rep) = &last_report {
        atomic_write(
            &a.out.join("chip_report_last_sample.json"),
            serde_json::to_string_pretty(rep)?.as_bytes(),
        )?;
    }
    if let Some(inp) = first_input {
        // Every layer, hidden ones included: test sample 0 again, on a program of the same
        // network that records all populations (the classifier's records only the output).
        let mut all = spec.clone();
        all.recording.spikes = None;
        let program_all = compile(&all, &arch)?;
        let mut chip_all = Chip::new(&program_all)?;
        chip_all.inject_input(&inp)?;
        let r = chip_all.run(readout.run_steps(), &opts)?.spikes;
        let mut next = 0u32;
        let populations: Vec<(String, u32, u32)> = all
            .populations
            .iter()
            .map(|p| {
                next += p.size;
                (p.name.clone(), next - p.size, p.size)
            })
            .collect();
        for name in ["raster.svg", "raster.png"] {
            crate::charts::raster_chart(
                &a.out.join(name),
                "test sample 0 on the chip: spikes of every layer",
                &r,
                all.dt_ms,
                &populations,
            )?;
        }
    }
    if a.json {
        outln!("{table}");
    } else {
        outln!("\n{md}");
        outln!(
            "written to {}: comparison.md/.json, training.json/.svg/.png, chip_energy.svg/.png, chip_cores.svg/.png, raster.svg/.png, snn.toml, chip_report_last_sample.json",
            a.out.display()
        );
    }
    Ok(())
}

fn accuracy(preds: &[usize], labels: &[u8]) -> f64 {
    preds
        .iter()
        .zip(labels)
        .filter(|(p, l)| **p == **l as usize)
        .count() as f64
        / labels.len().max(1) as f64
}

fn markdown(t: &serde_json::Value) -> String {
    let f = |v: &serde_json::Value| v.as_f64().map_or("n/a".to_string(), |x| format!("{x:.4}"));
    let (a, e, c) = (&t["ann"], &t["snn_engine"], &t["snn_chip"]);
    let mut s = String::new();
    s.push_str(&format!(
        "| | ANN ({}, trained here) | SNN {} on the engine | the same SNN on the chip model |\n|---|---|---|---|\n",
        t["ann_net"].as_str().unwrap_or("MLP"),
        t["snn_net"].as_str().unwrap_or("")
    ));
    s.push_str(&format!(
        "| test accuracy | {} | {} | {} |\n",
        f(&a["test_acc"]),
        f(&e["test_acc"]),
        f(&c["test_acc"])
    ));
    s.push_str(&format!(
        "| precision of activations / weights | {} | {} | {} |\n",
        a["precision"].as_str().unwrap_or(""),
        e["precision"].as_str().unwrap_or(""),
        c["precision"].as_str().unwrap_or("")
    ));
    s.push_str(&format!(
        "| operations per inference | {:.0} MACs | {:.0} synaptic events | {:.0} synaptic ops |\n",
        a["ops_per_inference"].as_f64().unwrap_or(0.0),
        e["ops_per_inference"].as_f64().unwrap_or(0.0),
        c["ops_per_inference"].as_f64().unwrap_or(0.0)
    ));
    s.push_str(&format!("| energy per inference | {} nJ (4.6 pJ/MAC) | {} nJ (0.9 pJ/event) | {} nJ (chip report) |\n", f(&a["energy_per_inference_nj"]), f(&e["energy_per_inference_nj"]), f(&c["energy_per_inference_nj"])));
    s.push_str(&format!("| latency per inference | not modelled | {} ms (steps x dt) | {} µs (modelled chip time) |\n", f(&e["latency_per_inference_ms"]), f(&c["latency_per_inference_us"])));
    s.push_str(&format!(
        "| training time | {} s | {} s | (the SNN's) |\n",
        f(&a["train_s"]),
        f(&e["train_s"])
    ));
    s.push_str("\nEnergy sources: ANN and engine per-operation energies from Horowitz, ISSCC 2014 (45 nm, fp32: multiply 3.7 pJ, add 0.9 pJ; memory traffic not counted); chip energy from the architecture preset's per-operation figures (see docs/chip.md).\n");
    s
}
