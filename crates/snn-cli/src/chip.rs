//! `snn chip` (being written: see the neuromorphic chip model issue).

use anyhow::{Result, bail};

/// Arguments of `snn chip`.
#[derive(clap::Args)]
pub struct ChipArgs {}

/// Runs `snn chip`.
pub fn run(_a: ChipArgs) -> Result<()> {
    bail!("snn chip is not available yet")
}
