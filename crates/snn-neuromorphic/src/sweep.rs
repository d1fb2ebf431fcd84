//! Design-space sweeps: one network compiled and run on every point of a grid of architecture
//! variants, reporting energy, latency per step, cores used and whether it fits.
//!
//! An axis is written `KEY=V1,V2,...` ([`SweepAxis::parse`]). `KEY` is either a field of the
//! architecture as its TOML path (`core.compartments`, `core.synaptic_memory_bits`,
//! `mesh.tiles_x`, `noc.flit_ns`, `energy_pj.synaptic_op`, `model.skip_idle_neurons`, ...: any
//! scalar field, stated or not) or one of the compile and run options `weight_bits`
//! (`num_weight_bits`), `max_neurons_per_core` and `noc` (`cycle` or `analytic`). Values are
//! TOML scalars (integers, floats, `true`/`false`, or words such as `shared`). Every point's
//! architecture is built and validated before anything runs ([`Sweep::new`]): an unknown key, a
//! value of the wrong type or out of range is an error naming the axis and the value
//! ([`SweepError`]). A point whose network does not fit is a result (`fits: false`, with the
//! first violation), not an error.
//!
//! Points are the Cartesian product of the axes, the first axis outermost. They run on
//! `threads` worker threads that take points from a shared counter; each result is stored at
//! its point's index, and every point's compilation and run is deterministic, so the results do
//! not depend on the thread count (tested).

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Serialize;
use snn_types::budget::MemoryBudget;
use snn_types::{NetworkSpec, Spike};

use crate::arch::ArchSpec;
use crate::compile::{CompileOptions, compile_with_budget};
use crate::error::{ArchError, MapError, RunError};
use crate::noc::NocMode;
use crate::run::{Chip, RunOptions};

/// Keys that are compile or run options rather than architecture fields.
pub const OPTION_KEYS: &[&str] = &["weight_bits", "max_neurons_per_core", "noc"];

/// Most points one sweep may have.
pub const MAX_POINTS: usize = 10_000;

/// Why a sweep could not be set up or run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SweepError {
    /// The axis is not `KEY=V1,V2,...`.
    #[error("--vary '{text}': {message}")]
    Syntax {
        /// The axis as written.
        text: String,
        /// What is wrong.
        message: String,
    },
    /// The key is neither an architecture field nor a sweep option.
    #[error("--vary {key}: unknown key: {message}")]
    UnknownKey {
        /// The key.
        key: String,
        /// What the architecture says (the fields it knows).
        message: String,
    },
    /// A value the key cannot take.
    #[error("--vary {key}={value}: {message}")]
    BadValue {
        /// The key.
        key: String,
        /// The value.
        value: String,
        /// Why.
        message: String,
    },
    /// The same key twice.
    #[error("--vary {key}: given twice")]
    Duplicate {
        /// The key.
        key: String,
    },
    /// Too many points.
    #[error("the grid has {points} points, more than {max}")]
    TooManyPoints {
        /// Points in the grid.
        points: u128,
        /// The limit.
        max: usize,
    },
    /// The input spikes do not match the network.
    #[error("input: {0}")]
    Input(RunError),
    /// A point could not be compiled for a reason other than not fitting (an unsupported
    /// network, memory).
    #[error("point {index} ({point}): {message}")]
    Point {
        /// Index of the point.
        index: usize,
        /// `key=value` of each axis.
        point: String,
        /// The error.
        message: String,
    },
}

/// One axis of a sweep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SweepAxis {
    /// The key (`core.compartments`, `weight_bits`, ...).
    pub key: String,
    /// The values, as written.
    pub values: Vec<String>,
}

impl SweepAxis {
    /// Parses `KEY=V1,V2,...`.
    pub fn parse(text: &str) -> Result<Self, SweepError> {
        let syntax = |m: &str| SweepError::Syntax {
            text: text.to_string(),
            message: m.to_string(),
        };
        let (key, vals) = text
            .split_once('=')
            .ok_or_else(|| syntax("expected KEY=V1,V2,... (e.g. core.compartments=256,512)"))?;
        let key = key.trim();
        if key.is_empty() {
            return Err(syntax("the key is empty"));
        }
        let values: Vec<String> = vals.split(',').map(|v| v.trim().to_string()).collect();
        if values.iter().any(|v| v.is_empty()) {
            return Err(syntax("an empty value (write e.g. KEY=1,2,3)"));
        }
        if let Some((i, v)) = values
            .iter()
            .enumerate()
            .find(|(i, v)| values[..*i].contains(v))
        {
            return Err(syntax(&format!(
                "value '{v}' is given twice (positions {} and {}); each point would run twice",
                values.iter().position(|x| x == v).unwrap_or(0) + 1,
                i + 1
            )));
        }
        Ok(Self {
            key: key.to_string(),
            values,
        })
    }
}

/// One grid point: an architecture and the options to compile and run with.
#[derive(Debug, Clone)]
struct PointSetup {
    arch: ArchSpec,
    compile: CompileOptions,
    noc: NocMode,
}

/// What one point measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepPoint {
    /// The value of each axis at this point, in axis order.
    pub values: Vec<String>,
    /// Whether the network fits.
    pub fits: bool,
    /// When it does not fit: how many limits are violated, the first one, and the smallest
    /// changes found that would fit (the compiler's fix search).
    pub problem: Option<String>,
    /// Cores in use (0 when it does not fit).
    pub cores_used: u32,
    /// Tiles in use.
    pub tiles_used: u32,
    /// Total energy of the run (pJ).
    pub energy_pj: f64,
    /// Dynamic energy of the run (pJ).
    pub dynamic_energy_pj: f64,
    /// Mean modelled time per step (ns).
    pub latency_per_step_ns: f64,
    /// Synaptic operations.
    pub synaptic_ops: u64,
    /// On-chip spikes.
    pub spikes_out: u64,
    /// Packets sent.
    pub packets: u64,
}

/// The results of a sweep.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepResult {
    /// Architecture the grid varies.
    pub arch: String,
    /// Network name.
    pub network: Option<String>,
    /// Steps run per point.
    pub steps: u64,
    /// The axes.
    pub axes: Vec<SweepAxis>,
    /// The points, first axis outermost.
    pub points: Vec<SweepPoint>,
}

/// A validated sweep, ready to run.
#[derive(Debug, Clone)]
pub struct Sweep {
    base: ArchSpec,
    axes: Vec<SweepAxis>,
    setups: Vec<PointSetup>,
}

/// Parses a value as a TOML scalar: integer, float, boolean, else a string. An integer beyond
/// TOML's 64-bit range (`18446744073709551615`) is an error, not a float that the field then
/// refuses under another name.
fn toml_scalar(v: &str) -> Result<toml::Value, String> {
    let digits = v.strip_prefix(['+', '-']).unwrap_or(v);
    Ok(if let Ok(i) = v.parse::<i64>() {
        toml::Value::Integer(i)
    } else if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "the integer is beyond the 64-bit range (at most {})",
            i64::MAX
        ));
    } else if let Ok(f) = v.parse::<f64>() {
        toml::Value::Float(f)
    } else if let Ok(b) = v.parse::<bool>() {
        toml::Value::Boolean(b)
    } else {
        toml::Value::String(v.to_string())
    })
}

/// Every input spike must name a neuron of an input population (as `Chip::inject_input`
/// checks, here against the spec so that no compilation is needed).
fn check_inputs(spec: &NetworkSpec, inputs: &[Spike]) -> Result<(), RunError> {
    let offsets = spec.population_offsets();
    for (index, s) in inputs.iter().enumerate() {
        let n = s.neuron as u64;
        let input = spec
            .populations
            .iter()
            .zip(offsets.windows(2))
            .find(|(_, w)| (w[0]..w[1]).contains(&n))
            .is_some_and(|(p, _)| matches!(p.neuron, snn_types::NeuronModel::Input));
        if !input {
            return Err(RunError::NotInput {
                index,
                neuron: s.neuron,
            });
        }
    }
    Ok(())
}

/// Sets `key` (a dotted TOML path) to `value` in a copy of `arch` and validates it.
fn set_arch_field(arch: &ArchSpec, key: &str, value: &str) -> Result<ArchSpec, SweepError> {
    let bad = |m: String| SweepError::BadValue {
        key: key.to_string(),
        value: value.to_string(),
        message: m,
    };
    let unknown = |m: String| SweepError::UnknownKey {
        key: key.to_string(),
        message: m,
    };
    let mut root = toml::Value::try_from(arch).map_err(|e| bad(e.to_string()))?;
    let parts: Vec<&str> = key.split('.').collect();
    let (last, parents) = parts
        .split_last()
        .ok_or_else(|| unknown("empty key".into()))?;
    // A single-chip architecture has no `[system]`: varying `system.chips_x` starts from one
    // chip (1 x 1), as the fix search's "more chips" does.
    if parents.first() == Some(&"system")
        && let Some(t) = root.as_table_mut()
        && !t.contains_key("system")
    {
        let mut sys = toml::map::Map::new();
        sys.insert("chips_x".into(), toml::Value::Integer(1));
        sys.insert("chips_y".into(), toml::Value::Integer(1));
        t.insert("system".into(), toml::Value::Table(sys));
    }
    let mut node = &mut root;
    for (i, p) in parents.iter().enumerate() {
        let table = node
            .as_table_mut()
            .ok_or_else(|| unknown(format!("'{}' is not a section", parts[..i].join("."))))?;
        node = table.get_mut(*p).ok_or_else(|| {
            unknown(format!(
                "no section '{}' (sections: mesh, core, noc, energy_pj, latency_ns, timestep, power, model, system; options: {})",
                parts[..=i].join("."),
                OPTION_KEYS.join(", ")
            ))
        })?;
    }
    let table = node
        .as_table_mut()
        .ok_or_else(|| unknown(format!("'{}' is a value, not a section", parents.join("."))))?;
    if parents.is_empty() && table.get(*last).is_some_and(|v| v.is_table()) {
        return Err(unknown(format!(
            "'{last}' is a section: name one of its fields (e.g. {last}.FIELD)"
        )));
    }
    if table
        .get(*last)
        .is_some_and(|v| v.is_table() || v.is_array())
    {
        return Err(unknown(format!(
            "'{key}' is not a scalar field (tables and lists cannot be varied)"
        )));
    }
    table.insert(last.to_string(), toml_scalar(value).map_err(bad)?);
    let text = toml::to_string(&root).map_err(|e| bad(e.to_string()))?;
    match ArchSpec::from_toml_str(&text, "sweep") {
        Ok(a) => Ok(a),
        Err(ArchError::Parse { message, .. }) if message.contains("unknown field") => {
            // Keep the parser's "unknown field `x`, expected one of ..." without the TOML excerpt
            // of the temporary document.
            let at = message.find("unknown field").unwrap_or(0);
            Err(unknown(message[at..].to_string()))
        }
        // The excerpt of the temporary document ("line 27, column 11 | tiles_x = -1 | ^^")
        // means nothing to the user: keep what follows the carets.
        Err(ArchError::Parse { message, .. }) => Err(bad(match message.rfind('^') {
            Some(at) if !message[at + 1..].trim().is_empty() => {
                message[at + 1..].trim().to_string()
            }
            _ => message,
        })),
        Err(ArchError::Invalid { issues, .. }) => Err(bad(issues.join("; "))),
        Err(e) => Err(bad(e.to_string())),
    }
}

fn apply(setup: &mut PointSetup, key: &str, value: &str) -> Result<(), SweepError> {
    let bad = |m: &str| SweepError::BadValue {
        key: key.to_string(),
        value: value.to_string(),
        message: m.to_string(),
    };
    match key {
        "weight_bits" => {
            let b: u32 = value
                .parse()
                .map_err(|_| bad("expected a whole number of bits"))?;
            if !(1..=setup.arch.core.weight_bits).contains(&b) {
                return Err(bad(&format!(
                    "must be in 1..={} (the architecture's core.weight_bits)",
                    setup.arch.core.weight_bits
                )));
            }
            setup.compile.num_weight_bits = Some(b);
        }
        "max_neurons_per_core" => {
            let n: u32 = value
                .parse()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| bad("expected a whole number of at least 1"))?;
            setup.compile.max_neurons_per_core = Some(n);
        }
        "noc" => {
            setup.noc = match value {
                "cycle" => NocMode::Cycle,
                "analytic" => NocMode::Analytic,
                _ => return Err(bad("expected `cycle` or `analytic`")),
            }
        }
        _ => setup.arch = set_arch_field(&setup.arch, key, value)?,
    }
    Ok(())
}

impl Sweep {
    /// Builds every point of the grid over `base` and validates it. Option axes are applied
    /// after architecture axes, so `weight_bits` is checked against a varied
    /// `core.weight_bits`.
    pub fn new(base: &ArchSpec, axes: Vec<SweepAxis>, noc: NocMode) -> Result<Self, SweepError> {
        for (i, a) in axes.iter().enumerate() {
            if axes[..i].iter().any(|b| b.key == a.key) {
                return Err(SweepError::Duplicate { key: a.key.clone() });
            }
        }
        let n: u128 = axes.iter().map(|a| a.values.len() as u128).product();
        if n > MAX_POINTS as u128 {
            return Err(SweepError::TooManyPoints {
                points: n,
                max: MAX_POINTS,
            });
        }
        let mut setups = Vec::with_capacity(n as usize);
        for idx in 0..n as usize {
            let values = point_values(&axes, idx);
            let mut s = PointSetup {
                arch: base.clone(),
                compile: CompileOptions::default(),
                noc,
            };
            let mut order: Vec<usize> = (0..axes.len()).collect();
            order.sort_by_key(|&k| OPTION_KEYS.contains(&axes[k].key.as_str()));
            for k in order {
                apply(&mut s, &axes[k].key, &values[k])?;
            }
            setups.push(s);
        }
        Ok(Self {
            base: base.clone(),
            axes,
            setups,
        })
    }

    /// Points in the grid.
    pub fn len(&self) -> usize {
        self.setups.len()
    }

    /// True when the grid is empty (never, for a validated sweep with axes).
    pub fn is_empty(&self) -> bool {
        self.setups.is_empty()
    }

    /// The architecture of point `i` (after its axes are applied).
    pub fn arch_of(&self, i: usize) -> Option<&ArchSpec> {
        self.setups.get(i).map(|s| &s.arch)
    }

    /// Compiles and runs `spec` for `steps` steps with `inputs` at every point, on `threads`
    /// worker threads (at least 1; more than the points are not started). Each point's compile
    /// and run is checked against `budget` as a whole (points run in parallel: give each a
    /// share). A point that does not fit is a result; any other compile or run error stops the
    /// sweep with [`SweepError::Point`] (the first by point index).
    pub fn run(
        &self,
        spec: &NetworkSpec,
        steps: u64,
        inputs: &[Spike],
        threads: usize,
        budget: &MemoryBudget,
    ) -> Result<SweepResult, SweepError> {
        self.run_with_progress(spec, steps, inputs, threads, budget, &|_| {})
    }

    /// [`run`](Self::run), calling `progress(done)` with the number of points finished after
    /// each point (from the worker threads, in no particular order of points), so that a long
    /// sweep can show how far it is.
    pub fn run_with_progress(
        &self,
        spec: &NetworkSpec,
        steps: u64,
        inputs: &[Spike],
        threads: usize,
        budget: &MemoryBudget,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<SweepResult, SweepError> {
        // Input spikes are checked once, before any point runs: a bad file is reported at once
        // (not after every point has compiled) and also when no point fits.
        check_inputs(spec, inputs).map_err(SweepError::Input)?;
        let n = self.setups.len();
        let results: Mutex<Vec<Option<Result<SweepPoint, SweepError>>>> = Mutex::new(vec![None; n]);
        let next = AtomicUsize::new(0);
        let done = AtomicUsize::new(0);
        let workers = threads.clamp(1, n.max(1));
        let work = || {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let r = self.run_point(i, spec, steps, inputs, budget);
                if let Ok(mut g) = results.lock() {
                    g[i] = Some(r);
                }
                progress(done.fetch_add(1, Ordering::Relaxed) + 1);
            }
        };
        // The workers share the queue: if the system refuses a thread, the calling thread works
        // in its place, and every point still runs once.
        snn_core::workers::run_each(vec![(); workers], |()| work(), snn_core::workers::spawn);
        let results = results.into_inner().unwrap_or_default();
        let mut points = Vec::with_capacity(n);
        for (i, r) in results.into_iter().enumerate() {
            match r {
                Some(Ok(p)) => points.push(p),
                Some(Err(e)) => return Err(e),
                None => {
                    return Err(SweepError::Point {
                        index: i,
                        point: self.describe(i),
                        message: "not run (a worker thread failed)".into(),
                    });
                }
            }
        }
        Ok(SweepResult {
            arch: self.base.name.clone(),
            network: spec.name.clone(),
            steps,
            axes: self.axes.clone(),
            points,
        })
    }

    fn describe(&self, i: usize) -> String {
        self.axes
            .iter()
            .zip(point_values(&self.axes, i))
            .map(|(a, v)| format!("{}={v}", a.key))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn run_point(
        &self,
        i: usize,
        spec: &NetworkSpec,
        steps: u64,
        inputs: &[Spike],
        budget: &MemoryBudget,
    ) -> Result<SweepPoint, SweepError> {
        let s = &self.setups[i];
        let values = point_values(&self.axes, i);
        let fail = |message: String| SweepError::Point {
            index: i,
            point: self.describe(i),
            message,
        };
        let mut p = SweepPoint {
            values,
            fits: false,
            problem: None,
            cores_used: 0,
            tiles_used: 0,
            energy_pj: 0.0,
            dynamic_energy_pj: 0.0,
            latency_per_step_ns: 0.0,
            synaptic_ops: 0,
            spikes_out: 0,
            packets: 0,
        };
        let prog = match compile_with_budget(spec, &s.arch, &s.compile, budget) {
            Ok(prog) => prog,
            Err(MapError::DoesNotFit {
                violations, fixes, ..
            }) => {
                let mut text = match violations.first() {
                    Some(v) => format!("{} violation(s), first: {v}", violations.len()),
                    None => "does not fit".into(),
                };
                if !fixes.is_empty() {
                    text.push_str(&format!("; fits with: {}", fixes.join(" or ")));
                }
                p.problem = Some(text);
                return Ok(p);
            }
            Err(e) => return Err(fail(e.to_string())),
        };
        let mut chip = Chip::with_budget(&prog, budget.clone()).map_err(|e| fail(e.to_string()))?;
        chip.inject_input(inputs).map_err(SweepError::Input)?;
        let r = chip
            .run(
                steps,
                &RunOptions {
                    noc: s.noc,
                    trace: false,
                },
            )
            .map_err(|e| fail(e.to_string()))?;
        p.fits = true;
        p.cores_used = r.cores_used;
        p.tiles_used = r.tiles_used;
        p.energy_pj = r.energy.total_pj;
        p.dynamic_energy_pj = r.energy.dynamic_pj();
        p.latency_per_step_ns = r.mean_step_ns;
        p.synaptic_ops = r.counts.synaptic_ops;
        p.spikes_out = r.counts.spikes_out;
        p.packets = r.counts.packets_out;
        Ok(p)
    }
}

/// The values of point `idx` (first axis outermost).
fn point_values(axes: &[SweepAxis], mut idx: usize) -> Vec<String> {
    let mut v = vec![String::new(); axes.len()];
    for (k, a) in axes.iter().enumerate().rev() {
        let n = a.values.len().max(1);
        v[k] = a.values[idx % n].clone();
        idx /= n;
    }
    v
}

impl SweepResult {
    /// A text table: one row per point with its axis values, whether it fits, cores used,
    /// energy (nJ) and latency per step (ns).
    pub fn table(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "sweep of {} on '{}': {} points, {} steps each",
            self.network.as_deref().unwrap_or("network"),
            self.arch,
            self.points.len(),
            self.steps
        );
        let widths: Vec<usize> = self
            .axes
            .iter()
            .map(|a| {
                a.values
                    .iter()
                    .map(|v| v.len())
                    .chain([a.key.len()])
                    .max()
                    .unwrap_or(1)
            })
            .collect();
        for (a, w) in self.axes.iter().zip(&widths) {
            let _ = write!(s, "{:<w$}  ", a.key, w = *w);
        }
        let _ = writeln!(
            s,
            "{:>5}  {:>6}  {:>14}  {:>16}",
            "fits", "cores", "energy (nJ)", "latency/step (ns)"
        );
        for p in &self.points {
            for (v, w) in p.values.iter().zip(&widths) {
                let _ = write!(s, "{:<w$}  ", v, w = *w);
            }
            if p.fits {
                let _ = writeln!(
                    s,
                    "{:>5}  {:>6}  {:>14.3}  {:>16.1}",
                    "yes",
                    p.cores_used,
                    p.energy_pj / 1000.0,
                    p.latency_per_step_ns
                );
            } else {
                let _ = writeln!(
                    s,
                    "{:>5}  {:>6}  {:>14}  {:>16}  {}",
                    "no",
                    "-",
                    "-",
                    "-",
                    p.problem.as_deref().unwrap_or("")
                );
            }
        }
        s
    }

    /// The result as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_parse_and_points_enumerate_first_axis_outermost() {
        let a = SweepAxis::parse("core.compartments=256, 512").unwrap();
        assert_eq!(a.values, vec!["256", "512"]);
        let b = SweepAxis::parse("weight_bits=4,8").unwrap();
        let axes = vec![a, b];
        assert_eq!(point_values(&axes, 0), vec!["256", "4"]);
        assert_eq!(point_values(&axes, 1), vec!["256", "8"]);
        assert_eq!(point_values(&axes, 2), vec!["512", "4"]);
        for bad in ["x", "=1", "k=", "k=1,,2", "k=256,512,256"] {
            assert!(SweepAxis::parse(bad).is_err(), "{bad}");
        }
        let e = SweepAxis::parse("k=256,512, 256").unwrap_err().to_string();
        assert!(
            e.contains("'256' is given twice (positions 1 and 3)"),
            "{e}"
        );
    }

    /// Threads the system refuses leave their share of the queue to the calling thread: every
    /// point runs, with the results of one thread.
    #[test]
    fn refused_threads_still_run_every_point() {
        let spec = NetworkSpec::from_toml_str(
            r#"
            dt_ms = 1.0
            seed = 3
            [[populations]]
            name = "in"
            size = 20
            neuron = { model = "input" }
            [[populations]]
            name = "h"
            size = 60
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
            "#,
        )
        .unwrap();
        let base = ArchSpec::preset("loihi").unwrap();
        let axes = vec![SweepAxis::parse("weight_bits=2,4,6,8").unwrap()];
        let sweep = Sweep::new(&base, axes, NocMode::Cycle).unwrap();
        let run = |threads: usize| {
            sweep
                .run(&spec, 10, &[], threads, &MemoryBudget::unknown())
                .unwrap()
        };
        let one = run(1);
        assert!(one.points.iter().any(|p| p.spikes_out > 0), "{one:?}");
        for refuse in [1, 2] {
            let got = snn_core::workers::with_refused_thread(refuse, || run(4));
            assert_eq!(got, one, "thread {refuse} of 4 refused");
        }
    }

    #[test]
    fn keys_and_values_are_checked_up_front() {
        let base = ArchSpec::preset("loihi").unwrap();
        let mk = |t: &str| Sweep::new(&base, vec![SweepAxis::parse(t).unwrap()], NocMode::Cycle);
        let s = mk("core.compartments=256,512").unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s.arch_of(1).unwrap().core.compartments, 512);
        let s = mk("noc.flit_ns=0.5").unwrap();
        assert_eq!(s.arch_of(0).unwrap().noc.flit_ns, Some(0.5));
        // An unstated field can be given.
        let s = mk("power.static_mw=10").unwrap();
        assert_eq!(s.arch_of(0).unwrap().power.static_mw, Some(10.0));
        let s = mk("core.conv_weights=shared").unwrap();
        assert_eq!(
            s.arch_of(0).unwrap().conv_weights(),
            crate::ConvWeights::Shared
        );
        for (t, what) in [
            ("core.compartmentz=1", "unknown key"),
            ("cores.compartments=1", "no section 'cores'"),
            ("core=1", "is a section"),
            ("timestep.barrier=1", "not a scalar"),
            (
                "core.compartments=0",
                "core.compartments: must be at least 1",
            ),
            ("core.compartments=many", "core.compartments=many"),
            ("weight_bits=9", "must be in 1..=8"),
            ("noc=fast", "expected `cycle` or `analytic`"),
        ] {
            let e = mk(t).unwrap_err().to_string();
            assert!(e.contains(what), "{t}: {e}");
        }
        let two = vec![
            SweepAxis::parse("weight_bits=4").unwrap(),
            SweepAxis::parse("weight_bits=8").unwrap(),
        ];
        assert!(matches!(
            Sweep::new(&base, two, NocMode::Cycle),
            Err(SweepError::Duplicate { .. })
        ));
    }
}
