//! Writes exported files for a manual check with Python's `nir.read()` when
//! `SNN_NIR_EXPORT_DIR` is set (see `tests/data/README.md`); does nothing otherwise.

use std::path::Path;

use snn_types::NetworkSpec;

#[test]
fn write_exported_files_for_python() {
    let Ok(dir) = std::env::var("SNN_NIR_EXPORT_DIR") else {
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (src, out) in [
        ("tests/data/learn_dense.toml", "learn_dense.nir"),
        ("../../examples/conv_small.toml", "conv_small.nir"),
    ] {
        let spec = NetworkSpec::load(&root.join(src)).unwrap();
        snn_nir::export_file(&spec, &Path::new(&dir).join(out)).unwrap();
    }
}
