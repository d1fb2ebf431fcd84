//! Output paths, checked right after parsing and before any long work: every file a command will
//! write can be written (its directory exists and is writable, it is not a directory), none is
//! one of the command's inputs, no two outputs are the same file, and none is `-` (standard
//! output is not an output of these flags). A problem is a usage error
//! (exit code 2) naming the flag and the path. The checks are `snn_types::file::check_output`
//! and `snn_types::file::same_target`.

use std::path::Path;

use anyhow::Result;

use crate::usage::usage;

/// An input file of a command, and the output flags allowed to replace it (`snn train --resume
/// m.ckpt --out m.ckpt` continues a run in place: the input is read whole before any write).
pub struct Input<'a> {
    /// The input, if given.
    pub path: Option<&'a Path>,
    /// Output flags that may write over it.
    pub replaced_by: &'a [&'a str],
}

impl<'a> Input<'a> {
    /// An input no output may replace.
    pub fn new(path: Option<&'a Path>) -> Self {
        Input {
            path,
            replaced_by: &[],
        }
    }
}

/// Checks each given output `(flag, path)` against the rules above.
pub fn check(outputs: &[(&str, Option<&Path>)], inputs: &[Input<'_>]) -> Result<()> {
    let given: Vec<(&str, &Path)> = outputs
        .iter()
        .filter_map(|&(flag, p)| p.map(|p| (flag, p)))
        .collect();
    for (i, &(flag, path)) in given.iter().enumerate() {
        if path == Path::new("-") {
            // `-` conventionally means standard output, which these outputs do not support; a
            // file named `-` in the working directory is never what was meant.
            return Err(usage(format!(
                "{flag} -: writing to standard output is not supported; give a file name"
            )));
        }
        let ins: Vec<&Path> = inputs
            .iter()
            .filter(|x| !x.replaced_by.contains(&flag))
            .filter_map(|x| x.path)
            .collect();
        snn_types::file::check_output(path, &ins).map_err(|e| usage(format!("{flag} {e}")))?;
        if let Some(&(first, p)) = given[..i]
            .iter()
            .find(|(_, p)| snn_types::file::same_target(p, path))
        {
            return Err(usage(format!(
                "{flag} {}: same file as {first} {}",
                path.display(),
                p.display()
            )));
        }
    }
    Ok(())
}

/// True when `path` ends in `.ext` (any case).
fn has_extension(path: &Path, ext: &str) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case(ext))
}

/// Checks a network spec output named by `flag`: its name must end in `.toml` or `.json` (any
/// case), the format written. Anything else (`net.yaml`, `net.nir`, no extension) used to get
/// TOML whatever its name, and a `.nir` name then failed to load as NIR. Returns true for JSON.
pub fn spec_output_is_json(flag: &str, path: &Path) -> Result<bool> {
    if has_extension(path, "json") {
        Ok(true)
    } else if has_extension(path, "toml") {
        Ok(false)
    } else if has_extension(path, "nir") {
        Err(usage(format!(
            "{flag} {}: the spec is written as TOML or JSON; name it .toml or .json (a NIR file \
             comes from `snn nir export`)",
            path.display()
        )))
    } else {
        Err(usage(format!(
            "{flag} {}: the file name must end in .toml or .json",
            path.display()
        )))
    }
}

/// Checks a NIR output named by `flag`: its name must end in `.nir` (any case), as every
/// command that reads a spec recognises a NIR file by that extension.
pub fn nir_output(flag: &str, path: &Path) -> Result<()> {
    if has_extension(path, "nir") {
        Ok(())
    } else {
        Err(usage(format!(
            "{flag} {}: the file name must end in .nir (commands recognise NIR files by that \
             extension; a spec in TOML or JSON comes from `snn nir import`)",
            path.display()
        )))
    }
}
