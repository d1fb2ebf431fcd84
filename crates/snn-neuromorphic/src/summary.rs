//! Human and machine-readable renderings of programs and reports.

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::program::{ChipProgram, PlacedPopulation, PlacementTraffic, ProjectionMemory};
use crate::run::Report;

fn pct(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        100.0 * a as f64 / b as f64
    }
}

/// Cores listed per population before the rest are summarised.
const CORES_SHOWN: usize = 6;

/// `[C, H, W]` or `-`.
fn shape_text(shape: Option<[u32; 3]>) -> String {
    shape.map_or_else(|| "-".into(), |[c, h, w]| format!("[{c},{h},{w}]"))
}

/// Per-layer placement: for each population its shape, cores (with tiles) and neurons per core.
fn placement_text(s: &mut String, pops: &[PlacedPopulation]) {
    let _ = writeln!(s, "per-layer placement (neurons per core):");
    for p in pops {
        let where_ = if p.input {
            "host (input)".to_string()
        } else if p.per_core.is_empty() {
            "empty".to_string()
        } else {
            let mut tiles: Vec<[u32; 2]> = p.per_core.iter().map(|c| c.tile).collect();
            tiles.dedup();
            let mut list: Vec<String> = p
                .per_core
                .iter()
                .take(CORES_SHOWN)
                .map(|c| format!("{}@[{},{}]:{}", c.core, c.tile[0], c.tile[1], c.neurons))
                .collect();
            if p.per_core.len() > CORES_SHOWN {
                list.push(format!("... {} more", p.per_core.len() - CORES_SHOWN));
            }
            format!(
                "{} core{} on {} tile{}: {}",
                p.per_core.len(),
                if p.per_core.len() == 1 { "" } else { "s" },
                tiles.len(),
                if tiles.len() == 1 { "" } else { "s" },
                list.join(", ")
            )
        };
        let _ = writeln!(
            s,
            "  {:<16} {:<14} {:>8}  {}",
            p.name,
            shape_text(p.shape),
            p.size,
            where_
        );
    }
}

/// Synaptic memory per projection, by how it is stored.
fn projection_memory_text(s: &mut String, mem: &[ProjectionMemory], conv_weights: &str) {
    let _ = writeln!(
        s,
        "synaptic memory per projection (conv weights: {conv_weights}):"
    );
    for m in mem {
        let kernel = if m.kernel_weights > 0 {
            format!(" ({} kernel weights)", m.kernel_weights)
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "  {:<20} {:<8} {:<12} {:>10} synapses, {:>4} target core{} {:>12} bits{}",
            m.name,
            m.rule,
            match m.storage {
                crate::program::Storage::PerSynapse => "per_synapse",
                crate::program::Storage::Shared => "shared",
            },
            m.synapses,
            m.target_cores,
            if m.target_cores == 1 { ", " } else { "s," },
            m.synaptic_memory_bits,
            kernel
        );
    }
}

/// The placement's traffic estimate in one line.
fn traffic_text(s: &mut String, t: &PlacementTraffic, chips: bool) {
    let _ = writeln!(
        s,
        "placement traffic: {} packets x hops ({} packets, one per (neuron, destination core) pair; layer order gave {}; {} moves, seed {}){}",
        t.packet_hops,
        t.packets,
        t.initial_packet_hops,
        t.moves,
        t.seed,
        if chips {
            format!(
                "; {} packets x chip-to-chip links (layer order {})",
                t.chip_link_packets, t.initial_chip_link_packets
            )
        } else {
            String::new()
        }
    );
}

impl ChipProgram {
    /// Placement and limits as text (what `snn chip --fit` prints).
    pub fn fit_summary(&self) -> String {
        let a = &self.arch;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "network '{}' on '{}': fits; {} neurons ({} on chip), {} synapses, {} of {} cores, {} of {} tiles",
            self.name.as_deref().unwrap_or("unnamed"),
            a.name,
            self.n_neurons(),
            self.cores.iter().map(|c| c.neurons as u64).sum::<u64>(),
            self.n_synapses(),
            self.n_cores_used(),
            a.n_cores(),
            self.tiles_used,
            a.n_tiles()
        );
        if a.n_chips() > 1 {
            let (cx, cy) = a.chip_grid();
            let _ = writeln!(
                s,
                "system: {} of {} chips ({cx}x{cy}), {} cores per chip",
                self.chips_used,
                a.n_chips(),
                a.cores_per_chip()
            );
        }
        traffic_text(&mut s, &self.traffic, a.n_chips() > 1);
        let _ = writeln!(s, "populations:");
        for p in &self.populations {
            let where_ = match p.cores {
                Some((f, l)) => format!("cores {f}..={l}"),
                None if p.input => "host (input)".into(),
                None => "empty".into(),
            };
            let _ = writeln!(s, "  {:<16} {:>8} neurons  {}", p.name, p.size, where_);
        }
        placement_text(&mut s, &self.populations);
        projection_memory_text(&mut s, &self.projection_memory, a.conv_weights().name());
        let max = |f: &dyn Fn(&crate::program::CoreUsage) -> u64| {
            self.cores.iter().map(f).max().unwrap_or(0)
        };
        let _ = writeln!(s, "per-core use (max over cores / limit):");
        let rows: [(&str, u64, u64); 4] = [
            (
                "compartments",
                max(&|c| c.neurons as u64),
                a.core.compartments as u64,
            ),
            (
                "synaptic memory (bits)",
                max(&|c| c.synaptic_memory_bits),
                a.core.synaptic_memory_bits,
            ),
            (
                "input axons",
                max(&|c| c.input_axons as u64),
                a.core.input_axons as u64,
            ),
            (
                "fan-out entries",
                max(&|c| c.fanout_entries as u64),
                a.core.fanout_entries as u64,
            ),
        ];
        for (n, m, l) in rows {
            let _ = writeln!(s, "  {n:<24} {m:>10} / {l:<10} ({:.1}%)", pct(m, l));
        }
        let q = &self.quantisation;
        let _ = writeln!(
            s,
            "quantisation: {} weight bits, {} bits per synapse",
            q.num_weight_bits, q.synapse_bits
        );
        for p in &q.populations {
            if let Some(lp) = p.params {
                let _ = writeln!(
                    s,
                    "  {} ({} -> loihi_lif): du={} dv={} vth_mant={} bias={}<<{}; threshold err {:.2e}, decay err {:.2e}",
                    p.name,
                    p.source_model,
                    lp.du,
                    lp.dv,
                    lp.vth_mant,
                    lp.bias_mant,
                    lp.bias_exp,
                    p.threshold_rel_error,
                    p.v_decay_error
                );
                if p.stimulus_bias_neurons > 0 {
                    let _ = writeln!(
                        s,
                        "    per-neuron bias (current stimuli): {} neurons, max rel err {:.2e}",
                        p.stimulus_bias_neurons, p.stimulus_bias_rel_error
                    );
                }
                for n in &p.notes {
                    let _ = writeln!(s, "    note: {n}");
                }
            }
        }
        for p in &q.projections {
            let _ = writeln!(
                s,
                "  {}: {:?} sign, weight_exp {}, scale {:.4}, max |err| {:.3e}, rms rel err {:.2e}{}",
                p.name,
                p.sign_mode,
                p.weight_exp,
                p.weight_scale,
                p.max_abs_error,
                p.rms_rel_error,
                if p.exact { " (exact)" } else { "" }
            );
        }
        for n in &self.notes {
            let _ = writeln!(s, "note: {n}");
        }
        s
    }

    /// Placement and limits as JSON.
    pub fn fit_json(&self) -> Value {
        let a = &self.arch;
        json!({
            "arch": a.name,
            "network": self.name,
            "fits": true,
            "neurons": self.n_neurons(),
            "synapses": self.n_synapses(),
            "cores_used": self.n_cores_used(),
            "cores_available": a.n_cores(),
            "tiles_used": self.tiles_used,
            "tiles_available": a.n_tiles(),
            "chips_used": self.chips_used,
            "chips_available": a.n_chips(),
            "placement_traffic": self.traffic,
            "limits": {
                "compartments": a.core.compartments,
                "synaptic_memory_bits": a.core.synaptic_memory_bits,
                "input_axons": a.core.input_axons,
                "fanout_entries": a.core.fanout_entries,
            },
            "conv_weights": a.conv_weights().name(),
            "populations": self.populations,
            "projection_memory": self.projection_memory,
            "cores": self.cores,
            "quantisation": self.quantisation,
            "notes": self.notes,
            "assumptions": a.assumptions(),
        })
    }
}

impl Report {
    /// The whole report as one JSON object; output spikes as `[step, neuron]` pairs when
    /// `spikes` is true.
    pub fn to_json(&self, spikes: bool) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        if spikes && let Value::Object(m) = &mut v {
            let list: Vec<[u64; 2]> = self
                .spikes
                .iter()
                .map(|s| [s.step, s.neuron as u64])
                .collect();
            m.insert("output_spikes".into(), json!(list));
        }
        v
    }

    /// The per-step trace as CSV (`None` when the run recorded none).
    pub fn trace_csv(&self) -> Option<String> {
        let tr = self.trace.as_ref()?;
        let probes = self.probes.as_ref().filter(|p| p.v.len() == tr.len());
        let mut s = String::from(
            "step,time_ns,critical_core,critical_ns,barrier_ns,spikes,input_spikes,synaptic_ops,packets,hops,max_link_packets,dynamic_energy_pj",
        );
        if let Some(p) = probes {
            s.push(',');
            s.push_str(&p.csv_header());
        }
        s.push('\n');
        for (k, t) in tr.iter().enumerate() {
            let _ = write!(
                s,
                "{},{},{},{},{},{},{},{},{},{},{},{}",
                t.step,
                t.time_ns,
                t.critical_core.map_or(String::new(), |c| c.to_string()),
                t.critical_ns,
                t.barrier_ns,
                t.spikes,
                t.input_spikes,
                t.synaptic_ops,
                t.packets,
                t.hops,
                t.max_link_packets,
                t.dynamic_energy_pj
            );
            if let Some(p) = probes {
                s.push(',');
                s.push_str(&p.csv_row(k));
            }
            s.push('\n');
        }
        Some(s)
    }

    /// A human summary.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let c = &self.counts;
        let e = &self.energy;
        let _ = writeln!(
            s,
            "{} on '{}' ({:?} NoC): {} steps of {} ms on {} cores / {} tiles",
            self.network.as_deref().unwrap_or("network"),
            self.arch,
            self.noc,
            self.steps,
            self.dt_ms,
            self.cores_used,
            self.tiles_used
        );
        let _ = writeln!(
            s,
            "time: {:.3} us modelled; step mean {:.1} ns, max {:.1} ns (barrier {:.1} ns); critical core {}",
            self.total_time_ns / 1000.0,
            self.mean_step_ns,
            self.max_step_ns,
            self.barrier_ns,
            self.critical_core.map_or("-".into(), |c| c.to_string())
        );
        let spikes: Vec<String> = self
            .population_spikes
            .iter()
            .map(|(n, k)| format!("{n} {k}"))
            .collect();
        let _ = writeln!(s, "spikes: {}", spikes.join(", "));
        let _ = writeln!(
            s,
            "events: {} synaptic ops, {} active + {} inactive neuron updates, {} spikes out, {} input spikes, {} packets, {} hops (E-W {}, N-S {})",
            c.synaptic_ops,
            c.neuron_updates_active,
            c.neuron_updates_inactive,
            c.spikes_out,
            c.input_spikes,
            c.packets_out,
            c.hops_east_west + c.hops_north_south,
            c.hops_east_west,
            c.hops_north_south
        );
        let _ = writeln!(
            s,
            "energy: {:.3} nJ total = synaptic {:.3} + neuron {:.3} + network {:.3} + static {:.3} nJ; mean power {:.3} mW{}",
            e.total_pj / 1000.0,
            e.synaptic_pj / 1000.0,
            e.neuron_pj / 1000.0,
            e.network_pj / 1000.0,
            e.static_pj / 1000.0,
            self.mean_power_mw,
            self.energy_per_synaptic_op_pj
                .map_or(String::new(), |x| format!(
                    "; {x:.2} pJ per synaptic op all-in"
                ))
        );
        let _ = writeln!(
            s,
            "network: packet latency mean {:.2} ns (zero-load {:.2}, contention {:.2}), max {:.2} ns; links used {}/{}, busiest {} packets{}, mean {:.2}",
            self.packets.mean_latency_ns,
            self.packets.mean_zero_load_ns,
            self.packets.mean_contention_ns,
            self.packets.max_latency_ns,
            self.links.links_used,
            self.links.links,
            self.links.max_packets,
            self.links
                .busiest
                .map_or(String::new(), |([x, y], d)| format!(
                    " (tile [{x},{y}] {d})"
                )),
            self.links.mean_packets
        );
        let mut busiest: Vec<&crate::run::CoreLoad> = self.cores.iter().collect();
        busiest.sort_by(|a, b| b.busy_ns.total_cmp(&a.busy_ns).then(a.core.cmp(&b.core)));
        let _ = writeln!(s, "busiest cores:");
        for l in busiest.iter().take(3) {
            let _ = writeln!(
                s,
                "  core {:>4} tile [{},{}]: {} neurons, {} synaptic ops, {} packets in, busy {:.1} ns, critical in {} steps",
                l.core,
                l.tile[0],
                l.tile[1],
                l.neurons,
                l.synaptic_ops,
                l.packets_in,
                l.busy_ns,
                l.critical_steps
            );
        }
        traffic_text(&mut s, &self.placement_traffic, self.chips_used > 1);
        if self.chips_used > 1 || self.inter_chip_packets > 0 {
            let _ = writeln!(
                s,
                "chip-to-chip: {} packets crossed chips, {} link hops (E-W {}, N-S {}) on {} chips",
                self.inter_chip_packets,
                c.chip_link_hops_east_west + c.chip_link_hops_north_south,
                c.chip_link_hops_east_west,
                c.chip_link_hops_north_south,
                self.chips_used
            );
            let mut pairs: Vec<&crate::run::ChipTraffic> = self.chip_traffic.iter().collect();
            pairs.sort_by_key(|t| std::cmp::Reverse(t.packets));
            for t in pairs.iter().take(8) {
                let _ = writeln!(
                    s,
                    "  chip {:>3} -> chip {:>3}: {} packets",
                    t.from_chip, t.to_chip, t.packets
                );
            }
            if pairs.len() > 8 {
                let _ = writeln!(s, "  ... {} more chip pairs (see --json)", pairs.len() - 8);
            }
        }
        placement_text(&mut s, &self.placement);
        if !self.assumptions.is_empty() {
            let _ = writeln!(s, "assumptions ({}):", self.assumptions.len());
            for a in &self.assumptions {
                let _ = writeln!(s, "  - {a}");
            }
        }
        s
    }
}
