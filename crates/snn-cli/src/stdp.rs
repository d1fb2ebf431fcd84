//! `snn stdp` (being written: see the STDP issue).

use anyhow::{Result, bail};

/// Arguments of `snn stdp`.
#[derive(clap::Args)]
pub struct StdpArgs {}

/// Runs `snn stdp`.
pub fn run(_a: StdpArgs) -> Result<()> {
    bail!("snn stdp is not available yet")
}
