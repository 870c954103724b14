//! One process at a time changes the configuration: an advisory lock on `<data dir>/lock`, held for the whole
//! command (GUI actions take it per transaction). A second process waits briefly, then gets a clear error.

use std::fs::File;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::engine::error::{Error, Result};
use crate::engine::files;

/// Held while changing files; released on drop.
#[derive(Debug)]
pub struct ConfigLock {
    _file: File,
}

impl ConfigLock {
    /// Take the lock, waiting up to `wait`.
    pub fn acquire(path: &Path, wait: Duration) -> Result<ConfigLock> {
        if let Some(dir) = path.parent() {
            files::create_private_dir(dir)?;
        }
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| Error::io(path, &e))?;
        let start = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(ConfigLock { _file: file }),
                Err(std::fs::TryLockError::WouldBlock) if start.elapsed() < wait => {
                    std::thread::sleep(Duration::from_millis(25));
                }
                Err(std::fs::TryLockError::WouldBlock) => return Err(Error::Locked),
                Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(path, &e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_then_admitted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let first = ConfigLock::acquire(&path, Duration::ZERO).unwrap();
        assert_eq!(
            ConfigLock::acquire(&path, Duration::from_millis(50)).unwrap_err(),
            Error::Locked
        );
        drop(first);
        ConfigLock::acquire(&path, Duration::ZERO).unwrap();
    }
}
