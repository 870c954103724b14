//! One process at a time changes the configuration: an advisory lock on `<data dir>/lock`, taken by each
//! transaction (sign-in, channel selection, sign-out, token regeneration, recovery) and around the ini writes of
//! Set Domain and Preferences. Token directories can be shared between users (one `BINSTAR_CONFIG_DIR` for
//! several HOMEs), so each existing one is locked too (an advisory lock on the directory itself). A second process
//! waits briefly, then gets a clear error.
//!
//! On Windows the lock file is locked with `LockFileEx` (std's `File::try_lock`), which, unlike the advisory Unix
//! lock, is mandatory for the locked range; the file holds no data, so nothing else is affected. Directories are
//! not locked there (a directory opens as a file only with backup semantics, and byte-range locks are for files),
//! so a token directory shared between Windows accounts through `BINSTAR_CONFIG_DIR` is not guarded against two
//! users' conda-connect at once; Windows profiles keep these folders per user, so that takes a deliberate setup.

use std::fs::File;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::engine::error::{Error, Result};
use crate::engine::files;

/// Held while changing files; released on drop.
#[derive(Debug)]
pub struct ConfigLock {
    _files: Vec<File>,
}

fn wait_for(file: &File, path: &Path, wait: Duration) -> Result<()> {
    let start = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(()),
            Err(std::fs::TryLockError::WouldBlock) if start.elapsed() < wait => {
                std::thread::sleep(Duration::from_millis(25));
            }
            Err(std::fs::TryLockError::WouldBlock) => return Err(Error::Locked),
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(path, &e)),
        }
    }
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
        wait_for(&file, path, wait)?;
        Ok(ConfigLock { _files: vec![file] })
    }

    /// Also lock each existing directory of `dirs` (in a fixed order, so that two processes never deadlock).
    pub fn with_dirs(mut self, dirs: &[std::path::PathBuf], wait: Duration) -> Result<ConfigLock> {
        #[cfg(unix)]
        {
            // one lock per real folder: two paths may name the same one (a link between the binstar folders)
            let mut sorted: Vec<std::path::PathBuf> = dirs
                .iter()
                .filter(|d| d.is_dir())
                .filter_map(|d| std::fs::canonicalize(d).ok())
                .collect();
            sorted.sort();
            sorted.dedup();
            for dir in sorted {
                let Ok(file) = File::open(&dir) else { continue };
                wait_for(&file, &dir, wait)?;
                self._files.push(file);
            }
        }
        #[cfg(not(unix))]
        let _ = (dirs, wait, &mut self);
        Ok(self)
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

    #[cfg(unix)]
    #[test]
    fn a_shared_directory_is_locked_across_homes() {
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("binstar");
        std::fs::create_dir(&shared).unwrap();
        let dirs = vec![shared.clone(), dir.path().join("absent")];
        let first = ConfigLock::acquire(&dir.path().join("a/lock"), Duration::ZERO)
            .unwrap()
            .with_dirs(&dirs, Duration::ZERO)
            .unwrap();
        let second = ConfigLock::acquire(&dir.path().join("b/lock"), Duration::ZERO).unwrap();
        assert_eq!(
            second
                .with_dirs(&dirs, Duration::from_millis(50))
                .unwrap_err(),
            Error::Locked
        );
        drop(first);
        ConfigLock::acquire(&dir.path().join("b/lock"), Duration::ZERO)
            .unwrap()
            .with_dirs(&dirs, Duration::ZERO)
            .unwrap();
        // a link to the same folder is the same folder: no lock against itself
        let link = dir.path().join("binstar-link");
        std::os::unix::fs::symlink(&shared, &link).unwrap();
        ConfigLock::acquire(&dir.path().join("c/lock"), Duration::ZERO)
            .unwrap()
            .with_dirs(&[shared.clone(), link], Duration::ZERO)
            .unwrap();
    }
}
