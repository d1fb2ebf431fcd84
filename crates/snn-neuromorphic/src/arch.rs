//! Architecture descriptions as data: [`ArchSpec`], its TOML form, validation and the presets.
//!
//! Every figure a chip publishes is a number here; every figure it does not publish is an
//! `Option` left `None`. The model never invents one: where it needs a value that is `None` it
//! uses a documented neutral assumption (usually "not modelled", i.e. zero cost or no limit) and
//! [`ArchSpec::assumptions`] lists each one so that reports can say which were used.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::ArchError;

/// Loihi 1 as published (Davies et al., IEEE Micro 38(1), 2018), built in.
pub const LOIHI_TOML: &str = include_str!("../presets/loihi.toml");
/// A TrueNorth-like chip (Merolla et al., Science 345, 2014; Akopyan et al., IEEE TCAD 2015),
/// built in.
pub const TRUENORTH_TOML: &str = include_str!("../presets/truenorth.toml");
/// A Nahuku board: 32 Loihi 1 chips (Davies et al. 2018/2021; Intel's Nahuku and Pohoiki
/// Beach descriptions), built in.
pub const LOIHI_NAHUKU_TOML: &str = include_str!("../presets/loihi_nahuku.toml");
/// An NS16e-like system: 16 TrueNorth chips in a 4x4 array (Merolla et al. 2014; Sawada et
/// al., SC 2016), built in.
pub const TRUENORTH_NS16E_TOML: &str = include_str!("../presets/truenorth_ns16e.toml");

/// A whole chip: mesh, per-core limits, network-on-chip, unit costs and static power.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchSpec {
    /// Short name (`loihi`, `truenorth`, ...).
    pub name: String,
    /// One line on what the spec models and where its numbers come from.
    #[serde(default)]
    pub description: String,
    /// The mesh of tiles.
    pub mesh: MeshSpec,
    /// Per-core resources and limits.
    pub core: CoreSpec,
    /// The network-on-chip.
    pub noc: NocSpec,
    /// Energy per operation (pJ).
    pub energy_pj: OpCosts,
    /// Latency per operation (ns).
    pub latency_ns: OpCosts,
    /// Barrier synchronisation and timestep.
    pub timestep: TimestepSpec,
    /// Static (leakage) power.
    #[serde(default)]
    pub power: PowerSpec,
    /// Modelling choices that are not hardware figures.
    #[serde(default)]
    pub model: ModelOptions,
    /// A system of several chips (`None`: one chip). Every other section describes one chip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<SystemSpec>,
}

/// A system of identical chips connected by chip-to-chip links in a 2-D mesh
/// (`chips_x * chips_y`, e.g. a board). The chips' meshes join into one system mesh of
/// `chips_x * tiles_x` by `chips_y * tiles_y` tiles with dimension-order routing; a hop that
/// crosses from one chip to its neighbour takes a chip-to-chip link instead of a tile hop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemSpec {
    /// Chips along X (east-west).
    pub chips_x: u32,
    /// Chips along Y (north-south).
    pub chips_y: u32,
    /// Latency of one chip-to-chip link hop (ns). `None`: unstated; the model assumes the
    /// on-chip tile hop latency of the same direction.
    #[serde(default)]
    pub link_latency_ns: Option<f64>,
    /// Energy of one packet over one chip-to-chip link (pJ). `None`: unstated; the model assumes
    /// the on-chip tile hop energy of the same direction.
    #[serde(default)]
    pub link_energy_pj: Option<f64>,
    /// Time a chip-to-chip link needs per packet (ns; the inverse of its throughput). `None`:
    /// unstated; as an on-chip link (`noc.flit_ns` per flit).
    #[serde(default)]
    pub link_packet_ns: Option<f64>,
    /// Extra latency of the barrier across chips (ns), added to the chip barrier of every step
    /// in which more than one chip is in use. `None`: unstated; the model assumes a token
    /// crossing the chip mesh and back: `2 * (chips_x + chips_y - 2)` link hops at the link
    /// latency.
    #[serde(default)]
    pub barrier_ns: Option<f64>,
}

/// The mesh: `tiles_x * tiles_y` tiles, each with a router and `cores_per_tile` cores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeshSpec {
    /// Tiles along X (east-west).
    pub tiles_x: u32,
    /// Tiles along Y (north-south).
    pub tiles_y: u32,
    /// Cores sharing each tile's router.
    pub cores_per_tile: u32,
    /// Tile `[x, y]` where off-chip input spikes (input populations) enter the mesh. `None`:
    /// unstated; the model assumes `[0, 0]`.
    #[serde(default)]
    pub host_tile: Option<[u32; 2]>,
}

/// Per-core resources and limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoreSpec {
    /// Neuron compartments per core.
    pub compartments: u32,
    /// Synaptic memory per core (bits).
    pub synaptic_memory_bits: u64,
    /// Input-axon table entries per core (distinct source neurons that may target the core).
    pub input_axons: u32,
    /// Fan-out (output axon) table entries per core: one per (neuron on the core, destination
    /// core) pair.
    pub fanout_entries: u32,
    /// Weight magnitude bits (8: mixed sign range `[-256, 255]`, excitatory `[0, 255]`,
    /// inhibitory `[-255, 0]`).
    pub weight_bits: u32,
    /// Largest per-projection weight exponent (`weight = mantissa << weight_exp`).
    #[serde(default)]
    pub max_weight_exp: u32,
    /// Bits of the per-synapse delay field (delays `1..=2^bits - 1` steps). `None`: unstated; no
    /// delay limit is checked.
    #[serde(default)]
    pub delay_bits: Option<u32>,
    /// Synaptic-memory bits one synapse occupies. `None`: unstated; the model assumes weight bits
    /// + 1 sign bit + the delay bits the network needs + the bits of a compartment index.
    #[serde(default)]
    pub synapse_bits: Option<u32>,
    /// Most destination cores one neuron may send to. `None`: limited only by the fan-out table.
    #[serde(default)]
    pub max_fanout_cores_per_neuron: Option<u32>,
    /// Distinct weight values one neuron may receive (TrueNorth's axon types). `None`: no limit.
    #[serde(default)]
    pub axon_types: Option<u32>,
    /// How a core stores the weights of `conv2d` and `pool2d` projections (see
    /// [`ConvWeights`]). `None`: unstated; the model assumes [`ConvWeights::PerSynapse`] (every
    /// synapse of the expanded projection occupies synaptic memory, as any other synapse) and
    /// says so in [`ArchSpec::assumptions`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conv_weights: Option<ConvWeights>,
}

/// How a core stores the weights of convolution (`conv2d`) and pooling (`pool2d`) projections.
///
/// * `per_synapse`: the projection is expanded into its synapses and each one takes
///   [`CoreSpec::synapse_bits`] of the core's synaptic memory, like any other synapse. This is
///   how Loihi 1 stores connectivity as published (Davies et al., IEEE Micro 2018: per-core
///   synaptic memory holding compressed synapse lists; no weight sharing between synapses).
/// * `shared`: a core that holds targets of a conv projection stores the kernel slice those
///   targets need once — the kernel weights of the output channels present on the core
///   (`channels x C_in/groups x kh x kw` weights of `weight_bits + 1` sign bit each) — and no
///   per-synapse entry; connectivity follows from the geometry. Shared (convolutional) weight
///   storage is a Loihi 2 feature (Intel, "Taking Neuromorphic Computing to the Next Level with
///   Loihi 2", technology brief, 2021); its encoding is not published, so this count is an
///   assumption of the model, listed by [`ArchSpec::assumptions`].
///
/// Either way, input axons and fan-out entries are counted by the actual (source neuron,
/// destination core) pairs, and the spikes are the same: only synaptic-memory accounting (and
/// therefore placement, when synaptic memory is the binding limit) changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConvWeights {
    /// Every expanded synapse is stored (Loihi 1).
    #[default]
    PerSynapse,
    /// Each core stores the kernel slice of its output channels once (Loihi 2-like).
    Shared,
}

impl ConvWeights {
    /// `per_synapse` or `shared`, as in the TOML.
    pub fn name(self) -> &'static str {
        match self {
            ConvWeights::PerSynapse => "per_synapse",
            ConvWeights::Shared => "shared",
        }
    }
}

/// A cost that differs by mesh direction.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirCost {
    /// Along X (east-west).
    pub east_west: f64,
    /// Along Y (north-south).
    pub north_south: f64,
}

/// The network-on-chip: a 2-D mesh with dimension-order (X then Y) routing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NocSpec {
    /// Latency of one tile-to-tile hop (ns). `None`: unstated; hops take no time.
    #[serde(default)]
    pub hop_latency_ns: Option<DirCost>,
    /// Energy of one tile-to-tile hop (pJ). `None`: unstated; hops cost nothing.
    #[serde(default)]
    pub hop_energy_pj: Option<DirCost>,
    /// Link width (bits per flit). `None`: unstated; a spike packet is assumed to be one flit.
    #[serde(default)]
    pub link_width_bits: Option<u32>,
    /// Spike packet size (bits). `None`: unstated; one flit.
    #[serde(default)]
    pub packet_bits: Option<u32>,
    /// Time a link needs per flit (ns), i.e. the inverse of its throughput. `None`: unstated; a
    /// link is assumed to carry one flit per hop latency (no pipelining along a link).
    #[serde(default)]
    pub flit_ns: Option<f64>,
    /// Input buffer depth of a router port (packets). `None`: unstated; the model assumes 4.
    #[serde(default)]
    pub router_buffer_depth: Option<u32>,
}

/// Per-operation unit costs, used twice: energies (pJ) and latencies (ns). `None` means
/// unstated: the operation is assumed free (its cost is folded into another figure).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpCosts {
    /// One synaptic operation (a synapse read and its dendritic accumulation).
    #[serde(default)]
    pub synaptic_op: Option<f64>,
    /// Update of a neuron that received input or spiked this step.
    #[serde(default)]
    pub neuron_update_active: Option<f64>,
    /// Update of a neuron with state but no input this step (decay only).
    #[serde(default)]
    pub neuron_update_inactive: Option<f64>,
    /// A neuron's spike leaving its soma (the axon/fan-out table look-up).
    #[serde(default)]
    pub spike_out: Option<f64>,
    /// A packet leaving a core into its tile's router (a spike sent within the tile).
    #[serde(default)]
    pub packet_out: Option<f64>,
    /// A packet entering a core (input-axon look-up).
    #[serde(default)]
    pub packet_in: Option<f64>,
}

/// A point of the barrier-latency table.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BarrierPoint {
    /// Tiles in use (or cores in use, when [`TimestepSpec::barrier_by`] is `cores`).
    pub tiles: u32,
    /// Barrier latency (ns).
    pub latency_ns: f64,
}

/// How timesteps end.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimestepSpec {
    /// Barrier latency as a table against tiles in use (or cores, see
    /// [`barrier_by`](Self::barrier_by)), sorted by strictly increasing count: a count in the
    /// table takes its entry; between two entries the latency is interpolated linearly; outside
    /// the table the nearest entry holds. Two points give the linear model; more points give a
    /// published table. Empty: unstated; barriers take no time.
    #[serde(default)]
    pub barrier: Vec<BarrierPoint>,
    /// What the barrier table is indexed by: `tiles` (the default, as Davies et al. 2018
    /// publish Loihi's figures) or `cores` (the `tiles` field of each point then counts cores in
    /// use).
    #[serde(default, skip_serializing_if = "BarrierBy::is_tiles")]
    pub barrier_by: BarrierBy,
    /// Energy of one barrier (pJ). `None`: unstated; free.
    #[serde(default)]
    pub barrier_energy_pj: Option<f64>,
    /// Fixed length of a timestep (ns), for chips with a global tick (TrueNorth: 1 ms). A step
    /// lasts the larger of this and its computed time. `None`: steps end at the barrier.
    #[serde(default)]
    pub tick_ns: Option<f64>,
}

/// What a barrier table is indexed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BarrierBy {
    /// Tiles in use.
    #[default]
    Tiles,
    /// Cores in use.
    Cores,
}

impl BarrierBy {
    fn is_tiles(&self) -> bool {
        *self == BarrierBy::Tiles
    }
}

/// Static power.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PowerSpec {
    /// Static (leakage) power of the whole chip (mW). `None`: unstated; static energy is not
    /// modelled (0).
    #[serde(default)]
    pub static_mw: Option<f64>,
}

/// Modelling choices (not hardware figures).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelOptions {
    /// Skip neurons whose state is zero, that have no bias (population or current stimulus) and no input this step: they cost no
    /// time and no energy (event-driven accounting). `false` charges every placed neuron an
    /// update every step.
    #[serde(default = "yes")]
    pub skip_idle_neurons: bool,
    /// The energy class a neuron's spike-out event (`energy_pj.spike_out`, the axon / fan-out
    /// look-up) is reported in: `network` (the default: with packets, hops and barriers) or
    /// `neuron` (with the neuron updates, as simulators that charge spike generation to the
    /// soma do). Only the split between classes changes, never the total.
    #[serde(default)]
    pub spike_out_class: ChargeClass,
}

/// An energy class of the report that an event can be charged to (see
/// [`ModelOptions::spike_out_class`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChargeClass {
    /// The network class (spikes, packets, hops, barriers).
    #[default]
    Network,
    /// The neuron class (neuron updates).
    Neuron,
}

impl ChargeClass {
    /// `network` or `neuron`, as in the TOML.
    pub fn name(self) -> &'static str {
        match self {
            ChargeClass::Network => "network",
            ChargeClass::Neuron => "neuron",
        }
    }

    /// Parses `network` or `neuron`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "network" => Some(ChargeClass::Network),
            "neuron" => Some(ChargeClass::Neuron),
            _ => None,
        }
    }
}

fn yes() -> bool {
    true
}

impl Default for ModelOptions {
    fn default() -> Self {
        Self {
            skip_idle_neurons: true,
            spike_out_class: ChargeClass::Network,
        }
    }
}

/// Default router buffer depth when unstated.
pub const ASSUMED_BUFFER_DEPTH: u32 = 4;

/// Largest unit latency accepted (ns) for any event, hop, flit, barrier or tick: 1e6 ns (1 ms
/// per event, far beyond any real chip). The run model keeps time in integer picoseconds; with
/// this bound one event costs at most 1e9 ps, so a step of up to ~1.8e10 events fits in `u64`.
/// Sums that could still grow past `u64` saturate rather than wrap, so a larger cost never
/// yields a shorter modelled time.
pub const MAX_LATENCY_NS: f64 = 1e6;

impl OpCosts {
    fn names(&self) -> [(&'static str, Option<f64>); 6] {
        [
            ("synaptic_op", self.synaptic_op),
            ("neuron_update_active", self.neuron_update_active),
            ("neuron_update_inactive", self.neuron_update_inactive),
            ("spike_out", self.spike_out),
            ("packet_out", self.packet_out),
            ("packet_in", self.packet_in),
        ]
    }
}

impl ArchSpec {
    /// A built-in preset by name (`loihi`, `truenorth`, `loihi_nahuku`, `truenorth_ns16e`).
    pub fn preset(name: &str) -> Result<Self, ArchError> {
        let text = match name {
            "loihi" => LOIHI_TOML,
            "truenorth" => TRUENORTH_TOML,
            "loihi_nahuku" => LOIHI_NAHUKU_TOML,
            "truenorth_ns16e" => TRUENORTH_NS16E_TOML,
            other => {
                return Err(ArchError::UnknownPreset {
                    name: other.to_string(),
                });
            }
        };
        Self::from_toml_str(text, &format!("<preset {name}>"))
    }

    /// Names of the built-in presets.
    pub fn preset_names() -> &'static [&'static str] {
        &["loihi", "truenorth", "loihi_nahuku", "truenorth_ns16e"]
    }

    /// A preset name or a TOML file path.
    pub fn resolve(name_or_path: &str) -> Result<Self, ArchError> {
        let path = Path::new(name_or_path);
        if Self::preset_names().contains(&name_or_path) {
            Self::preset(name_or_path)
        } else if !path.exists()
            && path.extension().is_none()
            && path.parent() == Some(Path::new(""))
        {
            // A bare word that is neither a preset nor a file: most likely a misspelt preset.
            Err(ArchError::UnknownPreset {
                name: name_or_path.to_string(),
            })
        } else {
            Self::load(path)
        }
    }

    /// Reads, parses and validates an architecture file; errors name the file and the field.
    pub fn load(path: &Path) -> Result<Self, ArchError> {
        let text = snn_types::file::read_text(path).map_err(|e| ArchError::Io {
            path: path.display().to_string(),
            message: e.reason(),
        })?;
        Self::from_toml_str(&text, &path.display().to_string())
    }

    /// Parses and validates TOML text; `origin` names it in errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self, ArchError> {
        let spec: ArchSpec = toml::from_str(text).map_err(|e| {
            let mut message = e.to_string().trim_end().replace('\n', " ");
            // A network spec given where an architecture belongs: say so, not only which field
            // is unknown.
            if toml::from_str::<toml::Table>(text).is_ok_and(|t| {
                t.contains_key("populations") || t.contains_key("projections")
            }) {
                message.push_str(
                    " (this looks like a network spec, with `populations` and `projections`; an architecture has the sections [mesh], [core], [noc], [energy_pj], ...)",
                );
            }
            ArchError::Parse {
                origin: origin.to_string(),
                message,
            }
        })?;
        spec.validate().map_err(|issues| ArchError::Invalid {
            origin: origin.to_string(),
            issues,
        })?;
        Ok(spec)
    }

    /// Serialises to TOML.
    pub fn to_toml_string(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }

    /// Checks ranges; returns every problem as `field: message`.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut e = Vec::new();
        let mut pos_int = |name: &str, v: u64| {
            if v == 0 {
                e.push(format!("{name}: must be at least 1"));
            }
        };
        pos_int("mesh.tiles_x", self.mesh.tiles_x as u64);
        pos_int("mesh.tiles_y", self.mesh.tiles_y as u64);
        pos_int("mesh.cores_per_tile", self.mesh.cores_per_tile as u64);
        pos_int("core.compartments", self.core.compartments as u64);
        pos_int("core.synaptic_memory_bits", self.core.synaptic_memory_bits);
        pos_int("core.input_axons", self.core.input_axons as u64);
        pos_int("core.fanout_entries", self.core.fanout_entries as u64);
        if !(1..=15).contains(&self.core.weight_bits) {
            e.push(format!(
                "core.weight_bits: must be in 1..=15, got {}",
                self.core.weight_bits
            ));
        }
        if self.core.max_weight_exp > 16 {
            e.push(format!(
                "core.max_weight_exp: must be at most 16, got {}",
                self.core.max_weight_exp
            ));
        }
        if let Some(b) = self.core.delay_bits
            && !(1..=16).contains(&b)
        {
            e.push(format!("core.delay_bits: must be in 1..=16, got {b}"));
        }
        if self.core.synapse_bits == Some(0) {
            e.push("core.synapse_bits: must be at least 1".into());
        }
        if self.core.max_fanout_cores_per_neuron == Some(0) {
            e.push("core.max_fanout_cores_per_neuron: must be at least 1".into());
        }
        if self.core.axon_types == Some(0) {
            e.push("core.axon_types: must be at least 1".into());
        }
        let tiles = self.mesh.tiles_x as u64 * self.mesh.tiles_y as u64;
        if let Some(sys) = &self.system {
            if sys.chips_x == 0 || sys.chips_y == 0 {
                e.push("system.chips_x/chips_y: must be at least 1".into());
            }
            let cores = tiles
                .saturating_mul(self.mesh.cores_per_tile as u64)
                .saturating_mul(sys.chips_x as u64 * sys.chips_y as u64);
            if cores > u32::MAX as u64 / 2 {
                e.push("system: too many cores".into());
            }
        }
        if tiles * self.mesh.cores_per_tile as u64 > u32::MAX as u64 / 2 {
            e.push("mesh: too many cores".into());
        }
        if let Some([x, y]) = self.mesh.host_tile
            && (x >= self.mesh.tiles_x || y >= self.mesh.tiles_y)
        {
            e.push(format!(
                "mesh.host_tile: [{x}, {y}] is outside the {}x{} mesh",
                self.mesh.tiles_x, self.mesh.tiles_y
            ));
        }
        // Latencies also have an upper bound: the run model counts time in integer picoseconds
        // (u64), so that a step of millions of events at the largest unit cost still fits.
        let mut nonneg = |name: String, v: f64, max: f64| {
            if !v.is_finite() || v < 0.0 {
                e.push(format!("{name}: must be finite and >= 0, got {v}"));
            } else if v > max {
                // `{v:e}`: 1e308 in a few characters, not in 309 digits.
                e.push(format!("{name}: must be at most {max:e}, got {v:e}"));
            }
        };
        for (what, c, max) in [
            ("energy_pj", &self.energy_pj, f64::MAX),
            ("latency_ns", &self.latency_ns, MAX_LATENCY_NS),
        ] {
            for (n, v) in c.names() {
                if let Some(v) = v {
                    nonneg(format!("{what}.{n}"), v, max);
                }
            }
        }
        let lat = MAX_LATENCY_NS;
        if let Some(d) = self.noc.hop_latency_ns {
            nonneg("noc.hop_latency_ns.east_west".into(), d.east_west, lat);
            nonneg("noc.hop_latency_ns.north_south".into(), d.north_south, lat);
        }
        if let Some(d) = self.noc.hop_energy_pj {
            nonneg("noc.hop_energy_pj.east_west".into(), d.east_west, f64::MAX);
            nonneg(
                "noc.hop_energy_pj.north_south".into(),
                d.north_south,
                f64::MAX,
            );
        }
        if let Some(f) = self.noc.flit_ns {
            nonneg("noc.flit_ns".into(), f, lat);
        }
        for (i, b) in self.timestep.barrier.iter().enumerate() {
            nonneg(
                format!("timestep.barrier[{i}].latency_ns"),
                b.latency_ns,
                lat,
            );
        }
        if let Some(x) = self.timestep.barrier_energy_pj {
            nonneg("timestep.barrier_energy_pj".into(), x, f64::MAX);
        }
        if let Some(x) = self.timestep.tick_ns {
            nonneg("timestep.tick_ns".into(), x, lat);
        }
        if let Some(x) = self.power.static_mw {
            nonneg("power.static_mw".into(), x, f64::MAX);
        }
        if let Some(sys) = &self.system {
            if let Some(x) = sys.link_latency_ns {
                nonneg("system.link_latency_ns".into(), x, lat);
            }
            if let Some(x) = sys.link_packet_ns {
                nonneg("system.link_packet_ns".into(), x, lat);
            }
            if let Some(x) = sys.barrier_ns {
                nonneg("system.barrier_ns".into(), x, lat);
            }
            if let Some(x) = sys.link_energy_pj {
                nonneg("system.link_energy_pj".into(), x, f64::MAX);
            }
        }
        if self.noc.link_width_bits == Some(0) {
            e.push("noc.link_width_bits: must be at least 1".into());
        }
        if self.noc.packet_bits == Some(0) {
            e.push("noc.packet_bits: must be at least 1".into());
        }
        if self.noc.router_buffer_depth == Some(0) {
            e.push("noc.router_buffer_depth: must be at least 1".into());
        }
        if !self
            .timestep
            .barrier
            .windows(2)
            .all(|w| w[0].tiles < w[1].tiles)
        {
            e.push("timestep.barrier: points must be sorted by strictly increasing tiles".into());
        }
        for (i, p) in self.timestep.barrier.iter().enumerate() {
            if p.tiles == 0 {
                e.push(format!(
                    "timestep.barrier[{i}].tiles: must be at least 1 (a barrier spans the tiles, or cores, in use)"
                ));
            }
        }
        if e.is_empty() { Ok(()) } else { Err(e) }
    }

    /// Number of tiles (all chips).
    pub fn n_tiles(&self) -> u32 {
        self.mesh.tiles_x * self.mesh.tiles_y * self.n_chips()
    }

    /// Number of cores (all chips).
    pub fn n_cores(&self) -> u32 {
        self.n_tiles() * self.mesh.cores_per_tile
    }

    /// Number of chips (1 without a `[system]`).
    pub fn n_chips(&self) -> u32 {
        self.system.as_ref().map_or(1, |s| s.chips_x * s.chips_y)
    }

    /// `(chips_x, chips_y)` (`(1, 1)` without a `[system]`).
    pub fn chip_grid(&self) -> (u32, u32) {
        self.system
            .as_ref()
            .map_or((1, 1), |s| (s.chips_x, s.chips_y))
    }

    /// Cores of one chip.
    pub fn cores_per_chip(&self) -> u32 {
        self.mesh.tiles_x * self.mesh.tiles_y * self.mesh.cores_per_tile
    }

    /// The system mesh in tiles, `(x, y)`: the chips' meshes side by side.
    pub fn system_tiles(&self) -> (u32, u32) {
        let (cx, cy) = self.chip_grid();
        (self.mesh.tiles_x * cx, self.mesh.tiles_y * cy)
    }

    /// Chip-to-chip link latency (ns) per direction `[east_west, north_south]`: stated, or the
    /// on-chip hop latency (assumption).
    pub fn link_latency_ns(&self) -> [f64; 2] {
        let hop = self
            .noc
            .hop_latency_ns
            .map_or([0.0, 0.0], |h| [h.east_west, h.north_south]);
        match self.system.as_ref().and_then(|s| s.link_latency_ns) {
            Some(x) => [x, x],
            None => hop,
        }
    }

    /// Chip-to-chip link energy per packet (pJ) per direction: stated, or the on-chip hop
    /// energy (assumption).
    pub fn link_energy_pj(&self) -> [f64; 2] {
        let hop = self
            .noc
            .hop_energy_pj
            .map_or([0.0, 0.0], |h| [h.east_west, h.north_south]);
        match self.system.as_ref().and_then(|s| s.link_energy_pj) {
            Some(x) => [x, x],
            None => hop,
        }
    }

    /// Extra barrier latency across chips (ns) when `chips` chips are in use (0 for one chip).
    pub fn system_barrier_ns(&self, chips: u32) -> f64 {
        match &self.system {
            Some(s) if chips > 1 => s.barrier_ns.unwrap_or_else(|| {
                let l = self.link_latency_ns();
                2.0 * ((s.chips_x - 1) as f64 * l[0] + (s.chips_y - 1) as f64 * l[1])
            }),
            _ => 0.0,
        }
    }

    /// How conv and pool weights are stored (stated, or [`ConvWeights::PerSynapse`] when
    /// unstated).
    pub fn conv_weights(&self) -> ConvWeights {
        self.core.conv_weights.unwrap_or_default()
    }

    /// Router buffer depth used (stated or assumed).
    pub fn buffer_depth(&self) -> u32 {
        self.noc.router_buffer_depth.unwrap_or(ASSUMED_BUFFER_DEPTH)
    }

    /// Flits per spike packet (1 when either figure is unstated).
    pub fn flits_per_packet(&self) -> u32 {
        match (self.noc.packet_bits, self.noc.link_width_bits) {
            (Some(p), Some(w)) => p.div_ceil(w),
            _ => 1,
        }
    }

    /// Barrier latency (ns) when `tiles` tiles and `cores` cores are in use: the table looked
    /// up by whichever [`TimestepSpec::barrier_by`] says.
    pub fn barrier_ns_for(&self, tiles: u32, cores: u32) -> f64 {
        match self.timestep.barrier_by {
            BarrierBy::Tiles => self.barrier_ns(tiles),
            BarrierBy::Cores => self.barrier_ns(cores),
        }
    }

    /// Barrier latency (ns) from the table at count `tiles` (tiles in use, or cores in use for
    /// a table by cores): exact at a table entry, linear between entries, the nearest entry
    /// outside the table.
    pub fn barrier_ns(&self, tiles: u32) -> f64 {
        let pts = &self.timestep.barrier;
        match pts.len() {
            0 => 0.0,
            _ if tiles <= pts[0].tiles => pts[0].latency_ns,
            _ if tiles >= pts[pts.len() - 1].tiles => pts[pts.len() - 1].latency_ns,
            _ => {
                let i = pts.partition_point(|p| p.tiles <= tiles);
                let (a, b) = (pts[i - 1], pts[i]);
                let f = (tiles - a.tiles) as f64 / (b.tiles - a.tiles) as f64;
                a.latency_ns + f * (b.latency_ns - a.latency_ns)
            }
        }
    }

    /// Every figure the spec leaves unstated, with the assumption the model uses instead.
    pub fn assumptions(&self) -> Vec<String> {
        let mut a = Vec::new();
        if self.mesh.host_tile.is_none() {
            a.push("mesh.host_tile unstated: input spikes enter the mesh at tile [0, 0]".into());
        }
        if self.core.delay_bits.is_none() {
            a.push("core.delay_bits unstated: synaptic delays are not limited".into());
        }
        if self.core.synapse_bits.is_none() {
            a.push("core.synapse_bits unstated: a synapse is assumed to occupy weight bits + 1 sign bit + the delay bits the network needs + a compartment index".into());
        }
        match self.core.conv_weights {
            None => a.push("core.conv_weights unstated: conv and pool projections are stored expanded, one synapse entry per (source, target) pair".into()),
            Some(ConvWeights::Shared) => a.push(format!("core.conv_weights = shared: a core stores the kernel weights of the output channels it holds once ({} bits each: weight bits + 1 sign bit) and no per-synapse entry for conv and pool projections (the encoding is not published; this count is the model's)", self.core.weight_bits + 1)),
            Some(ConvWeights::PerSynapse) => {}
        }
        if self.noc.hop_latency_ns.is_none() {
            a.push("noc.hop_latency_ns unstated: hops take no time".into());
        }
        if self.noc.hop_energy_pj.is_none() {
            a.push("noc.hop_energy_pj unstated: hops cost no energy".into());
        }
        if self.noc.packet_bits.is_none() || self.noc.link_width_bits.is_none() {
            a.push("noc.packet_bits/link_width_bits unstated: a spike packet is one flit".into());
        }
        if self.noc.flit_ns.is_none() {
            a.push("noc.flit_ns unstated: a link carries one flit per hop latency (no pipelining along a link)".into());
        }
        if self.noc.router_buffer_depth.is_none() {
            a.push(format!(
                "noc.router_buffer_depth unstated: {ASSUMED_BUFFER_DEPTH} packets per input port"
            ));
        }
        for (what, unit, c) in [
            ("energy_pj", "no energy", &self.energy_pj),
            ("latency_ns", "no time", &self.latency_ns),
        ] {
            for (n, v) in c.names() {
                if v.is_none() {
                    a.push(format!("{what}.{n} unstated: costs {unit}"));
                }
            }
        }
        if self.timestep.barrier.is_empty() {
            a.push("timestep.barrier unstated: barriers take no time".into());
        } else if self.timestep.barrier.len() > 1 {
            let by = match self.timestep.barrier_by {
                BarrierBy::Tiles => "tiles",
                BarrierBy::Cores => "cores",
            };
            a.push(format!(
                "timestep.barrier: latency interpolated linearly in {by} between the table's points"
            ));
        }
        if self.timestep.barrier_energy_pj.is_none() {
            a.push("timestep.barrier_energy_pj unstated: barriers cost no energy".into());
        }
        if self.power.static_mw.is_none() {
            a.push("power.static_mw unstated: static energy is not modelled (0)".into());
        }
        if let Some(sys) = &self.system {
            if sys.link_latency_ns.is_none() {
                a.push("system.link_latency_ns unstated: a chip-to-chip hop takes an on-chip tile hop's latency".into());
            }
            if sys.link_energy_pj.is_none() {
                a.push("system.link_energy_pj unstated: a chip-to-chip hop costs an on-chip tile hop's energy".into());
            }
            if sys.link_packet_ns.is_none() {
                a.push("system.link_packet_ns unstated: a chip-to-chip link carries packets as fast as an on-chip link".into());
            }
            if sys.barrier_ns.is_none() {
                a.push("system.barrier_ns unstated: the barrier across chips adds a round trip over the chip mesh (2 x (chips_x + chips_y - 2) link hops) when more than one chip is in use".into());
            }
        }
        if self.model.skip_idle_neurons {
            a.push("model.skip_idle_neurons: neurons with zero state, no bias (population or stimulus) and no input are not updated and cost nothing".into());
        }
        a
    }
}
