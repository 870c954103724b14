//! Atomic file operations: every write is temp file + fsync + rename + fsync of the directory, so a crash leaves
//! either the old or the new content, never a torn file.

use std::fs;
use std::io::Write;
use std::path::Path;

use crate::engine::error::{Error, Result};

/// Read a file; `Ok(None)` when it does not exist.
pub fn read_optional(path: &Path) -> Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, &e)),
    }
}

/// Create a directory (and parents) that conda-connect owns, mode 0700 on Unix.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|e| Error::io(dir, &e))
}

/// Replace `path` with `content` atomically. `mode` sets the permission bits (Unix); `None` keeps the mode of the
/// file being replaced (or the umask default for a new file). Missing parent directories are created 0700.
pub fn write_atomic(path: &Path, content: &[u8], mode: Option<u32>) -> Result<()> {
    let dir = path.parent().ok_or_else(|| Error::Io {
        path: path.display().to_string(),
        detail: "it has no parent directory".into(),
    })?;
    create_private_dir(dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".conda-connect-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, &e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let bits = match mode {
            Some(bits) => Some(bits),
            None => fs::metadata(path)
                .ok()
                .map(|m| m.permissions().mode() & 0o7777)
                .or(Some(0o644)),
        };
        if let Some(bits) = bits {
            fs::set_permissions(tmp.path(), fs::Permissions::from_mode(bits))
                .map_err(|e| Error::io(path, &e))?;
        }
    }
    #[cfg(not(unix))]
    let _ = mode;
    tmp.write_all(content).map_err(|e| Error::io(path, &e))?;
    tmp.as_file().sync_all().map_err(|e| Error::io(path, &e))?;
    tmp.persist(path).map_err(|e| Error::io(path, &e.error))?;
    sync_dir(dir);
    Ok(())
}

/// Remove a file if it exists (and fsync its directory).
pub fn remove_if_exists(path: &Path) -> Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => {
            if let Some(dir) = path.parent() {
                sync_dir(dir);
            }
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io(path, &e)),
    }
}

fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// Remove temp files a killed process left between writing and renaming (`.conda-connect-*.tmp`) in `dirs`.
/// Call only while holding the configuration lock: then no other conda-connect is mid-write there.
pub fn sweep_temp_files<'a>(dirs: impl IntoIterator<Item = &'a Path>) -> usize {
    let mut removed = 0;
    for dir in dirs {
        let Ok(entries) = fs::read_dir(dir) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(".conda-connect-")
                && name.ends_with(".tmp")
                && fs::remove_file(e.path()).is_ok()
            {
                tracing::info!(path = %e.path().display(), "removed a temp file left by an interrupted write");
                removed += 1;
            }
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_keeps_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a/b/file");
        write_atomic(&p, b"one", Some(0o600)).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"one");
        write_atomic(&p, b"two", None).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600
            );
            assert_eq!(
                fs::metadata(p.parent().unwrap())
                    .unwrap()
                    .permissions()
                    .mode()
                    & 0o777,
                0o700
            );
        }
        let leftovers: Vec<_> = fs::read_dir(p.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temp files left behind");
        assert!(remove_if_exists(&p).unwrap());
        assert!(!remove_if_exists(&p).unwrap());
        assert_eq!(read_optional(&p).unwrap(), None);
    }
}
