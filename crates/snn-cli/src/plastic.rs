//! `snn simulate` with plastic projections: attaching the spec's rules, weight snapshots, the
//! learned spec and the weight summary. The rules and their bookkeeping live in
//! `snn_learn::stdp`; this module only wires the options to them.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use snn_core::Network;
use snn_learn::stdp::{WeightSummary, attach_spec_rules, learned_spec, weight_summary};
use snn_types::budget::MemoryBudget;
use snn_types::{NetworkSpec, Step};

use crate::usage::usage;

/// The options of `snn simulate` that concern learning.
pub struct Options<'a> {
    /// `--save-weights`.
    pub save_weights: Option<&'a Path>,
    /// `--weights-every-ms`.
    pub every_ms: Option<f64>,
    /// `--learned-spec`.
    pub learned_spec: Option<&'a Path>,
}

/// The plastic projections of `spec` (indices).
pub fn plastic_projections(spec: &NetworkSpec) -> Vec<usize> {
    (0..spec.projections.len())
        .filter(|&j| spec.projections[j].plasticity.is_some())
        .collect()
}

/// A projection's name in reports (as the engine's and the weight files': its own, else
/// `source->target`).
fn name_of(spec: &NetworkSpec, j: usize) -> String {
    spec.projections[j].display_name()
}

/// Refuses the learning options where they cannot apply (no plastic projection; several ranks).
pub fn check_options(spec: &NetworkSpec, o: &Options<'_>, ranked: bool) -> Result<()> {
    let plastic = plastic_projections(spec);
    let flag = if o.save_weights.is_some() {
        Some("--save-weights")
    } else if o.learned_spec.is_some() {
        Some("--learned-spec")
    } else {
        None
    };
    if let Some(flag) = flag
        && plastic.is_empty()
    {
        return Err(usage(format!(
            "{flag}: the network has no plastic projection (give a projection a \
             [projections.plasticity] table; docs/stdp.md)"
        )));
    }
    if ranked && !plastic.is_empty() {
        return Err(usage(format!(
            "projection '{}' is plastic: learning runs in one process (any number of --threads), \
             without --dry-run-ranks, --plan-ranks or an MPI launcher (a rank keeps only the \
             synapses onto its own neurons)",
            name_of(spec, plastic[0])
        )));
    }
    if let Some(t) = o.every_ms {
        if let Err(why) = snn_types::check_time(t, spec.dt_ms) {
            return Err(usage(format!(
                "--weights-every-ms {}: {why}",
                crate::flag_num(t)
            )));
        }
        if t < spec.dt_ms {
            return Err(usage(format!(
                "--weights-every-ms {}: shorter than one step of dt = {} ms",
                crate::flag_num(t),
                spec.dt_ms
            )));
        }
    }
    Ok(())
}

/// The weight-history file of each plastic projection: `path` itself for one, else
/// `<stem>.<projection>.<ext>` (`<path>.<projection>` without an extension).
pub fn weight_paths(spec: &NetworkSpec, path: &Path) -> Vec<PathBuf> {
    let plastic = plastic_projections(spec);
    if plastic.len() == 1 {
        return vec![path.to_path_buf()];
    }
    // `a->b` (an unnamed projection) reads `a_to_b`; other characters than letters, digits, `-`
    // and `_` become `_`.
    let clean = |j: usize| -> String {
        name_of(spec, j)
            .replace("->", "_to_")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    let mut names: Vec<String> = plastic.iter().map(|&j| clean(j)).collect();
    // Names that read the same get their projection's index; if that still leaves two alike
    // (`x_y` and `x/y` next to a projection called `x_y_0`), every file is named by its index.
    let clash = |names: &[String]| {
        names
            .iter()
            .enumerate()
            .any(|(i, n)| names[..i].contains(n))
    };
    if clash(&names) {
        let first: Vec<String> = names.clone();
        for (k, &j) in plastic.iter().enumerate() {
            if first.iter().filter(|n| **n == first[k]).count() > 1 {
                names[k] = format!("{}_{j}", first[k]);
            }
        }
        if clash(&names) {
            names = plastic.iter().map(|&j| format!("projection{j}")).collect();
        }
    }
    plastic
        .iter()
        .zip(&names)
        .map(|(_, name)| {
            let file = match (path.file_stem(), path.extension()) {
                (Some(stem), Some(ext)) => format!(
                    "{}.{name}.{}",
                    stem.to_string_lossy(),
                    ext.to_string_lossy()
                ),
                _ => format!(
                    "{}.{name}",
                    path.file_name()
                        .map_or_else(String::new, |f| f.to_string_lossy().into())
                ),
            };
            path.with_file_name(file)
        })
        .collect()
}

/// Learning attached to a built network: which projections, and their weights before the run.
pub struct Attached {
    /// Plastic projections.
    pub projections: Vec<usize>,
    /// Their weights before the run.
    pub before: Vec<WeightSummary>,
}

/// Bytes per synapse of a learned spec while it is built and written: the explicit lists
/// (sources, targets as `u32`, weights, delays as `f64`) and their text (TOML or JSON, about 25
/// characters per number), with room for the serialiser's buffer.
const LEARNED_SPEC_BYTES_PER_SYNAPSE: u64 = 160;

/// Bytes per synapse and snapshot: the weight kept (4) and up to 8 more while the history is
/// encoded for its file (the encoder's buffer grows by doubling).
const SNAPSHOT_BYTES_PER_SYNAPSE: u64 = 12;

/// Where `--save-weights` snapshots: the initial weights (step 0), the start of the recorded
/// run (`start`, after a warm-up), every `every` steps after it, and its end (`start +
/// n_steps`).
#[derive(Clone, Copy)]
pub struct Snapshots {
    /// First step of the recorded run.
    pub start: Step,
    /// Steps of the recorded run.
    pub n_steps: Step,
    /// Interval in steps, if any.
    pub every: Option<Step>,
}

impl Snapshots {
    /// The snapshot steps, ascending.
    fn steps(&self) -> Vec<Step> {
        let end = self.start + self.n_steps;
        let mut steps = vec![0];
        if self.start > 0 {
            steps.push(self.start);
        }
        if let Some(e) = self.every.filter(|&e| e > 0) {
            steps.extend((1..).map(|k| self.start + k * e).take_while(|&s| s < end));
        }
        if end > self.start {
            steps.push(end);
        }
        steps
    }

    /// How many [`steps`](Self::steps) there are, without listing them (checked against the
    /// memory budget first).
    fn count(&self) -> u64 {
        let mut n = 1 + u64::from(self.start > 0) + u64::from(self.n_steps > 0);
        if let Some(e) = self.every.filter(|&e| e > 0)
            && self.n_steps > 0
        {
            // start + k e for k >= 1 while below the end.
            n += (self.n_steps - 1) / e;
        }
        n
    }
}

/// Attaches the spec's rules to `net` and asks for the snapshots, after checking that what
/// learning adds fits `budget`: what attaching the rules adds to each plastic projection
/// (`Projection::plasticity_extra_bytes`), the snapshots ([`SNAPSHOT_BYTES_PER_SYNAPSE`] each)
/// and the learned spec ([`LEARNED_SPEC_BYTES_PER_SYNAPSE`]). The snapshot steps are listed only
/// after the check.
pub fn attach(
    net: &mut Network,
    spec: &NetworkSpec,
    snapshots: Option<Snapshots>,
    learned: bool,
    budget: &MemoryBudget,
) -> Result<Attached> {
    let plastic = plastic_projections(spec);
    if plastic.is_empty() {
        return Ok(Attached {
            projections: plastic,
            before: Vec::new(),
        });
    }
    let synapses: u64 = plastic
        .iter()
        .map(|&j| net.projections()[j].n_synapses() as u64)
        .sum();
    let rules: u64 = plastic
        .iter()
        .map(|&j| net.projections()[j].plasticity_extra_bytes())
        .sum();
    let n_snap = snapshots.map_or(0, |s| s.count());
    let per_synapse = n_snap
        .saturating_mul(SNAPSHOT_BYTES_PER_SYNAPSE)
        .saturating_add(if learned {
            LEARNED_SPEC_BYTES_PER_SYNAPSE
        } else {
            0
        });
    let learning = snn_types::budget::mul(synapses, per_synapse).saturating_add(rules);
    // On top of the network, which is alive while learning runs and its outputs are written.
    let network = snn_core::NetworkMemory::estimate(spec, net.threads()).build_bytes();
    let mut parts = format!(
        "{} for the network, {synapses} plastic synapses: {} for the rules' weights and column \
         index",
        snn_types::budget::format_bytes(network),
        snn_types::budget::format_bytes(rules)
    );
    if n_snap > 0 {
        parts.push_str(&format!(
            ", {SNAPSHOT_BYTES_PER_SYNAPSE} bytes per synapse for each of {n_snap} weight \
             snapshots (fewer with a larger --weights-every-ms)"
        ));
    }
    if learned {
        parts.push_str(&format!(
            ", {LEARNED_SPEC_BYTES_PER_SYNAPSE} per synapse for --learned-spec"
        ));
    }
    budget.check_parts("learning", learning.saturating_add(network), &parts)?;
    let steps = snapshots.map(|s| s.steps());
    let attached = attach_spec_rules(net, spec)?;
    if let Some(steps) = &steps {
        for &j in &attached {
            net.record_weights(j, steps)?;
        }
    }
    let before = attached
        .iter()
        .map(|&j| weight_summary(net, j, &name_of(spec, j), plastic_rule(spec, j)))
        .collect();
    Ok(Attached {
        projections: attached,
        before,
    })
}

fn plastic_rule(spec: &NetworkSpec, j: usize) -> &snn_types::PlasticitySpec {
    spec.projections[j]
        .plasticity
        .as_ref()
        .expect("a plastic projection")
}

/// After the run: saves the snapshots and the learned spec; returns the weights after the run.
pub fn finish(
    net: &mut Network,
    spec: &NetworkSpec,
    attached: &Attached,
    o: &Options<'_>,
) -> Result<Vec<WeightSummary>> {
    if let Some(path) = o.save_weights {
        for (&j, file) in attached.projections.iter().zip(weight_paths(spec, path)) {
            let history = net.take_weight_history(j)?;
            history
                .save(&file)
                .with_context(|| format!("--save-weights {}", file.display()))?;
        }
    }
    if let Some(path) = o.learned_spec {
        let learned = learned_spec(spec, net, &attached.projections)?;
        let text = if crate::outputs::spec_output_is_json("--learned-spec", path)? {
            learned.to_json_string()
        } else {
            learned.to_toml_string()?
        };
        snn_types::file::atomic_write(path, text.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(attached
        .projections
        .iter()
        .map(|&j| weight_summary(net, j, &name_of(spec, j), plastic_rule(spec, j)))
        .collect())
}

/// The summary's lines for the plastic projections.
pub fn text(before: &[WeightSummary], after: &[WeightSummary]) -> Vec<String> {
    before
        .iter()
        .zip(after)
        .map(|(b, a)| {
            if a.synapses == 0 {
                return format!(
                    "learning         {} ({} STDP): no synapses",
                    a.name, a.rule
                );
            }
            format!(
                "learning         {} ({} STDP, {} synapses): mean weight {} -> {}, range [{}, {}]; \
                 in the lowest / highest tenth of the bounds {:.1}% / {:.1}% (before {:.1}% / {:.1}%)",
                a.name,
                a.rule,
                a.synapses,
                short(b.mean),
                short(a.mean),
                short(a.min),
                short(a.max),
                100.0 * a.low_tenth,
                100.0 * a.high_tenth,
                100.0 * b.low_tenth,
                100.0 * b.high_tenth
            )
        })
        .collect()
}

/// Four significant digits.
fn short(x: f64) -> String {
    format!("{}", format!("{x:.3e}").parse::<f64>().unwrap_or(x))
}

/// The summary's JSON for the plastic projections.
pub fn json(before: &[WeightSummary], after: &[WeightSummary]) -> serde_json::Value {
    serde_json::Value::Array(
        before
            .iter()
            .zip(after)
            .map(|(b, a)| serde_json::json!({ "before": b, "after": a }))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A spec with plastic projections of the given names (`None`: unnamed) from `in` onto `out`.
    fn named(names: &[Option<&str>]) -> NetworkSpec {
        let mut text = String::from(
            "dt_ms = 0.1\n[[populations]]\nname = \"in\"\nsize = 2\nneuron = { model = \"input\" }\n\
             [[populations]]\nname = \"out\"\nsize = 2\nneuron = { model = \"lif_exp\" }\n",
        );
        for n in names {
            text.push_str("[[projections]]\n");
            if let Some(n) = n {
                text.push_str(&format!("name = {n:?}\n"));
            }
            text.push_str(
                "source = \"in\"\ntarget = \"out\"\nconnectivity = { rule = \"all_to_all\" }\n\
                 weight = 0.5\nplasticity = { rule = \"pair\" }\n",
            );
        }
        NetworkSpec::from_toml_str(&text).unwrap()
    }

    fn files(spec: &NetworkSpec) -> Vec<String> {
        weight_paths(spec, Path::new("d/w.whst"))
            .iter()
            .map(|p| p.display().to_string())
            .collect()
    }

    #[test]
    fn weight_files_have_distinct_names() {
        assert_eq!(files(&named(&[Some("ff")])), ["d/w.whst"]);
        assert_eq!(
            files(&named(&[Some("ff"), None])),
            ["d/w.ff.whst", "d/w.in_to_out.whst"]
        );
        // Names that read the same get their index.
        assert_eq!(
            files(&named(&[None, None, Some("a b")])),
            [
                "d/w.in_to_out_0.whst",
                "d/w.in_to_out_1.whst",
                "d/w.a_b.whst"
            ]
        );
        // ... unless that clashes again: then every file is named by its index.
        assert_eq!(
            files(&named(&[Some("x y"), Some("x/y"), Some("x_y_0")])),
            [
                "d/w.projection0.whst",
                "d/w.projection1.whst",
                "d/w.projection2.whst"
            ]
        );
    }

    #[test]
    fn the_snapshot_count_is_the_number_of_snapshot_steps() {
        for start in [0, 7] {
            for n_steps in [0, 1, 9, 10, 11, 100] {
                for every in [None, Some(1), Some(3), Some(10), Some(1000)] {
                    let s = Snapshots {
                        start,
                        n_steps,
                        every,
                    };
                    let steps = s.steps();
                    assert_eq!(s.count(), steps.len() as u64, "{start} {n_steps} {every:?}");
                    assert!(steps.windows(2).all(|w| w[0] < w[1]), "{steps:?}");
                    assert_eq!(steps[0], 0);
                    assert_eq!(*steps.last().unwrap(), start + n_steps);
                }
            }
        }
    }
}
