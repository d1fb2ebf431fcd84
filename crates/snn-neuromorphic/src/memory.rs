//! Memory estimates of the chip model, computed from the spec and the architecture before
//! anything is allocated.
//!
//! * **Compiling** holds the engine's expanded synapses ([`snn_core::memory`]: CSR storage and
//!   the largest expansion scratch), the fan-in index (4 bytes per synapse), the program's
//!   synapse arrays (`u32` target, `i16` weight, `u16` delay: 8 bytes per synapse) and its
//!   fan-out groups (24 bytes each, at most one per synapse), and per-neuron tables
//!   ([`COMPILE_BYTES_PER_NEURON`]).
//! * **A loaded chip** ([`Chip::new`](crate::Chip::new)) holds per neuron the state `u`, `v`
//!   (8 bytes), the dendritic ring (`slots x i32`) and an input flag (1 byte); and the mesh:
//!   per directed link (4 per tile) [`MESH_BYTES_PER_LINK`] bytes (packet counters, link clocks,
//!   credits, output queues, and the run's per-link tallies), per injection port (one per core
//!   of the architecture, plus the host) [`MESH_BYTES_PER_PORT`] bytes — so a mesh's cost follows
//!   the architecture's tile count, used or not.
//! * **A run** ([`Chip::run`](crate::Chip::run)) adds per step the raster's offset (8 bytes) and,
//!   when tracing, one [`StepTrace`](crate::StepTrace); per spike 4 bytes.
//!
//! ```
//! use snn_neuromorphic::{ArchSpec, memory};
//!
//! let mut arch = ArchSpec::preset("loihi").unwrap();
//! assert!(memory::mesh_bytes(&arch) < 1 << 20);
//! arch.mesh.tiles_x = 46_340;
//! arch.mesh.tiles_y = 46_340;
//! arch.mesh.cores_per_tile = 1;
//! assert!(memory::mesh_bytes(&arch) > 600 << 30); // about 624 GiB
//! ```

use snn_core::memory::NetworkMemory;
use snn_types::NetworkSpec;
use snn_types::budget::{MemoryBudget, TooLarge};

use crate::arch::ArchSpec;

/// Bytes per directed link of the mesh: cumulative packet count and link clock (`u64` each),
/// credits (`u32`), the output queue (a `VecDeque`, 32 bytes empty), a pending flag, and the
/// run's per-link tallies (two `u64`).
pub const MESH_BYTES_PER_LINK: u64 = 8 + 8 + 4 + 32 + 1 + 16;

/// Bytes per injection port: its queue (32 bytes empty) and credits (`u32`).
pub const MESH_BYTES_PER_PORT: u64 = 32 + 4;

/// Program and compiler tables per neuron: core, initial `v`, fan-out pointer, placement
/// scratch (core, seen, tentative) and the fan-in pointer.
pub const COMPILE_BYTES_PER_NEURON: u64 = 4 + 4 + 8 + 12 + 8;

/// Program arrays and compiler scratch per synapse on top of the engine's expansion: the
/// synapse arrays (8), the fan-in index (4) and at most one fan-out group (24).
pub const COMPILE_BYTES_PER_SYNAPSE: u64 = 8 + 4 + 24;

/// Bytes of the modelled mesh of `arch` (all its tiles and ports, every chip of a system; see
/// the module docs).
pub fn mesh_bytes(arch: &ArchSpec) -> u64 {
    let (cx, cy) = arch.chip_grid();
    let tiles =
        (arch.mesh.tiles_x as u64 * arch.mesh.tiles_y as u64).saturating_mul(cx as u64 * cy as u64);
    let ports = tiles
        .saturating_mul(arch.mesh.cores_per_tile as u64)
        .saturating_add(1);
    tiles
        .saturating_mul(4 * MESH_BYTES_PER_LINK)
        .saturating_add(ports.saturating_mul(MESH_BYTES_PER_PORT))
}

/// Bytes a run of `steps` steps adds (raster offsets, and the per-step trace when `trace`);
/// spikes add 4 bytes each on top.
pub fn run_bytes(steps: u64, trace: bool) -> u64 {
    let per_step = snn_types::SpikeRaster::BYTES_PER_STEP
        + if trace {
            std::mem::size_of::<crate::StepTrace>() as u64
        } else {
            0
        };
    steps.saturating_mul(per_step)
}

/// Bytes of a loaded chip's per-neuron state for `n` neurons and `slots` ring slots.
pub fn state_bytes(n: u64, slots: u64) -> u64 {
    n.saturating_mul(8 + 1 + slots.saturating_mul(4))
}

/// The chip model's estimate for a spec on an architecture.
#[derive(Debug, Clone, PartialEq)]
pub struct ChipMemory {
    /// The engine's estimate (synapse counts, ring slots).
    pub network: NetworkMemory,
    /// Peak bytes of compiling (expansion, fan-in, program, tables).
    pub compile_bytes: u64,
    /// Bytes of the program's synapse and routing arrays (kept while the program lives).
    pub program_bytes: u64,
    /// Bytes of the loaded chip's neuron state.
    pub state_bytes: u64,
    /// Bytes of the mesh ([`mesh_bytes`]).
    pub mesh_bytes: u64,
}

impl ChipMemory {
    /// Estimates compiling `spec` onto `arch` and loading it. Never panics; never allocates in
    /// proportion to the sizes it estimates.
    pub fn estimate(spec: &NetworkSpec, arch: &ArchSpec) -> Self {
        let network = NetworkMemory::estimate(spec, 1);
        let syn = network.synapses().bound;
        let n = network.neurons;
        let engine = network
            .projections
            .iter()
            // The chip expands conv and pool projections into explicit synapses
            // (`expand_projection`), so it holds their CSR form, not the engine's kernel.
            .fold(0u64, |a, p| {
                a.saturating_add(if p.kernel_storage {
                    p.expanded_bytes
                } else {
                    p.storage_bound_bytes
                })
            })
            .saturating_add(
                network
                    .projections
                    .iter()
                    .map(|p| p.scratch_bytes)
                    .max()
                    .unwrap_or(0),
            );
        let program_bytes = syn
            .saturating_mul(8 + 24)
            .saturating_add(n.saturating_mul(8));
        let compile_bytes = engine
            .saturating_add(syn.saturating_mul(COMPILE_BYTES_PER_SYNAPSE))
            .saturating_add(n.saturating_mul(COMPILE_BYTES_PER_NEURON));
        Self {
            state_bytes: state_bytes(n, network.ring_slots),
            mesh_bytes: mesh_bytes(arch),
            network,
            compile_bytes,
            program_bytes,
        }
    }

    /// Checks compiling against `budget` (the compiler's check pass does, before expanding
    /// anything). The mesh and the chip state are not part of it: compiling never allocates
    /// them, so `snn chip --fit` can size a network for any architecture; loading does
    /// ([`Chip::new`](crate::Chip::new) checks [`mesh_bytes`] and [`state_bytes`]).
    pub fn check_compile(&self, arch: &ArchSpec, budget: &MemoryBudget) -> Result<(), TooLarge> {
        let n = &self.network;
        budget.check_parts(
            format!(
                "network '{}' of {} neurons and {} synapses on '{}'",
                n.name,
                n.neurons,
                n.synapses(),
                arch.name
            ),
            self.compile_bytes,
            "synapse expansion, routing, program",
        )
    }
}

/// Checks the mesh of `arch` alone against `budget`.
pub fn check_mesh(arch: &ArchSpec, budget: &MemoryBudget) -> Result<(), TooLarge> {
    budget.check_parts(
        format!(
            "architecture '{}' with a {} x {} mesh ({} tiles)",
            arch.name,
            arch.mesh.tiles_x as u64 * arch.chip_grid().0 as u64,
            arch.mesh.tiles_y as u64 * arch.chip_grid().1 as u64,
            arch.mesh.tiles_x as u64
                * arch.mesh.tiles_y as u64
                * arch.chip_grid().0 as u64
                * arch.chip_grid().1 as u64
        ),
        mesh_bytes(arch),
        "per-link and per-port router state",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Chip, CompileOptions, RunError, RunOptions, compile, compile_with_budget};

    fn small() -> NetworkSpec {
        NetworkSpec::from_toml_str(
            r#"
            dt_ms = 1.0
            [[populations]]
            name = "in"
            size = 4
            neuron = { model = "input" }
            [[populations]]
            name = "out"
            size = 4
            neuron = { model = "loihi_lif" }
            [[projections]]
            source = "in"
            target = "out"
            connectivity = { rule = "all_to_all" }
            weight = 10
            "#,
        )
        .unwrap()
    }

    fn huge_arch() -> ArchSpec {
        let mut arch = ArchSpec::preset("loihi").unwrap();
        arch.mesh.tiles_x = 46_340;
        arch.mesh.tiles_y = 46_340;
        arch.mesh.cores_per_tile = 1;
        arch
    }

    #[test]
    fn a_huge_mesh_is_refused_when_loading_not_when_compiling() {
        let arch = huge_arch();
        assert!(arch.validate().is_ok());
        // 46340^2 tiles x (4 links x 69 bytes + 36 bytes per port).
        assert_eq!(mesh_bytes(&arch), 2_147_395_600 * (4 * 69 + 36) + 36);
        let prog = compile(&small(), &arch).unwrap();
        let err = Chip::with_budget(&prog, MemoryBudget::limit(64 << 30)).unwrap_err();
        let RunError::Memory(e) = &err else {
            panic!("{err}")
        };
        assert_eq!(e.needed_bytes, mesh_bytes(&arch));
        assert!(err.to_string().contains("46340 x 46340 mesh"), "{err}");
    }

    #[test]
    fn a_run_of_2_pow_64_steps_is_refused_up_front() {
        let prog = compile(&small(), &ArchSpec::preset("loihi").unwrap()).unwrap();
        let mut chip = Chip::new(&prog).unwrap();
        for trace in [false, true] {
            let err = chip
                .run(
                    u64::MAX,
                    &RunOptions {
                        trace,
                        ..Default::default()
                    },
                )
                .unwrap_err();
            assert!(
                err.to_string()
                    .starts_with("a chip run of 18446744073709551615 steps needs about 16.0 EiB"),
                "{err}"
            );
        }
        // A tight budget refuses long traced runs; the chip still runs short ones.
        let mut chip = Chip::with_budget(&prog, MemoryBudget::limit(10 << 20)).unwrap();
        assert!(
            chip.run(
                1_000_000,
                &RunOptions {
                    trace: true,
                    ..Default::default()
                }
            )
            .is_err()
        );
        assert_eq!(
            chip.run(10, &RunOptions::default())
                .unwrap()
                .counts
                .barriers,
            10
        );
    }

    #[test]
    fn compiling_checks_the_budget_before_expanding() {
        let spec = snn_core::models::cuba(4000, 1);
        let arch = ArchSpec::preset("loihi").unwrap();
        let e = ChipMemory::estimate(&spec, &arch);
        assert!(e.compile_bytes > e.network.synapse_storage_bytes());
        let err = compile_with_budget(
            &spec,
            &arch,
            &CompileOptions::default(),
            &MemoryBudget::limit(1 << 20),
        )
        .unwrap_err();
        assert!(matches!(err, crate::MapError::Memory(_)), "{err}");
        // The estimate bounds what the program actually holds (cuba does not fit Loihi's
        // limits, so compile a small network).
        let prog = compile(&small(), &arch).unwrap();
        let e = ChipMemory::estimate(&small(), &arch);
        assert!(e.program_bytes >= prog.memory_bytes() as u64);
    }
}
