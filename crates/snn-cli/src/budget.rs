//! `--max-memory SIZE`: the memory budget of the commands that allocate in proportion to their
//! input. Without it the budget is what the machine has available (`/proc/meminfo`).

use snn_types::budget::{MemoryBudget, parse_size};

/// Clap parser of `--max-memory`: `512M`, `8G`, `1.5GiB` or a byte count (a bad size is a
/// usage error, exit 2).
pub fn parse_max_memory(s: &str) -> Result<u64, String> {
    parse_size(s).map_err(|e| e.to_string())
}

/// The budget for a command: the user's `--max-memory`, else the machine's available memory;
/// refusals say how to change it.
pub fn budget(max_memory: Option<u64>) -> MemoryBudget {
    match max_memory {
        Some(b) => MemoryBudget::limit(b)
            .with_hint("set by --max-memory")
            .within_process_limit(),
        None => MemoryBudget::system().with_hint("set --max-memory to change the limit"),
    }
}
