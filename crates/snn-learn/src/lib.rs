//! # snn-learn (skeleton)
//!
//! **Status: not implemented yet.** This crate will hold surrogate-gradient training (BPTT through
//! dense and recurrent LIF layers, losses, optimisers, datasets, checkpoints, export to a
//! `NetworkSpec`) and STDP rules that plug into `snn-core`'s `Plasticity` hook. Tracked by the
//! "Surrogate-gradient training" and "STDP and unsupervised learning" issues; until then it
//! exports nothing.
#![warn(missing_docs)]
