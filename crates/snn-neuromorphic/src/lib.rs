//! # snn-neuromorphic (skeleton)
//!
//! **Status: not implemented yet.** This crate will compile a `NetworkSpec` onto an architecture
//! described as data (`ArchSpec`: Loihi- and TrueNorth-like presets), simulate cores, the mesh
//! network-on-chip and barrier-synchronised timesteps, and report spikes, cycles, latency and
//! energy by operation. Tracked by the "neuromorphic chip model" issue; until then it exports
//! nothing. The integer LIF it will share with the engine already lives in `snn-core`.
#![warn(missing_docs)]
