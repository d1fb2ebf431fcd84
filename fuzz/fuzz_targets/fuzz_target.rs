//! One libFuzzer binary for every target of `snn-fuzz`: the target's name comes from the
//! `SNN_FUZZ_TARGET` environment variable (set by `cargo xtask fuzz --engine libfuzzer`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    static TARGET: std::sync::OnceLock<&'static snn_fuzz::Target> = std::sync::OnceLock::new();
    let t = TARGET.get_or_init(|| {
        let name = std::env::var("SNN_FUZZ_TARGET").unwrap_or_else(|_| "spec_toml".into());
        snn_fuzz::target(&name).unwrap_or_else(|| panic!("SNN_FUZZ_TARGET={name}: no such target"))
    });
    (t.run)(data);
});
