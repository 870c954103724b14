//! Test hooks that only debug builds have (the test suite runs the debug binary): a release build reads none of
//! these variables, so nobody can make an installed conda-connect stop half-way or fail on purpose.
//!
//! * `CONDA_CONNECT_CRASH_AT=N` / `CONDA_CONNECT_PAUSE_AT=N` — abort, or announce and wait, at journal step N
//!   ([`crate::engine::journal::CrashPoint`], docs/design.md#33-crash-points).
//! * `CONDA_CONNECT_FAIL_IO_FROM=N` — every durable file operation from the N-th on fails with an I/O error, as a
//!   failing disk or a broken network file system would (a write, an fsync, a rename, a removal, a mode change).
//!   The tests run sign-in and sign-out with every N and check that each ends complete or undone
//!   (docs/design.md#34-commit-and-rollback).

use std::path::Path;

use crate::engine::error::Result;

/// The value of a test-hook variable (debug builds only; a release build has neither this nor the names).
#[cfg(debug_assertions)]
pub fn var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[cfg(debug_assertions)]
mod io_faults {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static FROM: OnceLock<Option<usize>> = OnceLock::new();
    static COUNT: AtomicUsize = AtomicUsize::new(0);

    /// `true` when this durable operation must fail.
    pub fn next_fails() -> bool {
        let from = *FROM.get_or_init(|| {
            super::var("CONDA_CONNECT_FAIL_IO_FROM").and_then(|v| v.trim().parse().ok())
        });
        match from {
            Some(from) => COUNT.fetch_add(1, Ordering::SeqCst) + 1 >= from,
            None => false,
        }
    }
}

/// Called before each durable file operation on `path`: the injected failure, when the hook asks for one.
pub fn io_fault(path: &Path) -> Result<()> {
    #[cfg(debug_assertions)]
    if io_faults::next_fails() {
        return Err(crate::engine::error::Error::Io {
            path: path.display().to_string(),
            detail: "input/output error".into(),
        });
    }
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn without_the_variable_nothing_fails() {
        // the suite never sets CONDA_CONNECT_FAIL_IO_FROM in its own process
        assert!(super::io_fault(std::path::Path::new("/x")).is_ok());
    }
}
