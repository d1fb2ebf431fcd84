//! Every fuzz target on its regression corpus and a bounded number of generated cases
//! (`SNN_FUZZ_CASES`, default 256; `SNN_FUZZ_SEED`, default 0). `cargo xtask fuzz` runs longer.

fn cases() -> u32 {
    std::env::var("SNN_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

fn seed() -> u64 {
    std::env::var("SNN_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn fnv(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &x| {
        (h ^ x as u64).wrapping_mul(0x100_0000_01b3)
    })
}

fn run(name: &str) {
    match snn_fuzz::fuzz(name, cases(), seed()) {
        Ok(r) => println!(
            "fuzz {}: {} corpus files, {} cases ({} accepted), no panic",
            r.target, r.corpus, r.cases, r.accepted
        ),
        Err(f) => {
            // Keep the input for the regression corpus.
            let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-failures");
            let _ = std::fs::create_dir_all(&dir);
            let path = dir.join(format!("{name}-{:016x}", fnv(&f.input)));
            let _ = std::fs::write(&path, &f.input);
            panic!("{f}\n(input saved to {})", path.display())
        }
    }
}

#[test]
fn every_target_has_seeds_that_are_accepted() {
    for t in snn_fuzz::TARGETS {
        let seeds = (t.seeds)();
        assert!(!seeds.is_empty(), "{} has no seed", t.name);
        for (i, s) in seeds.iter().enumerate() {
            assert!(
                (t.run)(s),
                "{}: seed {i} is rejected by its own parser",
                t.name
            );
        }
    }
}

macro_rules! targets {
    ($($name:ident),*) => {$(
        #[test]
        fn $name() {
            run(stringify!($name));
        }
    )*};
}

targets!(
    spec_toml,
    spec_json,
    arch_toml,
    checkpoint,
    checkpoint_body,
    stdp_weights,
    stdp_body,
    idx,
    nmnist,
    aer,
    nir,
    spike_csv
);
