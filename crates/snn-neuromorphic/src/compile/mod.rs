//! The compiler: a network spec onto an architecture, as a sequence of passes with named
//! intermediate results, each in its own module:
//!
//! ```text
//! NetworkSpec --check--> Checked --quantise--> Quantised --place--> Placement
//!             --route--> Routing --verify--> (every limit holds) --lower--> ChipProgram
//! ```
//!
//! * `check`: validates the spec and the architecture, rejects what a chip cannot run,
//!   refuses a compilation that would not fit in memory (synapses, routing and program against
//!   the budget, before allocating; the mesh and chip state are checked when loading), and
//!   expands every projection with `snn-core`'s own connectivity expansion (the engine's synapses
//!   by construction, delays in steps).
//! * [`quantise`]: neuron parameters to the chip's fixed-point LIF, weights to mantissa and
//!   exponent, with the errors measured.
//! * `place`: neurons to cores, greedily in population order under every per-core limit
//!   (compartments, synaptic memory, input axons, fan-out entries: the fill runs again with
//!   each neuron's measured fan-out until every table fits), then cores to physical cores with
//!   a bounded, seeded refinement that lowers packets x hops; or an explicit mapping
//!   ([`crate::mapping`]), checked entry by entry.
//! * `route`: per source neuron, fan-out groups by destination core; per-core resource use.
//! * `verify`: every limit of the architecture, all violations listed; when the network does
//!   not fit, the smallest changes that would (more chips, fewer neurons per core, fewer weight
//!   bits) are found by placing again.
//! * `lower`: the runtime arrays of the [`ChipProgram`]: soma constants,
//!   initial state (`snn-core`'s), input schedules (`snn-core`'s stimulus plan).

pub(crate) mod check;
pub(crate) mod lower;
pub(crate) mod map;
pub(crate) mod place;
pub mod quantise;
pub(crate) mod route;
pub(crate) mod verify;

use snn_types::NetworkSpec;
use snn_types::budget::MemoryBudget;

use crate::arch::ArchSpec;
use crate::error::MapError;
use crate::program::ChipProgram;

/// Options of [`compile_with`].
#[derive(Debug, Clone, Default)]
pub struct CompileOptions {
    /// Weight precision (Loihi's `numWeightBits`): mantissas lose their
    /// `weight_bits - num_weight_bits + is_mixed` low bits as in Lava's bit-accurate path
    /// ([`quantise::lava_truncate_weight`]). Default: the architecture's weight bits;
    /// a value outside `1..=weight_bits` is refused ([`MapError::BadOption`]).
    pub num_weight_bits: Option<u32>,
    /// Place at most this many neurons per core (spreads a network over more cores: more
    /// parallelism, more packets). Default: as many as the core's limits allow.
    pub max_neurons_per_core: Option<u32>,
    /// Seed of the placement refinement's visiting order. Default: the spec's seed.
    pub placement_seed: Option<u64>,
    /// Keep the cores in layer (snake) order: no traffic refinement.
    pub keep_layer_order: bool,
    /// An explicit mapping to honour instead of the automatic placement (checked; see
    /// [`crate::mapping`]).
    pub mapping: Option<crate::mapping::Mapping>,
}

/// Compiles with default options.
pub fn compile(spec: &NetworkSpec, arch: &ArchSpec) -> Result<ChipProgram, MapError> {
    compile_with(spec, arch, &CompileOptions::default())
}

/// Compiles a network onto an architecture: quantises it, places neurons onto cores, builds the
/// fan-out (routing) tables and checks every limit. A network that does not fit gives
/// [`MapError::DoesNotFit`] listing every violated limit.
pub fn compile_with(
    spec: &NetworkSpec,
    arch: &ArchSpec,
    opt: &CompileOptions,
) -> Result<ChipProgram, MapError> {
    compile_with_budget(spec, arch, opt, &MemoryBudget::system())
}

/// As [`compile_with`], checking the memory estimate of compiling
/// ([`crate::memory::ChipMemory`]: synapse expansion, routing, program) against `budget` before
/// allocating; a request too large gives [`MapError::Memory`].
pub fn compile_with_budget(
    spec: &NetworkSpec,
    arch: &ArchSpec,
    opt: &CompileOptions,
    budget: &MemoryBudget,
) -> Result<ChipProgram, MapError> {
    if let Some(b) = opt.num_weight_bits
        && !(1..=arch.core.weight_bits).contains(&b)
    {
        return Err(MapError::BadOption {
            option: "num_weight_bits",
            message: format!(
                "must be in 1..={} (the weight bits of '{}'), got {b}",
                arch.core.weight_bits, arch.name
            ),
        });
    }
    if opt.max_neurons_per_core == Some(0) {
        return Err(MapError::BadOption {
            option: "max_neurons_per_core",
            message: "must be at least 1".into(),
        });
    }
    let mut checked = check::check(spec, arch, budget)?;
    let quantised = quantise::quantise(&checked, arch, opt);
    let (placement, routing, note) = place_and_route(&checked, &quantised, arch, opt)?;
    checked.notes.extend(note);
    Ok(lower::lower(checked, quantised, placement, routing, arch))
}

/// Most fills of the fan-out estimate loop (see [`place_and_route`]).
const FILLS: usize = 12;

/// Limits a placement decides (the others do not depend on where neurons go).
const PLACEMENT_LIMITS: [&str; 6] = [
    "mesh (cores)",
    "core.compartments",
    "core.synaptic_memory_bits",
    "core.input_axons",
    "core.fanout_entries",
    "core.max_fanout_cores_per_neuron",
];

/// The greedy fill under every per-core limit, fan-out tables included: fills with a fan-out
/// estimate per neuron (none at first), measures every neuron's destination cores, and fills
/// again with the larger of estimate and measurement (from the fourth fill on with a growing
/// margin) until every core's fan-out table fits, at most [`FILLS`] times. Should the tables
/// still overflow, the neurons per core are halved (estimates kept) until they fit or one
/// neuron is left per core, so that a network whose neurons each fit a core alone is placed
/// whenever there are cores enough. Returns the last fill and the number of fills.
///
/// On an architecture that limits the destination cores of a neuron
/// (`core.max_fanout_cores_per_neuron`, TrueNorth's one core), a fill that shares a core
/// between the end of one population and the start of the next sends the previous layer's
/// neurons to two cores; when the fill breaks that limit it is tried again with every
/// population starting on a fresh core, which is kept if it holds every limit the first one
/// broke (otherwise the first fill is returned, and verify names its violations).
fn fill_all_limits(
    c: &check::Checked<'_>,
    q: &quantise::Quantised,
    fi: &place::FanIn,
    arch: &ArchSpec,
    opt: &CompileOptions,
) -> (place::Placement, usize) {
    let (p, k, tables_ok) = fill_fanout_loop(c, q, fi, arch, opt, false);
    let Some(m) = arch.core.max_fanout_cores_per_neuron else {
        return (p, k);
    };
    let over = |p: &place::Placement| {
        place::destinations(c, &p.core_of, p.phys.len())
            .iter()
            .filter(|&&d| d > m)
            .count()
    };
    if over(&p) == 0 {
        return (p, k);
    }
    let (pa, ka, tables_ok_a) = fill_fanout_loop(c, q, fi, arch, opt, true);
    if (tables_ok_a || !tables_ok) && over(&pa) == 0 && pa.violations.len() <= p.violations.len() {
        (pa, k + ka)
    } else {
        (p, k + ka)
    }
}

/// The fills of [`fill_all_limits`] for one choice of `align_layers` (see [`place::fill`]):
/// the last fill, the number of fills, and whether every fan-out table holds.
fn fill_fanout_loop(
    c: &check::Checked<'_>,
    q: &quantise::Quantised,
    fi: &place::FanIn,
    arch: &ArchSpec,
    opt: &CompileOptions,
    align_layers: bool,
) -> (place::Placement, usize, bool) {
    let mut est: Vec<u32> = Vec::new();
    let lim = arch.core.fanout_entries as u64;
    // The fill and whether every fan-out table holds; updates the estimates.
    let attempt = |o: &CompileOptions, k: usize, est: &mut Vec<u32>| {
        let p = place::fill(c, q, fi, arch, o, est, align_layers);
        let d = place::destinations(c, &p.core_of, p.phys.len());
        let mut per_core = vec![0u64; p.phys.len()];
        for (g, &x) in d.iter().enumerate() {
            if let Some(s) = per_core.get_mut(p.core_of[g] as usize) {
                *s += x as u64;
            }
        }
        let ok = per_core.iter().all(|&x| x <= lim);
        est.resize(d.len(), 0);
        let margin = if k >= 3 {
            1.0 + (k - 2) as f64 / 8.0
        } else {
            1.0
        };
        for (e, &x) in est.iter_mut().zip(&d) {
            *e = (*e).max((x as f64 * margin).ceil() as u32);
        }
        (p, ok)
    };
    let mut last = None;
    for k in 1..=FILLS {
        let (p, ok) = attempt(opt, k, &mut est);
        if ok {
            return (p, k, true);
        }
        last = Some(p);
    }
    let mut p = last.expect("at least one fill");
    let mut k = FILLS;
    let mut ok = false;
    let mut cap = (0..p.phys.len()).map(|s| p.neurons(s)).max().unwrap_or(1);
    while cap > 1 {
        cap /= 2;
        k += 1;
        let o = CompileOptions {
            max_neurons_per_core: Some(cap),
            ..opt.clone()
        };
        let (q2, ok2) = attempt(&o, FILLS, &mut est);
        p = q2;
        ok = ok2;
        if ok {
            break;
        }
    }
    (p, k, ok)
}

/// Places (a mapping, or the fill under every limit followed by the traffic refinement),
/// routes and verifies. A network that does not fit gives every violated limit and the
/// smallest changes that make it fit ([`fixes`]).
fn place_and_route(
    c: &check::Checked<'_>,
    q: &quantise::Quantised,
    arch: &ArchSpec,
    opt: &CompileOptions,
) -> Result<(place::Placement, route::Routing, Option<String>), MapError> {
    let seed = opt.placement_seed.unwrap_or(c.spec.seed);
    if let Some(m) = &opt.mapping {
        let mut p = crate::compile::map::from_mapping(c, arch, m)?;
        let g = place::slot_graph(c, &p.core_of, p.phys.len());
        let (h, l) = place::traffic_of(arch, &g, &p.phys);
        p.traffic = crate::program::PlacementTraffic {
            packets: g.packets,
            packet_hops: h,
            chip_link_packets: l,
            initial_packet_hops: h,
            initial_chip_link_packets: l,
            moves: 0,
            seed,
        };
        p.describe(c, arch);
        let r = route::route(c, q, &p, arch);
        let v = verify::violations(c, q, &p, &r, arch);
        if !v.is_empty() {
            return Err(crate::compile::map::name_entries(arch, m, v));
        }
        return Ok((p, r, Some("placement from a mapping file".into())));
    }
    let fi = place::FanIn::new(c, q);
    let (mut p, fills) = fill_all_limits(c, q, &fi, arch, opt);
    let g = place::slot_graph(c, &p.core_of, p.phys.len());
    place::assign(arch, &g, &mut p, seed, !opt.keep_layer_order);
    p.describe(c, arch);
    let r = route::route(c, q, &p, arch);
    let v = verify::violations(c, q, &p, &r, arch);
    if !v.is_empty() {
        // A neuron whose own distinct sources exceed a core's input axons fits no core, with
        // any number of chips, neurons per core or weight bits: no change is searched (on big
        // networks each try is a whole placement).
        let hopeless = p.violations.iter().any(|x| x.limit == "core.input_axons");
        let fixes = if !hopeless
            && v.iter()
                .all(|x| PLACEMENT_LIMITS.contains(&x.limit.as_str()))
        {
            fixes(c, arch, opt)
        } else {
            Vec::new()
        };
        return Err(MapError::DoesNotFit {
            arch: arch.name.clone(),
            violations: v,
            fixes,
        });
    }
    let max_neurons = (0..p.phys.len()).map(|k| p.neurons(k)).max().unwrap_or(0);
    let note = (fills > 1).then(|| {
        format!(
            "placed by every per-core limit (fan-out tables included, {fills} fills): at most \
             {max_neurons} neurons per core of {} compartments",
            arch.core.compartments
        )
    });
    Ok((p, r, note))
}

/// Does the network fit under `arch` and `opt` as far as placement goes (cores, compartments,
/// synaptic memory, input axons, fan-out entries, destination cores per neuron)?
fn placement_fits(c: &check::Checked<'_>, arch: &ArchSpec, opt: &CompileOptions) -> bool {
    let q = quantise::quantise(c, arch, opt);
    let fi = place::FanIn::new(c, &q);
    let (p, _) = fill_all_limits(c, &q, &fi, arch, opt);
    if !p.violations.is_empty() || p.phys.len() as u64 > arch.n_cores() as u64 {
        return false;
    }
    let d = place::destinations(c, &p.core_of, p.phys.len());
    let mut per_core = vec![0u64; p.phys.len()];
    for (g, &x) in d.iter().enumerate() {
        if let Some(s) = per_core.get_mut(p.core_of[g] as usize) {
            *s += x as u64;
        }
    }
    if per_core
        .iter()
        .any(|&x| x > arch.core.fanout_entries as u64)
    {
        return false;
    }
    match arch.core.max_fanout_cores_per_neuron {
        Some(m) => d.iter().all(|&x| x <= m),
        None => true,
    }
}

/// The smallest single changes that make a network fit, each verified by placing again:
/// more chips (the fewest, as a row of chips when the architecture has no `[system]`, else
/// more rows of its chip grid), fewer neurons per core (the most that fits, halving from the
/// compartments), fewer weight bits (the most that fits). Empty when none does.
fn fixes(c: &check::Checked<'_>, arch: &ArchSpec, opt: &CompileOptions) -> Vec<String> {
    let mut out = Vec::new();
    // More chips: the cores the fill needs, then the fewest chips holding them that fit.
    let q = quantise::quantise(c, arch, opt);
    let fi = place::FanIn::new(c, &q);
    let (p, _) = fill_all_limits(c, &q, &fi, arch, opt);
    let needed = p.phys.len() as u64;
    // Every core fits but there are too few: fewer neurons per core only needs more cores, so
    // that search (up to ten placements of the whole network) is skipped.
    let only_too_few_cores = p.violations.is_empty() && needed > arch.n_cores() as u64;
    if only_too_few_cores {
        let (cx, _) = arch.chip_grid();
        let per_chip = arch.cores_per_chip() as u64;
        let mut chips = needed.div_ceil(per_chip).max(arch.n_chips() as u64 + 1);
        for _ in 0..4 {
            let mut a = arch.clone();
            let (x, y) = if arch.system.is_some() {
                (cx as u64, chips.div_ceil(cx as u64))
            } else {
                (chips, 1)
            };
            if x * y > 1 << 16 {
                break;
            }
            let mut sys = arch.system.clone().unwrap_or(crate::arch::SystemSpec {
                chips_x: 1,
                chips_y: 1,
                link_latency_ns: None,
                link_energy_pj: None,
                link_packet_ns: None,
                barrier_ns: None,
            });
            sys.chips_x = x as u32;
            sys.chips_y = y as u32;
            a.system = Some(sys);
            if placement_fits(c, &a, opt) {
                out.push(format!(
                    "more chips: {} chips ([system] chips_x = {x}, chips_y = {y}; {needed} cores needed, {} per chip)",
                    x * y,
                    per_chip
                ));
                break;
            }
            chips = x * y + 1;
        }
    }
    // Fewer neurons per core.
    let mut cap = opt
        .max_neurons_per_core
        .unwrap_or(arch.core.compartments)
        .min(arch.core.compartments);
    while cap > 1 && !only_too_few_cores {
        cap /= 2;
        let o = CompileOptions {
            max_neurons_per_core: Some(cap),
            ..opt.clone()
        };
        if placement_fits(c, arch, &o) {
            out.push(format!(
                "fewer neurons per core: --max-neurons-per-core {cap}"
            ));
            break;
        }
    }
    // Fewer weight bits (smaller synapses).
    let bits = opt.num_weight_bits.unwrap_or(arch.core.weight_bits);
    for b in (1..bits).rev() {
        let o = CompileOptions {
            num_weight_bits: Some(b),
            ..opt.clone()
        };
        if placement_fits(c, arch, &o) {
            out.push(format!("fewer weight bits: --weight-bits {b}"));
            break;
        }
    }
    out
}

/// Tile coordinates `[x, y]` of physical core `core` in the system mesh. Cores fill tiles in
/// a snake order within a chip (consecutive cores are neighbours); chips are numbered in the same
/// snake order over the chip grid, and a chip's tiles sit at its offset in the system mesh. On a
/// single chip this is the chip's own tile grid.
pub fn core_tile(arch: &ArchSpec, core: u32) -> [u32; 2] {
    let cpc = arch.cores_per_chip().max(1);
    let (chip, local) = (core / cpc, core % cpc);
    let [x, y] = snake(local / arch.mesh.cores_per_tile, arch.mesh.tiles_x);
    let [cx, cy] = snake(chip, arch.chip_grid().0);
    [cx * arch.mesh.tiles_x + x, cy * arch.mesh.tiles_y + y]
}

/// Chip index of physical core `core`.
pub fn core_chip(arch: &ArchSpec, core: u32) -> u32 {
    core / arch.cores_per_chip().max(1)
}

/// `[x, y]` of item `i` of a snake order over rows `width` wide.
fn snake(i: u32, width: u32) -> [u32; 2] {
    let y = i / width;
    let x = if y.is_multiple_of(2) {
        i % width
    } else {
        width - 1 - i % width
    };
    [x, y]
}

/// Inverse of [`snake`].
fn unsnake([x, y]: [u32; 2], width: u32) -> u32 {
    y * width
        + if y.is_multiple_of(2) {
            x
        } else {
            width - 1 - x
        }
}

/// The first physical core on system tile `[x, y]` (its tile's cores are this one and the next
/// `cores_per_tile - 1`).
pub(crate) fn tile_first_core(arch: &ArchSpec, [x, y]: [u32; 2]) -> u32 {
    let (tx, ty) = (arch.mesh.tiles_x, arch.mesh.tiles_y);
    let chip = unsnake([x / tx, y / ty], arch.chip_grid().0);
    let local = unsnake([x % tx, y % ty], tx);
    chip * arch.cores_per_chip() + local * arch.mesh.cores_per_tile
}

#[cfg(test)]
pub(crate) mod test_util {
    use snn_types::NetworkSpec;

    use crate::arch::ArchSpec;

    /// Loihi's figures on a tiny mesh of tiny cores.
    pub fn small_arch(compartments: u32) -> ArchSpec {
        let mut a = ArchSpec::preset("loihi").unwrap();
        a.mesh.tiles_x = 2;
        a.mesh.tiles_y = 2;
        a.mesh.cores_per_tile = 2;
        a.core.compartments = compartments;
        a
    }

    /// `in` (4 inputs) -> `a` (5 loihi_lif) all to all, weight `w`, delay 2 ms, plus a spike
    /// array on `in`.
    pub fn net(w: f64) -> NetworkSpec {
        NetworkSpec::from_toml_str(&format!(
            r#"
            dt_ms = 1.0
            [[populations]]
            name = "in"
            size = 4
            neuron = {{ model = "input" }}
            [[populations]]
            name = "a"
            size = 5
            neuron = {{ model = "loihi_lif", du = 4095, dv = 0, vth_mant = 100 }}
            [[projections]]
            source = "in"
            target = "a"
            connectivity = {{ rule = "all_to_all" }}
            weight = {w}
            delay_ms = 2.0
            [[stimuli]]
            kind = "spike_array"
            target = "in"
            spikes = [{{ neuron = 0, times_ms = [0.0, 3.0] }}, {{ neuron = 3, times_ms = [1.0] }}]
        "#
        ))
        .unwrap()
    }
}
