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
