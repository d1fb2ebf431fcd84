//! # snn-encode (skeleton)
//!
//! **Status: not implemented yet.** This crate will turn data into spike trains and back: rate
//! (Poisson, regular), temporal (time-to-first-spike, phase, burst), send-on-delta and population
//! (Gaussian receptive field) encoders, the matching decoders, and AER event-file reading. It
//! depends on `snn-types` only. Tracked by the "Spike encoding and decoding" issue; until then it
//! exports nothing, so nothing can mistake it for working code.
#![warn(missing_docs)]
