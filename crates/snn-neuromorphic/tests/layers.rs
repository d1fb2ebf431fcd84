//! The layering rule: the chip model builds on `snn-core`'s building blocks (connectivity,
//! streams, initial state, stimulus schedules, the fixed-point LIF) and never on the engine's
//! scheduler. This reads the crate's library sources (test modules excluded) and fails if they
//! name the scheduler.

use std::path::Path;

fn sources(dir: &Path, out: &mut Vec<(String, String)>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            let text = std::fs::read_to_string(&p).unwrap();
            // Library code only: unit tests may compare against the engine.
            let lib = text.split("#[cfg(test)]").next().unwrap_or("").to_string();
            out.push((p.display().to_string(), lib));
        }
    }
}

#[test]
fn the_chip_uses_building_blocks_never_the_scheduler() {
    let mut files = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    assert!(files.len() > 5, "sources found: {}", files.len());
    let forbidden = [
        "snn_core::Network",
        "snn_core::simulate",
        "snn_core::Plasticity",
        "snn_core::plasticity",
        "snn_core::record",
        "snn_core::{Network",
        "Network::build",
    ];
    let mut uses_blocks = false;
    for (path, text) in &files {
        for f in forbidden {
            assert!(
                !text.contains(f),
                "{path} uses the engine's scheduler ({f})"
            );
        }
        uses_blocks |= text.contains("snn_core::connect") && text.contains("expand_projection");
    }
    assert!(
        uses_blocks,
        "the chip no longer expands connectivity with snn-core's building block"
    );
}
