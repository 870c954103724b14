//! Opening the index cache's own files defensively: never through a symbolic link, never blocking on a FIFO, only
//! regular files, and only up to a size. Anything else at a cache path (a directory, a FIFO, a link to `/dev/zero`)
//! is treated as "no cache" and removed before the cache is written again.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// Open `path` for reading if it is a regular file of at most `max_len` bytes (links are not followed).
pub(crate) fn open_regular(path: &Path, max_len: u64) -> Option<(File, u64)> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // O_NOFOLLOW: a symlink fails to open; O_NONBLOCK: opening a FIFO does not wait for a writer
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    #[cfg(not(unix))]
    if std::fs::symlink_metadata(path)
        .ok()?
        .file_type()
        .is_symlink()
    {
        return None;
    }
    let file = options.open(path).ok()?;
    let meta = file.metadata().ok()?;
    if !meta.file_type().is_file() || meta.len() > max_len {
        if meta.file_type().is_file() {
            tracing::debug!(path = %path.display(), len = meta.len(), "cache file too large; ignored");
        }
        return None;
    }
    Some((file, meta.len()))
}

/// The whole of a small regular file (see [`open_regular`]).
pub(crate) fn read_small(path: &Path, max_len: u64) -> Option<Vec<u8>> {
    let (file, len) = open_regular(path, max_len)?;
    let mut out = Vec::with_capacity(len as usize);
    // `take`: the file may grow between fstat and read
    file.take(max_len).read_to_end(&mut out).ok()?;
    Some(out)
}

/// Remove whatever is at `path` unless it is a regular file (a link is removed itself, never its target).
pub(crate) fn clear_if_not_regular(path: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(metadata) if metadata.file_type().is_file() => Ok(()),
        Ok(metadata) if metadata.file_type().is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(error),
    }
}

/// Make `dir` a real directory of ours (mode 0700): a link or a file in its place is removed first.
pub(crate) fn ensure_dir(dir: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(dir) {
        Ok(metadata) if metadata.file_type().is_dir() => return Ok(()),
        Ok(metadata) if metadata.file_type().is_symlink() || metadata.file_type().is_file() => {
            std::fs::remove_file(dir)?
        }
        Ok(_) => std::fs::remove_file(dir)?,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(error),
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_open() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"hello").unwrap();
        assert_eq!(read_small(&file, 100).as_deref(), Some(&b"hello"[..]));
        assert!(read_small(&file, 4).is_none(), "over the size bound");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        assert!(open_regular(&link, u64::MAX).is_none());
        let fifo = dir.path().join("fifo");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        assert!(open_regular(&fifo, u64::MAX).is_none(), "no hang, no open");
        assert!(open_regular(dir.path(), u64::MAX).is_none());
        for path in [&link, &fifo] {
            clear_if_not_regular(path).unwrap();
            assert!(std::fs::symlink_metadata(path).is_err());
        }
        assert!(
            std::path::Path::new("/dev/zero").exists(),
            "the target stays"
        );
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        std::fs::write(sub.join("x"), b"x").unwrap();
        clear_if_not_regular(&sub).unwrap();
        assert!(!sub.exists());
        clear_if_not_regular(&file).unwrap();
        assert!(file.exists(), "a regular file stays");
    }
}
