//! `snn inspect FILE`: summarise a network spec, a training checkpoint, a chip report or a
//! weight history (`snn simulate --save-weights`).
//!
//! The kind of file is detected from its content first (the checkpoint's magic bytes, a JSON
//! object's keys), then from its extension (`.toml`, `.json`). Every failure is one line naming
//! the file: `FILE: what is wrong`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow};
use serde_json::{Map, Value, json};
use snn_core::Network;
use snn_learn::checkpoint;
use snn_learn::train::Trainer;
use snn_types::NetworkSpec;

/// Arguments of `snn inspect`.
#[derive(clap::Args)]
pub struct InspectArgs {
    /// A network spec (.toml or .json), a training checkpoint (`snn train --out`), a chip
    /// report (`snn chip --json` saved to a file) or a weight history (`snn simulate
    /// --save-weights`).
    pub file: PathBuf,
    /// Print the summary as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Keys every chip report (`snn chip --json`) carries at its top level.
const CHIP_REPORT_KEYS: [&str; 5] = ["arch", "steps", "cores_used", "total_time_ns", "energy"];

/// What a file turned out to be, with its summary.
struct Summary {
    /// `network_spec`, `checkpoint`, `chip_report` or `weight_history`.
    kind: &'static str,
    /// Machine-readable summary (without `file` and `kind`, added on output).
    json: Map<String, Value>,
    /// Human-readable lines.
    text: String,
}

/// Runs `snn inspect`.
pub fn run(a: InspectArgs) -> Result<()> {
    let s = inspect(&a.file).map_err(|e| anyhow!(one_line(&e)))?;
    if a.json {
        let mut out = Map::new();
        out.insert("file".into(), json!(a.file.display().to_string()));
        out.insert("kind".into(), json!(s.kind));
        out.extend(s.json);
        outln!("{}", Value::Object(out));
    } else {
        outln!("file             {}", a.file.display());
        outln!("kind             {}", s.kind.replace('_', " "));
        out!("{}", s.text);
    }
    Ok(())
}

/// Collapses a (possibly multi-line) message into one line.
fn one_line(msg: &str) -> String {
    msg.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.chars().all(|c| c == '|' || c == '^' || c == ' '))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Largest file `snn inspect` reads (1 GiB).
const INSPECT_MAX_BYTES: u64 = 1 << 30;

/// Detects the kind of `path` and summarises it. Errors are messages that name the file.
fn inspect(path: &Path) -> std::result::Result<Summary, String> {
    let name = path.display().to_string();
    if crate::nir::is_nir(path) {
        let spec = crate::nir::load_spec(path).map_err(|e| format!("{e:#}"))?;
        return spec_summary(&spec, &name);
    }
    // Specs, training checkpoints and chip reports: 1 GiB is beyond any of them, and keeps an
    // endless file (`/dev/zero`) from filling memory.
    let bytes = snn_types::file::read_limited(path, INSPECT_MAX_BYTES).map_err(|e| match e {
        snn_types::file::FileError::Io { error, .. } => format!("{name}: cannot read: {error}"),
        other => other.to_string(),
    })?;
    if checkpoint::is_checkpoint(&bytes) {
        let t = checkpoint::from_bytes(&bytes, &name).map_err(|e| e.to_string())?;
        return Ok(checkpoint_summary(&t));
    }
    if snn_types::file::peek_kind(&bytes) == Some(snn_types::file::FrameKind::WEIGHT_HISTORY.tag) {
        let h = snn_core::WeightHistory::load(path).map_err(|e| e.to_string())?;
        return Ok(weight_history_summary(&h));
    }
    if snn_types::file::peek_kind(&bytes) == Some(snn_types::file::FrameKind::STDP_WEIGHTS.tag)
        || bytes.starts_with(b"SNNSTDPW")
    {
        return Err(format!(
            "{name}: an STDP classifier checkpoint; inspect reads network specs, training checkpoints and chip reports"
        ));
    }
    // A byte-order mark is not part of the text (as for `snn validate`).
    let body = snn_types::file::without_bom(&bytes);
    let text = std::str::from_utf8(body).map_err(|_| {
        format!("{name}: not a recognised file (binary, and neither an snn training checkpoint nor a weight history)")
    })?;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let looks_json = text.trim_start().starts_with('{');
    if ext.as_deref() == Some("json") || (looks_json && ext.as_deref() != Some("toml")) {
        let v: Value =
            serde_json::from_str(text).map_err(|e| format!("{name}: not valid JSON: {e}"))?;
        let Value::Object(obj) = v else {
            return Err(format!(
                "{name}: a JSON {} is neither a network spec nor a chip report",
                kind_of(&v)
            ));
        };
        if CHIP_REPORT_KEYS.iter().all(|k| obj.contains_key(*k)) {
            return Ok(chip_report_summary(&obj));
        }
        if obj.contains_key("populations") {
            let spec =
                NetworkSpec::from_json_str(text).map_err(|e| e.with_origin(&name).to_string())?;
            return spec_summary(&spec, &name);
        }
        return Err(format!(
            "{name}: a JSON object that is neither a network spec (no `populations`) nor a chip report (needs {})",
            CHIP_REPORT_KEYS.join(", ")
        ));
    }
    match NetworkSpec::from_toml_str(text) {
        Ok(spec) => spec_summary(&spec, &name),
        Err(e) if ext.as_deref() == Some("toml") => Err(e.with_origin(&name).to_string()),
        Err(_) => Err(format!(
            "{name}: not a recognised file (expected a network spec .toml/.json, an snn training checkpoint, a chip report .json or a weight history)"
        )),
    }
}

/// A weight history (`snn simulate --save-weights`): the projection, and per snapshot the
/// step and the weights' mean and range.
fn weight_history_summary(h: &snn_core::WeightHistory) -> Summary {
    let mut text = String::new();
    let _ = writeln!(text, "projection       {}", h.projection);
    let _ = writeln!(
        text,
        "synapses         {} ({} sources x {} targets)",
        h.targets.len(),
        h.n_source,
        h.n_target
    );
    let _ = writeln!(text, "snapshots        {}", h.steps.len());
    let mut snaps = Vec::new();
    if h.targets.is_empty() {
        let _ = writeln!(text, "  (no synapses: every snapshot is empty)");
    }
    for (&step, w) in h.steps.iter().zip(&h.weights) {
        if w.is_empty() {
            let _ = writeln!(text, "  step {step:>10}");
            snaps.push(json!({ "step": step }));
            continue;
        }
        let n = w.len() as f64;
        let mean = w.iter().map(|&x| x as f64).sum::<f64>() / n;
        let min = w.iter().copied().fold(f32::INFINITY, f32::min);
        let max = w.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let _ = writeln!(
            text,
            "  step {step:>10}  mean {mean:.6}  min {min}  max {max}"
        );
        snaps.push(json!({ "step": step, "mean": mean, "min": min, "max": max }));
    }
    let mut j = Map::new();
    j.insert("projection".into(), json!(h.projection));
    j.insert("n_source".into(), json!(h.n_source));
    j.insert("n_target".into(), json!(h.n_target));
    j.insert("synapses".into(), json!(h.targets.len()));
    j.insert("snapshots".into(), Value::Array(snaps));
    Summary {
        kind: "weight_history",
        json: j,
        text,
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The tag of an internally tagged serde enum (`rule`, `kind`), or the variant name of an
/// externally tagged one.
/// `v` is the value as serialised by `serde_json::to_value`.
fn tag_of(v: serde_json::Result<Value>, tag: &str) -> String {
    match v {
        Ok(Value::Object(m)) => match m.get(tag) {
            Some(Value::String(s)) => s.clone(),
            _ => m.keys().next().cloned().unwrap_or_default(),
        },
        Ok(Value::String(s)) => s,
        _ => String::from("?"),
    }
}

fn spec_summary(spec: &NetworkSpec, name: &str) -> std::result::Result<Summary, String> {
    spec.validate()
        .map_err(|e| e.with_origin(name).to_string())?;
    let net = Network::build(spec).map_err(|e| format!("{name}: cannot build the network: {e}"))?;
    let projs = net.projections();
    let mut text = String::new();
    let _ = writeln!(
        text,
        "name             {}",
        spec.name.as_deref().unwrap_or("(unnamed)")
    );
    let _ = writeln!(text, "dt               {} ms", spec.dt_ms);
    match spec.duration_ms {
        Some(d) => {
            let _ = writeln!(text, "duration         {d} ms");
        }
        None => {
            let _ = writeln!(text, "duration         (not set)");
        }
    }
    let _ = writeln!(text, "seed             {}", spec.seed);
    let _ = writeln!(
        text,
        "neurons          {} in {} populations",
        net.n_neurons(),
        spec.populations.len()
    );
    let _ = writeln!(
        text,
        "synapses         {} in {} projections",
        net.n_synapses(),
        spec.projections.len()
    );
    let _ = writeln!(text, "populations");
    let mut pops = Vec::new();
    for p in &spec.populations {
        let _ = writeln!(
            text,
            "  {:<16} {:<10} {:>9}",
            p.name,
            p.neuron.name(),
            p.size
        );
        pops.push(json!({"name": p.name, "model": p.neuron.name(), "size": p.size}));
    }
    let _ = writeln!(text, "projections");
    let mut prs = Vec::new();
    for (j, p) in spec.projections.iter().enumerate() {
        let rule = tag_of(serde_json::to_value(&p.connectivity), "rule");
        let receptor = tag_of(serde_json::to_value(p.receptor), "");
        let n = projs.get(j).map_or(0, |x| x.n_synapses());
        let label = p
            .name
            .clone()
            .unwrap_or_else(|| format!("{} -> {}", p.source, p.target));
        let learning = p
            .plasticity
            .as_ref()
            .map(|r| format!(", {} STDP", r.rule_name()))
            .unwrap_or_default();
        let _ = writeln!(
            text,
            "  {label:<24} {rule:<18} {receptor:<12} {n:>10} synapses{learning}"
        );
        prs.push(json!({
            "name": p.name, "source": p.source, "target": p.target, "rule": rule,
            "receptor": receptor, "synapses": n,
            "plasticity": p.plasticity.as_ref().map(|r| r.rule_name()),
        }));
    }
    let _ = writeln!(
        text,
        "stimuli          {}",
        if spec.stimuli.is_empty() {
            "(none)".to_string()
        } else {
            spec.stimuli.len().to_string()
        }
    );
    let mut stims = Vec::new();
    for s in &spec.stimuli {
        let kind = tag_of(serde_json::to_value(s), "kind");
        let _ = writeln!(text, "  {:<16} -> {}", kind, s.target());
        stims.push(json!({"kind": kind, "target": s.target()}));
    }
    let rec = &spec.recording;
    let spikes = match &rec.spikes {
        None => "all populations".to_string(),
        Some(v) if v.is_empty() => "none".to_string(),
        Some(v) => v.join(", "),
    };
    let _ = writeln!(text, "recording");
    let _ = writeln!(text, "  spikes         {spikes}");
    if !rec.rates.is_empty() {
        let _ = writeln!(text, "  rates          {}", rec.rates.join(", "));
    }
    if !rec.state.is_empty() {
        let _ = writeln!(text, "  state traces   {}", rec.state.len());
    }
    let json = json!({
        "name": spec.name,
        "dt_ms": spec.dt_ms,
        "duration_ms": spec.duration_ms,
        "seed": spec.seed,
        "neurons": net.n_neurons(),
        "synapses": net.n_synapses(),
        "populations": pops,
        "projections": prs,
        "stimuli": stims,
        "recording": {
            "spikes": rec.spikes,
            "rates": rec.rates,
            "state_traces": rec.state.len(),
        },
    });
    Ok(Summary {
        kind: "network_spec",
        json: into_map(json),
        text,
    })
}

fn into_map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn checkpoint_summary(t: &Trainer) -> Summary {
    let cfg = &t.model.config;
    let mut shape = vec![cfg.n_inputs.to_string()];
    for l in &t.model.layers {
        shape.push(format!(
            "{}{}",
            l.n_out,
            if l.rec.is_some() { "r" } else { "" }
        ));
    }
    let mut shape = shape.join("-");
    if cfg
        .hidden
        .iter()
        .any(|h| h.conv.is_some() || h.dropout.is_some())
    {
        // Layer sizes alone hide the conv layers: give the architecture string.
        shape = format!(
            "{}-{} = {shape}",
            cfg.n_inputs,
            snn_learn::arch::describe(cfg)
        );
    }
    let layers: Vec<Value> = t
        .model
        .layers
        .iter()
        .map(|l| json!({"n_in": l.n_in, "n_out": l.n_out, "recurrent": l.rec.is_some(), "spiking": l.spiking}))
        .collect();
    let optimizer = tag_of(serde_json::to_value(t.config.optimizer), "");
    let encoding = tag_of(serde_json::to_value(t.config.encoding), "");
    let readout = tag_of(serde_json::to_value(cfg.readout), "");
    let last = t.history.last();
    let mut text = String::new();
    let _ = writeln!(text, "dataset          {}", t.dataset);
    let _ = writeln!(
        text,
        "model            {shape} ({} layers, {} parameters, readout {readout})",
        t.model.layers.len(),
        t.model.n_params()
    );
    let arch = snn_learn::arch::describe(cfg);
    let _ = writeln!(text, "arch             {arch}");
    let _ = writeln!(text, "steps            {}", cfg.steps);
    let _ = writeln!(
        text,
        "epochs           {} of {}{}",
        t.epoch,
        t.config.epochs,
        if t.stopped_early {
            " (stopped early)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        text,
        "optimiser        {optimizer} (lr {}, batch {})",
        t.config.lr, t.config.batch_size
    );
    let _ = writeln!(text, "encoding         {encoding}");
    match last {
        Some(m) => {
            let _ = writeln!(
                text,
                "last epoch       {}: train loss {:.4}, train acc {:.2}%, test acc {:.2}%, lr {}",
                m.epoch,
                m.train_loss,
                m.train_acc * 100.0,
                m.test_acc * 100.0,
                m.lr
            );
        }
        None => {
            let _ = writeln!(text, "last epoch       (none yet)");
        }
    }
    if let Some(b) = &t.best {
        let _ = writeln!(
            text,
            "best             epoch {}, test acc {:.2}%",
            b.epoch,
            b.test_acc * 100.0
        );
    }
    let json = json!({
        "dataset": t.dataset,
        "shape": shape,
        "arch": arch,
        "n_inputs": cfg.n_inputs,
        "n_outputs": cfg.n_outputs,
        "layers": layers,
        "parameters": t.model.n_params(),
        "steps": cfg.steps,
        "readout": readout,
        "epochs_done": t.epoch,
        "epochs": t.config.epochs,
        "stopped_early": t.stopped_early,
        "optimizer": optimizer,
        "optimizer_config": serde_json::to_value(t.config.optimizer).unwrap_or(Value::Null),
        "lr": t.config.lr,
        "batch_size": t.config.batch_size,
        "encoding": encoding,
        "encoding_config": serde_json::to_value(t.config.encoding).unwrap_or(Value::Null),
        "last_epoch": last.and_then(|m| serde_json::to_value(m).ok()),
        "best": t.best.as_ref().map(|b| json!({"epoch": b.epoch, "test_acc": b.test_acc})),
    });
    Summary {
        kind: "checkpoint",
        json: into_map(json),
        text,
    }
}

fn chip_report_summary(obj: &Map<String, Value>) -> Summary {
    let mut out = Map::new();
    let mut text = String::new();
    for key in ["arch", "network", "noc"] {
        if let Some(v) = obj.get(key) {
            let s = v.as_str().map_or_else(|| v.to_string(), str::to_string);
            let _ = writeln!(text, "{key:<24} {s}");
            out.insert(key.into(), v.clone());
        }
    }
    for (k, v) in obj {
        if v.is_number() {
            let _ = writeln!(text, "{k:<24} {v}");
            out.insert(k.clone(), v.clone());
        }
    }
    if let Some(e) = obj
        .get("energy")
        .and_then(|e| e.get("total_pj"))
        .filter(|v| v.is_number())
    {
        let _ = writeln!(text, "{:<24} {e}", "energy.total_pj");
        out.insert("energy_total_pj".into(), e.clone());
    }
    if let Some(c) = obj
        .get("counts")
        .and_then(|c| c.get("synaptic_ops"))
        .filter(|v| v.is_number())
    {
        let _ = writeln!(text, "{:<24} {c}", "counts.synaptic_ops");
        out.insert("synaptic_ops".into(), c.clone());
    }
    if let Some(h) = obj
        .get("placement_traffic")
        .and_then(|t| t.get("packet_hops"))
        .filter(|v| v.is_number())
    {
        let _ = writeln!(text, "{:<24} {h}", "placement packet_hops");
        out.insert("placement_packet_hops".into(), h.clone());
    }
    if let Some(Value::Array(cores)) = obj.get("cores") {
        let _ = writeln!(text, "{:<24} {}", "cores (listed)", cores.len());
    }
    Summary {
        kind: "chip_report",
        json: out,
        text,
    }
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn one_line_drops_toml_snippet_lines() {
        let m = "f: TOML parse error at line 1, column 3\n  |\n1 | a b\n  |   ^\nexpected `=`\n";
        let s = one_line(m);
        assert!(!s.contains('\n'));
        assert!(s.starts_with("f: TOML parse error"));
        assert!(s.ends_with("expected `=`"));
    }
}
