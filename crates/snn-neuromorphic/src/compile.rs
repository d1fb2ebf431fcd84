//! Compilation: quantise, place, build routing tables, check every limit.

use serde::Serialize;
use snn_types::{
    Connectivity, LoihiLifParams, NetworkSpec, NeuronModel, ProjectionSpec, Receptor, StimulusSpec,
    ValueSpec, ms_to_steps,
};

use crate::arch::ArchSpec;
use crate::error::{MapError, Violation};
use crate::expand::{Expanded, KIND_STIMULUS, Per, counter_key, expand_projection, initial_v};
use crate::neuron::SomaParams;
use crate::quantise::{PopulationQuant, ProjectionQuant, WeightFormat, map_float};

/// Marks a neuron that lives off-chip (input populations, fed through the host tile).
pub(crate) const HOST: u32 = u32::MAX;

/// Options of [`compile_with`].
#[derive(Debug, Clone, Default)]
pub struct CompileOptions {
    /// Weight precision (Loihi's `numWeightBits`): mantissas are truncated toward zero to
    /// multiples of `2^(weight_bits - num_weight_bits)`. Default: the architecture's weight bits.
    pub num_weight_bits: Option<u32>,
    /// Place at most this many neurons per core (spreads a network over more cores: more
    /// parallelism, more packets). Default: as many as the core's limits allow.
    pub max_neurons_per_core: Option<u32>,
}

/// A population as placed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlacedPopulation {
    /// Name.
    pub name: String,
    /// Global index of its first neuron.
    pub start: u32,
    /// Number of neurons.
    pub size: u32,
    /// True for input populations (off-chip, injected at the host tile).
    pub input: bool,
    /// Cores it occupies, `first..=last` (`None` for inputs and empty populations).
    pub cores: Option<(u32, u32)>,
}

/// Resources one core uses.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoreUsage {
    /// Core index.
    pub core: u32,
    /// Tile coordinates `[x, y]`.
    pub tile: [u32; 2],
    /// Neurons (compartments) placed.
    pub neurons: u32,
    /// Synapses stored (fan-in of its neurons).
    pub synapses: u64,
    /// Synaptic memory used (bits).
    pub synaptic_memory_bits: u64,
    /// Input-axon entries (distinct source neurons).
    pub input_axons: u32,
    /// Fan-out entries (distinct (neuron, destination core) pairs).
    pub fanout_entries: u32,
}

/// Quantisation results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Quantisation {
    /// Per population.
    pub populations: Vec<PopulationQuant>,
    /// Per projection.
    pub projections: Vec<ProjectionQuant>,
    /// Weight precision used (`num_weight_bits`).
    pub num_weight_bits: u32,
    /// Bits per synapse used for synaptic memory (stated or assumed).
    pub synapse_bits: u32,
}

/// A fan-out group: the synapses of one source neuron, through one projection, on one core.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Group {
    pub core: u32,
    pub proj: u32,
    pub start: usize,
    pub len: u32,
}

/// Per-projection data the runtime needs.
#[derive(Debug, Clone)]
pub(crate) struct ProjInfo {
    pub source_pop: usize,
    pub target_pop: usize,
    pub weight_exp: u32,
}

/// A Poisson input (fires input neurons) as the engine draws it.
#[derive(Debug, Clone)]
pub(crate) struct PoissonIn {
    pub key: u64,
    pub lambda: f64,
    pub start: u64,
    pub stop: u64,
    pub lo: u32,
    pub hi: u32,
}

/// A compiled network: placement, routing tables, quantised parameters and synapses.
#[derive(Debug, Clone)]
pub struct ChipProgram {
    /// The architecture compiled for.
    pub arch: ArchSpec,
    /// The network's name.
    pub name: Option<String>,
    /// Time step of the network (ms per chip timestep).
    pub dt_ms: f64,
    /// Populations and where they went.
    pub populations: Vec<PlacedPopulation>,
    /// Per-core resource use (cores in use only, in index order).
    pub cores: Vec<CoreUsage>,
    /// Tiles with at least one core in use.
    pub tiles_used: u32,
    /// Quantisation of parameters and weights.
    pub quantisation: Quantisation,
    /// Things the chip model ignores from the spec (recording of state traces, ...).
    pub notes: Vec<String>,
    pub(crate) spec: NetworkSpec,
    pub(crate) n_neurons: usize,
    pub(crate) core_of: Vec<u32>,
    /// Per used core: global neuron range `[lo, hi)`.
    pub(crate) core_range: Vec<(u32, u32)>,
    pub(crate) soma: Vec<SomaParams>,
    pub(crate) pop_of_core_seg: Vec<Vec<(u32, u32, u16)>>,
    pub(crate) v0: Vec<i32>,
    pub(crate) src_ptr: Vec<usize>,
    pub(crate) groups: Vec<Group>,
    pub(crate) syn_target: Vec<u32>,
    pub(crate) syn_weight: Vec<i16>,
    pub(crate) syn_delay: Vec<u16>,
    pub(crate) max_delay: u16,
    pub(crate) proj: Vec<ProjInfo>,
    pub(crate) input_events: Vec<(u64, u32)>,
    pub(crate) poisson: Vec<PoissonIn>,
    pub(crate) record: Vec<bool>,
}

/// Compiles with default options.
pub fn compile(spec: &NetworkSpec, arch: &ArchSpec) -> Result<ChipProgram, MapError> {
    compile_with(spec, arch, &CompileOptions::default())
}

fn tile_xy(arch: &ArchSpec, core: u32) -> [u32; 2] {
    let t = core / arch.mesh.cores_per_tile;
    let tx = arch.mesh.tiles_x;
    let y = t / tx;
    let x = if y % 2 == 0 { t % tx } else { tx - 1 - t % tx };
    [x, y]
}

/// Tile coordinates of a core (cores fill tiles in a snake order, so consecutive cores are
/// neighbours).
pub fn core_tile(arch: &ArchSpec, core: u32) -> [u32; 2] {
    tile_xy(arch, core)
}

fn bits_for(n: u64) -> u32 {
    if n <= 1 {
        0
    } else {
        64 - (n - 1).leading_zeros()
    }
}

/// Compiles a network onto an architecture: quantises it, places neurons onto cores, builds the
/// fan-out (routing) tables and checks every limit. A network that does not fit gives
/// [`MapError::DoesNotFit`] listing every violated limit.
pub fn compile_with(
    spec: &NetworkSpec,
    arch: &ArchSpec,
    opt: &CompileOptions,
) -> Result<ChipProgram, MapError> {
    spec.validate()?;
    arch.validate().map_err(|issues| MapError::Unsupported {
        issues: issues.into_iter().map(|i| format!("arch {i}")).collect(),
    })?;
    let mut unsupported = Vec::new();
    let mut notes = Vec::new();
    let is_input = |i: usize| matches!(spec.populations[i].neuron, NeuronModel::Input);
    for (i, s) in spec.stimuli.iter().enumerate() {
        let ti = spec.population_index(s.target()).unwrap_or(0);
        match s {
            StimulusSpec::Current { .. } | StimulusSpec::StepCurrent { .. } => unsupported.push(
                format!("stimuli[{i}]: current stimuli cannot be injected into a chip (use a bias or an input population)"),
            ),
            StimulusSpec::SpikeArray { .. } | StimulusSpec::Poisson { .. } if !is_input(ti) => {
                unsupported.push(format!(
                    "stimuli[{i}]: spike inputs must target an input population ('{}' is {})",
                    s.target(),
                    spec.populations[ti].neuron.name()
                ))
            }
            _ => {}
        }
    }
    for (j, pr) in spec.projections.iter().enumerate() {
        if let Some(ti) = spec.population_index(&pr.target)
            && is_input(ti)
        {
            unsupported.push(format!(
                "projections[{j}]: targets input population '{}' (input populations have no dynamics)",
                pr.target
            ));
        }
    }
    if !spec.recording.state.is_empty() {
        notes.push("recording.state traces are not produced by the chip model".into());
    }
    if !unsupported.is_empty() {
        return Err(MapError::Unsupported {
            issues: unsupported,
        });
    }
    let offsets = spec.population_offsets();
    let n = spec.n_neurons() as usize;
    if n as u64 >= u32::MAX as u64 {
        return Err(MapError::Unsupported {
            issues: vec![format!("network: {n} neurons; at most 2^32 - 2 supported")],
        });
    }
    let wf = WeightFormat {
        bits: arch.core.weight_bits,
        num_bits: opt
            .num_weight_bits
            .unwrap_or(arch.core.weight_bits)
            .clamp(1, arch.core.weight_bits),
        max_exp: arch.core.max_weight_exp,
    };
    let max_mant = ((1u64 << wf.bits) - 1) as f64;

    // 1. Expand every projection (same synapses as the engine).
    let exp: Vec<Expanded> = (0..spec.projections.len())
        .map(|j| expand_projection(spec, j))
        .collect();

    // 2. Neuron parameters.
    let mut pop_q = Vec::new();
    let mut params: Vec<Option<LoihiLifParams>> = Vec::new();
    // Integer weight units per spec weight unit for (excitatory, inhibitory) inputs.
    let mut w_scale: Vec<(f64, f64)> = Vec::new();
    for (i, p) in spec.populations.iter().enumerate() {
        match &p.neuron {
            NeuronModel::Input => {
                params.push(None);
                w_scale.push((1.0, 1.0));
                pop_q.push(PopulationQuant {
                    name: p.name.clone(),
                    source_model: "input".into(),
                    params: None,
                    v_scale: 1.0,
                    threshold_rel_error: 0.0,
                    v_decay_error: 0.0,
                    u_decay_error: 0.0,
                    bias_rel_error: 0.0,
                    notes: vec![],
                });
            }
            NeuronModel::LoihiLif(lp) => {
                params.push(Some(*lp));
                w_scale.push((1.0, 1.0));
                pop_q.push(PopulationQuant {
                    name: p.name.clone(),
                    source_model: "loihi_lif".into(),
                    params: Some(*lp),
                    v_scale: 1.0,
                    threshold_rel_error: 0.0,
                    v_decay_error: 0.0,
                    u_decay_error: 0.0,
                    bias_rel_error: 0.0,
                    notes: vec![],
                });
            }
            model => {
                let mut mx = (0.0f64, 0.0f64);
                for (j, e) in exp.iter().enumerate() {
                    if e.target_pop != i {
                        continue;
                    }
                    let m = match &e.weights {
                        Per::Uniform(w) if e.n_synapses() > 0 => w.abs() as f64,
                        Per::Uniform(_) => 0.0,
                        Per::Each(v) => v.iter().fold(0.0f64, |a, &w| a.max(w.abs() as f64)),
                    };
                    if spec.projections[j].receptor == Receptor::Inhibitory
                        && matches!(model, NeuronModel::LifExp(_))
                    {
                        mx.1 = mx.1.max(m);
                    } else {
                        mx.0 = mx.0.max(m);
                    }
                }
                let fm = map_float(&p.name, model, spec.dt_ms, mx, max_mant)
                    .expect("float model handled");
                params.push(Some(fm.params));
                w_scale.push(fm.w_scale);
                pop_q.push(fm.quant);
            }
        }
    }

    // 3. Weights: sign mode, exponent, mantissas (kept in CSR order per projection).
    let mut proj_q = Vec::new();
    let mut mant: Vec<Vec<i16>> = Vec::new();
    let mut uniform_w: Vec<bool> = Vec::new();
    let mut proj_info = Vec::new();
    for (j, e) in exp.iter().enumerate() {
        let pr = &spec.projections[j];
        let k = if pr.receptor == Receptor::Inhibitory {
            w_scale[e.target_pop].1
        } else {
            w_scale[e.target_pop].0
        };
        let ns = e.n_synapses();
        let (lo, hi) = match &e.weights {
            Per::Uniform(w) => (*w as f64 * k, *w as f64 * k),
            Per::Each(v) => v.iter().fold((f64::MAX, f64::MIN), |(a, b), &w| {
                (a.min(w as f64 * k), b.max(w as f64 * k))
            }),
        };
        let (lo, hi) = if ns == 0 { (0.0, 0.0) } else { (lo, hi) };
        let (mode, wexp) = wf.choose(lo, hi);
        let mut m = Vec::with_capacity(if matches!(e.weights, Per::Uniform(_)) {
            0
        } else {
            ns
        });
        let (mut clipped, mut max_err, mut sq, mut wmax) = (0u64, 0.0f64, 0.0f64, 0.0f64);
        let one = |w: f32| {
            let (q, c) = wf.mantissa(w as f64 * k, mode, wexp);
            let back = ((q as i64) << wexp) as f64 / k;
            let err = (back - w as f64).abs();
            (q, c, err)
        };
        match &e.weights {
            Per::Uniform(w) => {
                let (q, c, err) = one(*w);
                m.push(q);
                if ns > 0 {
                    clipped = if c { ns as u64 } else { 0 };
                    max_err = err;
                    sq = err * err * ns as f64;
                    wmax = w.abs() as f64;
                }
            }
            Per::Each(v) => {
                for &w in v {
                    let (q, c, err) = one(w);
                    m.push(q);
                    clipped += c as u64;
                    max_err = max_err.max(err);
                    sq += err * err;
                    wmax = wmax.max(w.abs() as f64);
                }
            }
        }
        let rms = if ns > 0 && wmax > 0.0 {
            (sq / ns as f64).sqrt() / wmax
        } else {
            0.0
        };
        proj_q.push(ProjectionQuant {
            index: j,
            name: pr
                .name
                .clone()
                .unwrap_or_else(|| format!("{}->{}", pr.source, pr.target)),
            sign_mode: mode,
            weight_exp: wexp,
            weight_scale: k,
            max_abs_error: max_err,
            rms_rel_error: rms,
            clipped,
            exact: max_err == 0.0,
        });
        uniform_w.push(matches!(e.weights, Per::Uniform(_)));
        mant.push(m);
        proj_info.push(ProjInfo {
            source_pop: e.source_pop,
            target_pop: e.target_pop,
            weight_exp: wexp,
        });
    }

    // 4. Placement: greedy in population order, each core filled while every per-core limit
    //    holds (compartments, synaptic memory, input axons).
    let max_delay = exp
        .iter()
        .map(|e| match &e.delays {
            Per::Uniform(d) => *d,
            Per::Each(v) => v.iter().copied().max().unwrap_or(1),
        })
        .max()
        .unwrap_or(1)
        .max(1);
    let syn_bits = arch.core.synapse_bits.unwrap_or_else(|| {
        wf.bits + 1 + bits_for(max_delay as u64) + bits_for(arch.core.compartments as u64)
    }) as u64;
    // Fan-in sources per target neuron (CSC over all projections).
    let mut in_ptr = vec![0usize; n + 1];
    for e in &exp {
        let t0 = offsets[e.target_pop] as usize;
        for &t in &e.targets {
            in_ptr[t0 + t as usize + 1] += 1;
        }
    }
    for i in 0..n {
        in_ptr[i + 1] += in_ptr[i];
    }
    let mut in_src = vec![0u32; in_ptr[n]];
    {
        let mut fill = in_ptr.clone();
        for e in &exp {
            let (s0, t0) = (offsets[e.source_pop] as u32, offsets[e.target_pop] as usize);
            for s in 0..e.row_ptr.len() - 1 {
                for &t in &e.targets[e.row_ptr[s]..e.row_ptr[s + 1]] {
                    let k = t0 + t as usize;
                    in_src[fill[k]] = s0 + s as u32;
                    fill[k] += 1;
                }
            }
        }
    }
    let cap_neurons = opt
        .max_neurons_per_core
        .unwrap_or(u32::MAX)
        .clamp(1, arch.core.compartments);
    let mut violations: Vec<Violation> = Vec::new();
    let mut core_of = vec![HOST; n];
    let mut core_range: Vec<(u32, u32)> = Vec::new();
    let mut seen = vec![0u32; n]; // core + 1 whose axon table holds the source
    let mut tent = vec![u32::MAX; n];
    let (mut c_neurons, mut c_bits, mut c_axons) = (0u32, 0u64, 0u32);
    let mut placed_pops = Vec::new();
    for (i, p) in spec.populations.iter().enumerate() {
        let start = offsets[i] as u32;
        if is_input(i) || p.size == 0 {
            placed_pops.push(PlacedPopulation {
                name: p.name.clone(),
                start,
                size: p.size,
                input: is_input(i),
                cores: None,
            });
            continue;
        }
        let mut first = None;
        for g in start..start + p.size {
            let srcs = &in_src[in_ptr[g as usize]..in_ptr[g as usize + 1]];
            let (mut d_all, mut d_new) = (0u32, 0u32);
            for &s in srcs {
                if tent[s as usize] != g {
                    tent[s as usize] = g;
                    d_all += 1;
                    if core_range.is_empty() || seen[s as usize] != core_range.len() as u32 {
                        d_new += 1;
                    }
                }
            }
            let bits = srcs.len() as u64 * syn_bits;
            let fits = !core_range.is_empty()
                && c_neurons < cap_neurons
                && c_bits + bits <= arch.core.synaptic_memory_bits
                && c_axons + d_new <= arch.core.input_axons;
            if !fits {
                core_range.push((g, g));
                c_neurons = 0;
                c_bits = 0;
                c_axons = 0;
                d_new = d_all;
                if bits > arch.core.synaptic_memory_bits || d_all > arch.core.input_axons {
                    if bits > arch.core.synaptic_memory_bits {
                        violations.push(Violation {
                            at: format!("population '{}' neuron {}", p.name, g - start),
                            limit: "core.synaptic_memory_bits".into(),
                            needed: bits,
                            allowed: arch.core.synaptic_memory_bits,
                            note: format!("{} synapses of {} bits", srcs.len(), syn_bits),
                        });
                    }
                    if d_all > arch.core.input_axons {
                        violations.push(Violation {
                            at: format!("population '{}' neuron {}", p.name, g - start),
                            limit: "core.input_axons".into(),
                            needed: d_all as u64,
                            allowed: arch.core.input_axons as u64,
                            note: "distinct source neurons of one neuron".into(),
                        });
                    }
                }
            }
            let c = core_range.len() as u32;
            for &s in srcs {
                seen[s as usize] = c;
            }
            c_neurons += 1;
            c_bits += bits;
            c_axons += d_new;
            core_of[g as usize] = c - 1;
            core_range.last_mut().expect("core opened").1 = g + 1;
            first.get_or_insert(c - 1);
        }
        placed_pops.push(PlacedPopulation {
            name: p.name.clone(),
            start,
            size: p.size,
            input: false,
            cores: first.map(|f| (f, core_range.len() as u32 - 1)),
        });
    }
    drop((in_src, in_ptr, seen, tent));
    let n_cores_used = core_range.len() as u32;
    if n_cores_used > arch.n_cores() {
        violations.push(Violation {
            at: "network".into(),
            limit: "mesh (cores)".into(),
            needed: n_cores_used as u64,
            allowed: arch.n_cores() as u64,
            note: format!(
                "{} on-chip neurons; {}x{} tiles of {} cores",
                core_range.iter().map(|r| (r.1 - r.0) as u64).sum::<u64>(),
                arch.mesh.tiles_x,
                arch.mesh.tiles_y,
                arch.mesh.cores_per_tile
            ),
        });
    }

    // 5. Delay limits.
    if let Some(b) = arch.core.delay_bits {
        let lim = (1u64 << b) - 1;
        for (j, e) in exp.iter().enumerate() {
            let d = match &e.delays {
                Per::Uniform(d) => *d,
                Per::Each(v) => v.iter().copied().max().unwrap_or(1),
            };
            if e.n_synapses() > 0 && d as u64 > lim {
                violations.push(Violation {
                    at: format!("projections[{j}] ({})", proj_q[j].name),
                    limit: "core.delay_bits".into(),
                    needed: d as u64,
                    allowed: lim,
                    note: "delay in steps".into(),
                });
            }
        }
    }
    for (j, q) in proj_q.iter().enumerate() {
        if q.clipped > 0
            && matches!(
                spec.populations[exp[j].target_pop].neuron,
                NeuronModel::LoihiLif(_)
            )
        {
            violations.push(Violation {
                at: format!("projections[{j}] ({})", q.name),
                limit: "core.weight_bits / core.max_weight_exp".into(),
                needed: q.clipped,
                allowed: 0,
                note: "integer weights outside mantissa << exponent range (synapses clipped)"
                    .into(),
            });
        }
    }

    // 6. Fan-out tables: per source neuron, groups sorted by destination core.
    let total_syn: usize = exp.iter().map(|e| e.n_synapses()).sum();
    let mut syn_target = Vec::with_capacity(total_syn);
    let mut syn_weight = Vec::with_capacity(total_syn);
    let mut syn_delay = Vec::with_capacity(total_syn);
    let mut groups: Vec<Group> = Vec::new();
    let mut src_ptr = Vec::with_capacity(n + 1);
    src_ptr.push(0);
    let mut by_src: Vec<Vec<usize>> = vec![Vec::new(); spec.populations.len()];
    for (j, e) in exp.iter().enumerate() {
        by_src[e.source_pop].push(j);
    }
    let nc = n_cores_used as usize;
    let mut usage: Vec<CoreUsage> = (0..nc)
        .map(|c| CoreUsage {
            core: c as u32,
            tile: tile_xy(arch, c as u32),
            neurons: core_range[c].1 - core_range[c].0,
            synapses: 0,
            synaptic_memory_bits: 0,
            input_axons: 0,
            fanout_entries: 0,
        })
        .collect();
    let mut last_src = vec![u32::MAX; nc];
    let mut fan_viol: Vec<(u32, u32)> = Vec::new();
    for (i, _) in spec.populations.iter().enumerate() {
        let s0 = offsets[i] as u32;
        for r in 0..spec.populations[i].size {
            let g = s0 + r;
            let gstart = groups.len();
            for &j in &by_src[i] {
                let e = &exp[j];
                let t0 = offsets[e.target_pop] as u32;
                let (a, b) = (e.row_ptr[r as usize], e.row_ptr[r as usize + 1]);
                let mut k = a;
                while k < b {
                    let core = core_of[(t0 + e.targets[k]) as usize];
                    let begin = syn_target.len();
                    while k < b && core_of[(t0 + e.targets[k]) as usize] == core {
                        syn_target.push(t0 + e.targets[k]);
                        syn_weight.push(if mant[j].len() == 1 {
                            mant[j][0]
                        } else {
                            mant[j][k]
                        });
                        syn_delay.push(e.delays.at(k));
                        k += 1;
                    }
                    groups.push(Group {
                        core,
                        proj: j as u32,
                        start: begin,
                        len: (syn_target.len() - begin) as u32,
                    });
                }
            }
            let gs = &mut groups[gstart..];
            gs.sort_by_key(|x| x.core);
            let mut dests = 0u32;
            let mut prev = u32::MAX;
            for x in gs.iter() {
                let u = &mut usage[x.core as usize];
                u.synapses += x.len as u64;
                if x.core != prev {
                    dests += 1;
                    prev = x.core;
                    if last_src[x.core as usize] != g {
                        last_src[x.core as usize] = g;
                        u.input_axons += 1;
                    }
                }
            }
            let own = core_of[g as usize];
            if own != HOST {
                usage[own as usize].fanout_entries += dests;
                if let Some(m) = arch.core.max_fanout_cores_per_neuron
                    && dests > m
                {
                    fan_viol.push((g, dests));
                }
            }
            src_ptr.push(groups.len());
        }
    }
    drop(exp);
    for u in &mut usage {
        u.synaptic_memory_bits = u.synapses * syn_bits;
    }
    let pop_name_of = |g: u32| {
        let i = offsets.partition_point(|&o| o <= g as u64) - 1;
        spec.populations[i.min(spec.populations.len() - 1)]
            .name
            .clone()
    };
    if let Some(m) = arch.core.max_fanout_cores_per_neuron {
        for &(g, d) in fan_viol.iter().take(8) {
            {
                violations.push(Violation {
                    at: format!(
                        "population '{}' neuron {}",
                        pop_name_of(g),
                        g - offsets[spec.population_index(&pop_name_of(g)).unwrap_or(0)] as u32
                    ),
                    limit: "core.max_fanout_cores_per_neuron".into(),
                    needed: d as u64,
                    allowed: m as u64,
                    note: "destination cores of one neuron".into(),
                });
            }
        }
        if fan_viol.len() > 8 {
            violations.push(Violation {
                at: format!("{} more neurons", fan_viol.len() - 8),
                limit: "core.max_fanout_cores_per_neuron".into(),
                needed: fan_viol.iter().map(|x| x.1 as u64).max().unwrap_or(0),
                allowed: m as u64,
                note: "largest shown".into(),
            });
        }
    }
    for u in &usage {
        let at = format!(
            "core {} (population '{}')",
            u.core,
            pop_name_of(core_range[u.core as usize].0)
        );
        if u.fanout_entries > arch.core.fanout_entries {
            violations.push(Violation {
                at: at.clone(),
                limit: "core.fanout_entries".into(),
                needed: u.fanout_entries as u64,
                allowed: arch.core.fanout_entries as u64,
                note: "(neuron, destination core) pairs".into(),
            });
        }
    }
    if let Some(types) = arch.core.axon_types {
        // Distinct weights received per neuron (a necessary condition for an axon-type
        // assignment to exist).
        let mut per_t: Vec<(u32, i32)> = Vec::with_capacity(syn_target.len());
        for x in &groups {
            let e = proj_info[x.proj as usize].weight_exp;
            for k in x.start..x.start + x.len as usize {
                per_t.push((syn_target[k], (syn_weight[k] as i32) << e));
            }
        }
        per_t.sort_unstable();
        per_t.dedup();
        let mut worst: Option<(u32, u32)> = None;
        let mut count = 0usize;
        let mut i = 0;
        while i < per_t.len() {
            let mut j = i;
            while j < per_t.len() && per_t[j].0 == per_t[i].0 {
                j += 1;
            }
            let d = (j - i) as u32;
            if d > types {
                count += 1;
                if worst.is_none_or(|w| d > w.1) {
                    worst = Some((per_t[i].0, d));
                }
            }
            i = j;
        }
        if let Some((g, d)) = worst {
            violations.push(Violation {
                at: format!(
                    "population '{}' ({} neurons, worst: global neuron {g})",
                    pop_name_of(g),
                    count
                ),
                limit: "core.axon_types".into(),
                needed: d as u64,
                allowed: types as u64,
                note: "distinct weights received by one neuron".into(),
            });
        }
    }
    if !violations.is_empty() {
        return Err(MapError::DoesNotFit {
            arch: arch.name.clone(),
            violations,
        });
    }

    // 7. Runtime data.
    let soma: Vec<SomaParams> = params
        .iter()
        .map(|p| {
            p.map(|p| SomaParams::new(&p)).unwrap_or(SomaParams {
                u_keep: 0,
                v_keep: 0,
                bias: 0,
                vth: i64::MAX,
            })
        })
        .collect();
    let mut pop_of_core_seg = Vec::with_capacity(nc);
    for &(lo, hi) in &core_range {
        let mut segs = Vec::new();
        for (i, p) in spec.populations.iter().enumerate() {
            let (a, b) = (offsets[i] as u32, offsets[i] as u32 + p.size);
            let (x, y) = (a.max(lo), b.min(hi));
            if x < y {
                segs.push((x, y, i as u16));
            }
        }
        pop_of_core_seg.push(segs);
    }
    let quantised = quantised_spec(spec, &params, &pop_q, &proj_q, &mant, &uniform_w);
    let mut v0 = vec![0i32; n];
    for i in 0..spec.populations.len() {
        if is_input(i) {
            continue;
        }
        // Drawn from the quantised spec exactly as the engine draws it (then rounded).
        for (k, x) in initial_v(&quantised, i).iter().enumerate() {
            v0[offsets[i] as usize + k] = x.round() as i32;
        }
    }
    let mut input_events = Vec::new();
    let mut poisson = Vec::new();
    for (si, s) in spec.stimuli.iter().enumerate() {
        let pi = spec.population_index(s.target()).unwrap_or(0);
        let (lo, size) = (offsets[pi] as u32, spec.populations[pi].size);
        match s {
            StimulusSpec::SpikeArray { spikes, .. } => {
                for tr in spikes {
                    if tr.neuron < size {
                        for t in &tr.times_ms {
                            if let Some(step) = ms_to_steps(*t, spec.dt_ms) {
                                input_events.push((step, lo + tr.neuron));
                            }
                        }
                    }
                }
            }
            StimulusSpec::Poisson {
                rate_hz,
                start_ms,
                stop_ms,
                ..
            } => poisson.push(PoissonIn {
                key: counter_key(spec.seed, KIND_STIMULUS, si as u64),
                lambda: rate_hz * spec.dt_ms * 1e-3,
                start: ms_to_steps(*start_ms, spec.dt_ms).unwrap_or(0),
                stop: stop_ms
                    .and_then(|t| ms_to_steps(t, spec.dt_ms))
                    .unwrap_or(u64::MAX),
                lo,
                hi: lo + size,
            }),
            _ => {}
        }
    }
    input_events.sort_unstable();
    let record = match &spec.recording.spikes {
        None => vec![true; spec.populations.len()],
        Some(names) => spec
            .populations
            .iter()
            .map(|p| names.contains(&p.name))
            .collect(),
    };
    let tiles_used = {
        let mut t: Vec<u32> = (0..n_cores_used)
            .map(|c| c / arch.mesh.cores_per_tile)
            .collect();
        t.dedup();
        t.len() as u32
    };
    Ok(ChipProgram {
        arch: arch.clone(),
        name: spec.name.clone(),
        dt_ms: spec.dt_ms,
        populations: placed_pops,
        cores: usage,
        tiles_used,
        quantisation: Quantisation {
            populations: pop_q,
            projections: proj_q,
            num_weight_bits: wf.num_bits,
            synapse_bits: syn_bits as u32,
        },
        notes,
        spec: quantised,
        n_neurons: n,
        core_of,
        core_range,
        soma,
        pop_of_core_seg,
        v0,
        src_ptr,
        groups,
        syn_target,
        syn_weight,
        syn_delay,
        max_delay,
        proj: proj_info,
        input_events,
        poisson,
        record,
    })
}

fn scale_v(x: f64, off: f64, sc: f64) -> f64 {
    (x - off) * sc
}

fn scale_value(v: &ValueSpec, off: f64, sc: f64) -> ValueSpec {
    use snn_types::Distribution as D;
    match *v {
        ValueSpec::Constant(x) => ValueSpec::Constant(scale_v(x, off, sc)),
        ValueSpec::Random(D::Uniform { low, high }) => ValueSpec::Random(D::Uniform {
            low: scale_v(low, off, sc),
            high: scale_v(high, off, sc),
        }),
        ValueSpec::Random(D::Normal { mean, std }) => ValueSpec::Random(D::Normal {
            mean: scale_v(mean, off, sc),
            std: std * sc,
        }),
    }
}

/// The quantised spec, except projections whose weights vary (filled in lazily by
/// [`ChipProgram::quantised_spec`]).
fn quantised_spec(
    spec: &NetworkSpec,
    params: &[Option<LoihiLifParams>],
    pop_q: &[PopulationQuant],
    proj_q: &[ProjectionQuant],
    mant: &[Vec<i16>],
    uniform_w: &[bool],
) -> NetworkSpec {
    let mut q = spec.clone();
    for (i, p) in q.populations.iter_mut().enumerate() {
        if let Some(lp) = params[i] {
            let float = !matches!(p.neuron, NeuronModel::LoihiLif(_));
            if float {
                let off = spec.populations[i].neuron.resting_v();
                if let Some(v) = &p.v_init {
                    p.v_init = Some(scale_value(v, off, pop_q[i].v_scale));
                }
            }
            p.neuron = NeuronModel::LoihiLif(lp);
        }
    }
    for (j, pr) in q.projections.iter_mut().enumerate() {
        if uniform_w[j]
            && !matches!(
                pr.connectivity,
                Connectivity::Explicit { .. } | Connectivity::Dense { .. }
            )
        {
            pr.weight = ValueSpec::Constant(((mant[j][0] as i64) << proj_q[j].weight_exp) as f64);
        }
    }
    q
}

impl ChipProgram {
    /// The network the chip runs, as a spec `snn-core` can simulate: `loihi_lif` populations
    /// with the quantised parameters and the quantised integer weights. Projections with a
    /// uniform weight keep their rule (the engine redraws the same synapses from the seed);
    /// others become explicit synapse lists.
    pub fn quantised_spec(&self) -> NetworkSpec {
        let mut q = self.spec.clone();
        let dt = self.dt_ms;
        for j in 0..q.projections.len() {
            let keep = matches!(q.projections[j].weight, ValueSpec::Constant(w) if w.fract() == 0.0)
                && !matches!(
                    q.projections[j].connectivity,
                    Connectivity::Explicit { .. } | Connectivity::Dense { .. }
                );
            if keep {
                continue;
            }
            let info = &self.proj[j];
            let (s0, t0) = (
                self.populations[info.source_pop].start,
                self.populations[info.target_pop].start,
            );
            let size = self.populations[info.source_pop].size;
            let (mut src, mut tgt, mut w, mut d) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for r in 0..size {
                let g = (s0 + r) as usize;
                for x in &self.groups[self.src_ptr[g]..self.src_ptr[g + 1]] {
                    if x.proj as usize != j {
                        continue;
                    }
                    for k in x.start..x.start + x.len as usize {
                        src.push(r);
                        tgt.push(self.syn_target[k] - t0);
                        w.push(((self.syn_weight[k] as i64) << info.weight_exp) as f64);
                        d.push(self.syn_delay[k] as f64 * dt);
                    }
                }
            }
            let old: &ProjectionSpec = &q.projections[j];
            q.projections[j] = ProjectionSpec {
                name: old.name.clone(),
                source: old.source.clone(),
                target: old.target.clone(),
                connectivity: Connectivity::Explicit {
                    sources: src,
                    targets: tgt,
                    weights: Some(w),
                    delays_ms: Some(d),
                },
                weight: ValueSpec::Constant(0.0),
                delay_ms: None,
                receptor: old.receptor,
                allow_autapses: true,
            };
        }
        q
    }

    /// Number of neurons (inputs included; global indices as in the spec).
    pub fn n_neurons(&self) -> usize {
        self.n_neurons
    }

    /// Number of synapses stored on the chip.
    pub fn n_synapses(&self) -> usize {
        self.syn_target.len()
    }

    /// Cores in use.
    pub fn n_cores_used(&self) -> u32 {
        self.core_range.len() as u32
    }

    /// Bytes the program's synapse and routing arrays occupy in this process (targets, weights,
    /// delays, fan-out groups).
    pub fn memory_bytes(&self) -> usize {
        self.syn_target.capacity() * 4
            + self.syn_weight.capacity() * 2
            + self.syn_delay.capacity() * 2
            + self.groups.capacity() * std::mem::size_of::<Group>()
            + self.src_ptr.capacity() * std::mem::size_of::<usize>()
    }

    /// Core of global neuron `g` (`None` for off-chip input neurons).
    pub fn core_of(&self, g: u32) -> Option<u32> {
        self.core_of.get(g as usize).copied().filter(|&c| c != HOST)
    }
}
