//! `snn encode` (being written: see the spike-encoding issue).

use anyhow::{Result, bail};

/// Arguments of `snn encode`.
#[derive(clap::Args)]
pub struct EncodeArgs {}

/// Runs `snn encode`.
pub fn run(_a: EncodeArgs) -> Result<()> {
    bail!("snn encode is not available yet")
}
