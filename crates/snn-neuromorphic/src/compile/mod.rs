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
//! * `place`: neurons to cores, greedily in population order under the per-core limits.
//! * `route`: per source neuron, fan-out groups by destination core; per-core resource use.
//! * `verify`: every limit of the architecture, all violations listed. When only fan-out
//!   tables overflow, place and route run again with fewer neurons per core (see
//!   `place_and_route`).
//! * `lower`: the runtime arrays of the [`ChipProgram`]: soma constants,
//!   initial state (`snn-core`'s), input schedules (`snn-core`'s stimulus plan).

pub(crate) mod check;
pub(crate) mod lower;
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
    let (placement, routing, cap) = place_and_route(&checked, &quantised, arch, opt)?;
    if let Some(n) = cap {
        checked.notes.push(format!(
            "placed at most {n} neurons per core (fewer than the {} compartments) so that every \
             core's fan-out table fits its {} entries",
            arch.core.compartments, arch.core.fanout_entries
        ));
    }
    Ok(lower::lower(checked, quantised, placement, routing, arch))
}

/// Places, routes and verifies. A placement that fills cores by compartments, synaptic memory
/// and input axons can still overflow a core's fan-out table (each neuron needs one entry per
/// destination core): when that is the only problem and the user did not fix the neurons per
/// core, the cap is lowered in proportion to the worst overflow and the network placed again, up
/// to 16 times. Returns the cap it settled on (`None` when the first placement fitted).
fn place_and_route(
    c: &check::Checked<'_>,
    q: &quantise::Quantised,
    arch: &ArchSpec,
    opt: &CompileOptions,
) -> Result<(place::Placement, route::Routing, Option<u32>), MapError> {
    let mut o = opt.clone();
    let mut first: Option<Vec<crate::error::Violation>> = None;
    for _ in 0..=16 {
        let p = place::place(c, q, arch, &o);
        let r = route::route(c, q, &p, arch);
        let v = verify::violations(c, q, &p, &r, arch);
        if v.is_empty() {
            return Ok((p, r, o.max_neurons_per_core.filter(|_| first.is_some())));
        }
        let only_fanout = v.iter().all(|x| x.limit == "core.fanout_entries");
        let worst = v.iter().map(|x| x.needed).max().unwrap_or(0);
        let current = p.core_range.iter().map(|r| r.1 - r.0).max().unwrap_or(1);
        let original = first.get_or_insert_with(|| v.clone()).clone();
        if !only_fanout || opt.max_neurons_per_core.is_some() || current <= 1 || worst == 0 {
            // Report what the compartment-filling placement violates: the retries only ever
            // changed the number of neurons per core.
            return Err(MapError::DoesNotFit {
                arch: arch.name.clone(),
                violations: original,
            });
        }
        let next = (current as u64 * arch.core.fanout_entries as u64 / worst) as u32;
        o.max_neurons_per_core = Some(next.clamp(1, current - 1));
    }
    Err(MapError::DoesNotFit {
        arch: arch.name.clone(),
        violations: first.unwrap_or_default(),
    })
}

/// Tile coordinates of a core (cores fill tiles in a snake order, so consecutive cores are
/// neighbours).
pub fn core_tile(arch: &ArchSpec, core: u32) -> [u32; 2] {
    let t = core / arch.mesh.cores_per_tile;
    let tx = arch.mesh.tiles_x;
    let y = t / tx;
    let x = if y.is_multiple_of(2) {
        t % tx
    } else {
        tx - 1 - t % tx
    };
    [x, y]
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
