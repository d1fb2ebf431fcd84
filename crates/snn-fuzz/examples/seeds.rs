//! Writes every target's seed inputs and regression corpus into `DIR/<target>/` (the starting
//! corpus of a libFuzzer run): `cargo run -p snn-fuzz --example seeds -- DIR`.

use std::path::PathBuf;

fn main() {
    let Some(dir) = std::env::args().nth(1).map(PathBuf::from) else {
        eprintln!("usage: seeds DIR");
        std::process::exit(2);
    };
    for t in snn_fuzz::TARGETS {
        let d = dir.join(t.name);
        if let Err(e) = std::fs::create_dir_all(&d) {
            eprintln!("error: cannot create {}: {e}", d.display());
            std::process::exit(1);
        }
        let corpus = std::fs::read_dir(snn_fuzz::corpus_dir(t.name))
            .into_iter()
            .flatten()
            .filter_map(|e| std::fs::read(e.ok()?.path()).ok());
        for (i, bytes) in (t.seeds)().into_iter().chain(corpus).enumerate() {
            let p = d.join(format!("seed-{i}"));
            if let Err(e) = std::fs::write(&p, bytes) {
                eprintln!("error: cannot write {}: {e}", p.display());
                std::process::exit(1);
            }
        }
    }
}
