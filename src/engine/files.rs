//! Atomic file operations: every write is temp file + fsync + rename + fsync of the directory, so a crash leaves
//! either the old or the new content, never a torn file.
//!
//! Symbolic links are kept: a user whose `~/.condarc` is a link into a dotfiles repository gets the link's target
//! edited (the temporary file is created beside the target and renamed over it), and removing a linked file
//! removes the target and leaves the link as it was. Temporary files carry a tag of this HOME, so that two users
//! sharing a directory (a common `BINSTAR_CONFIG_DIR`) never sweep each other's in-flight writes.
//!
//! On Windows the rename is `MoveFileExW` with `MOVEFILE_REPLACE_EXISTING` (tempfile's `persist`), which replaces
//! an existing file in one step. It fails while another program (conda, an editor, a virus scanner) holds the
//! target open without delete sharing: the rename is retried for about a second, then refused in one sentence,
//! the old file untouched and the temporary file removed. The read-only attribute stands for a file without
//! the owner's write bit; folders' read-only attribute means nothing to Windows and is ignored.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::engine::error::{Error, Result};

/// How many links are followed before a chain is taken for a loop.
const MAX_LINKS: usize = 40;

/// How to make a file writable again, for the refusal message.
#[cfg(unix)]
const MAKE_WRITABLE: &str = "chmod u+w";
#[cfg(not(unix))]
const MAKE_WRITABLE: &str = "clear its Read-only attribute";

static TEMP_TAG: OnceLock<String> = OnceLock::new();

/// Tag this process's temporary files with `owner` (conda-connect's data directory): the sweep after a crash
/// removes only files with this tag. Set once per process; later calls are ignored.
pub fn set_temp_owner(owner: &Path) {
    let _ = TEMP_TAG
        .set(format!("{:x}", md5::compute(owner.to_string_lossy().as_bytes()))[..10].to_string());
}

fn temp_prefix() -> String {
    let tag = TEMP_TAG.get().map(String::as_str).unwrap_or("0000000000");
    format!(".conda-connect-{tag}-")
}

/// The file that `path` stands for: `path` itself, or the end of its chain of symbolic links (which need not
/// exist: a dangling link resolves to where its target would be).
pub fn resolve_links(path: &Path) -> Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = fs::read_link(&current).map_err(|e| Error::io(&current, &e))?;
                current = match current.parent() {
                    Some(dir) if target.is_relative() => dir.join(target),
                    _ => target,
                };
            }
            _ => return Ok(current),
        }
    }
    Err(Error::Io {
        path: path.display().to_string(),
        detail: "it is a loop of symbolic links".into(),
    })
}

/// True when `path` is a symbolic link.
pub fn is_link(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// Read a file (through links); `Ok(None)` when it does not exist. Only regular files are read: a FIFO, a device
/// or a folder where a file is expected is an error, never a hang or an endless read.
pub fn read_optional(path: &Path) -> Result<Option<Vec<u8>>> {
    match fs::metadata(path) {
        Ok(meta) if !meta.is_file() => {
            return Err(Error::Io {
                path: path.display().to_string(),
                detail: "it is not a regular file".into(),
            });
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        _ => {}
    }
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(Error::io(path, &error)),
    }
}

/// Read a file someone else may be rewriting at this moment (`conda config` truncates, then writes): the content
/// is taken only when two reads a moment apart agree, so a half-written state is never mistaken for the file.
pub fn read_settled(path: &Path) -> Result<Option<Vec<u8>>> {
    let mut last = read_optional(path)?;
    for _ in 0..10 {
        std::thread::sleep(std::time::Duration::from_millis(3));
        let again = read_optional(path)?;
        if again == last {
            return Ok(again);
        }
        last = again;
    }
    Err(Error::Io {
        path: path.display().to_string(),
        detail: "it keeps changing while being read; try again in a moment".into(),
    })
}

/// True when `path` exists and its owner may not write it (mode bits, not the caller's privileges).
pub fn is_read_only(path: &Path) -> bool {
    match fs::metadata(path) {
        #[cfg(unix)]
        Ok(metadata) => {
            use std::os::unix::fs::PermissionsExt;
            metadata.permissions().mode() & 0o200 == 0
        }
        #[cfg(not(unix))]
        Ok(metadata) => metadata.permissions().readonly(),
        Err(_) => false,
    }
}

/// The permission bits of the file `path` stands for (Unix), `None` when it does not exist.
pub fn mode_of(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path)
            .ok()
            .map(|m| m.permissions().mode() & 0o7777)
    }
    #[cfg(not(unix))]
    {
        fs::metadata(path).ok().map(|metadata| {
            if metadata.permissions().readonly() {
                0o444
            } else {
                0o644
            }
        })
    }
}

/// Refuse to change a file the user made read-only, or one in a read-only directory: conda-connect never
/// overrides that decision (not even as root, where the OS would let it). `what` names it for the message.
pub fn check_writable(path: &Path, what: &str) -> Result<()> {
    let target = resolve_links(path)?;
    let read_only = |p: &Path| -> bool { !(cfg!(windows) && p.is_dir()) && is_read_only(p) };
    if read_only(&target) {
        return Err(Error::Refused {
            reason: format!(
                "{what} is read-only, so conda-connect leaves it unchanged; make it writable ({MAKE_WRITABLE}) and try again."
            ),
        });
    }
    if let Some(dir) = target.parent()
        && read_only(dir)
    {
        return Err(Error::Refused {
            reason: format!(
                "The folder of {what} ({}) is read-only, so conda-connect leaves it unchanged; make it writable and try again.",
                dir.display()
            ),
        });
    }
    if fs::metadata(&target).is_ok_and(|m| !m.is_file()) {
        return Err(Error::Refused {
            reason: format!("{what} is not a regular file, so conda-connect leaves it unchanged."),
        });
    }
    Ok(())
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

/// Replace `path` with `content` atomically. `mode` sets the permission bits exactly (Unix); `None` keeps the mode
/// of the file being replaced (or 0644 for a new file). Missing parent directories are created 0700. A symbolic
/// link is kept and its target replaced.
pub fn write_atomic(path: &Path, content: &[u8], mode: Option<u32>) -> Result<()> {
    write_atomic_checked(path, content, mode, None).map(|_| ())
}

/// [`write_atomic`], but the rename happens only if `still` accepts the file's content as it is right before it
/// (after the new content is on disk): a compare-and-swap whose window is the rename alone. `Ok(false)` when the
/// file changed and nothing was written.
pub fn write_atomic_if(
    path: &Path,
    content: &[u8],
    mode: Option<u32>,
    still: impl Fn(Option<&[u8]>) -> bool,
) -> Result<bool> {
    write_atomic_checked(path, content, mode, Some(&still))
}

/// A check of a file's current content (`None`: absent) right before it is replaced.
type ContentCheck<'a> = &'a dyn Fn(Option<&[u8]>) -> bool;

fn write_atomic_checked(
    path: &Path,
    content: &[u8],
    mode: Option<u32>,
    still: Option<ContentCheck<'_>>,
) -> Result<bool> {
    let target = resolve_links(path)?;
    let dir = target.parent().ok_or_else(|| Error::Io {
        path: path.display().to_string(),
        detail: "it has no parent directory".into(),
    })?;
    create_private_dir(dir)?;
    crate::engine::hooks::io_fault(path)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(&temp_prefix())
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, &e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let bits = mode.or_else(|| mode_of(&target)).unwrap_or(0o644);
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(bits))
            .map_err(|e| Error::io(path, &e))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    // the file keeps its owner (conda-connect run with sudo must not hand the user's files to root)
    #[cfg(unix)]
    if let Ok(meta) = fs::metadata(&target) {
        use std::os::unix::fs::MetadataExt;
        let _ = std::os::unix::fs::fchown(tmp.as_file(), Some(meta.uid()), Some(meta.gid()));
    }
    tmp.write_all(content).map_err(|e| Error::io(path, &e))?;
    crate::engine::hooks::io_fault(path)?;
    tmp.as_file().sync_all().map_err(|e| Error::io(path, &e))?;
    if let Some(still) = still
        && !still(read_optional(&target)?.as_deref())
    {
        return Ok(false);
    }
    crate::engine::hooks::io_fault(path)?;
    persist(tmp, &target, path)?;
    sync_dir(dir);
    Ok(true)
}

/// Rename the temporary file over `target`. On Windows a target held open by another program refuses the rename
/// for a moment: retry for about a second before giving up (the temporary file is removed either way).
fn persist(mut tmp: tempfile::NamedTempFile, target: &Path, shown: &Path) -> Result<()> {
    const TRIES: u32 = 20;
    for attempt in 1..=TRIES {
        match tmp.persist(target) {
            Ok(_) => return Ok(()),
            Err(failed) if attempt < TRIES && held_by_another_program(&failed.error) => {
                tmp = failed.file;
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(failed) if held_by_another_program(&failed.error) => {
                tracing::warn!(path = %shown.display(), error = %failed.error, "replace refused: file in use");
                return Err(Error::Io {
                    path: shown.display().to_string(),
                    detail: "another program (conda, an editor or a virus scanner) has it open; close it and try \
                             again"
                        .into(),
                });
            }
            Err(failed) => return Err(Error::io(shown, &failed.error)),
        }
    }
    unreachable!("the last attempt returns")
}

/// Windows' answers while another process holds a file open: access denied, sharing or lock violation.
fn held_by_another_program(error: &std::io::Error) -> bool {
    cfg!(windows) && matches!(error.raw_os_error(), Some(5 | 32 | 33))
}

/// Remove a file if it exists (and fsync its directory). For a symbolic link the target is removed and the link
/// kept, so that a dotfiles link is left exactly as it was before conda-connect created its target.
pub fn remove_if_exists(path: &Path) -> Result<bool> {
    let target = resolve_links(path)?;
    if fs::symlink_metadata(&target).is_ok() {
        crate::engine::hooks::io_fault(path)?;
    }
    match fs::remove_file(&target) {
        Ok(()) => {
            if let Some(dir) = target.parent() {
                sync_dir(dir);
            }
            Ok(true)
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(Error::io(path, &error)),
    }
}

/// Set the permission bits of an existing file (through links).
pub fn set_mode(path: &Path, mode: u32) -> Result<()> {
    crate::engine::hooks::io_fault(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(|e| Error::io(path, &e))
    }
    #[cfg(not(unix))]
    {
        // Windows has one bit: the read-only attribute, set when the owner may not write.
        let mut permissions = fs::metadata(path)
            .map_err(|e| Error::io(path, &e))?
            .permissions();
        permissions.set_readonly(mode & 0o200 == 0);
        fs::set_permissions(path, permissions).map_err(|e| Error::io(path, &e))
    }
}

fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(directory) = fs::File::open(dir) {
        let _ = directory.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// Remove temp files a killed conda-connect of this HOME left between writing and renaming, in `dirs`. Files
/// with another tag belong to another user's conda-connect (a shared directory) and are left alone. Call only
/// while holding the configuration lock: then no other conda-connect of this HOME is mid-write there.
pub fn sweep_temp_files<'a>(dirs: impl IntoIterator<Item = &'a Path>) -> usize {
    let prefix = temp_prefix();
    let mut removed = 0;
    for dir in dirs {
        let Ok(entries) = fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(&prefix)
                && name.ends_with(".tmp")
                && fs::remove_file(entry.path()).is_ok()
            {
                tracing::info!(path = %entry.path().display(), "removed a temp file left by an interrupted write");
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
        let path = dir.path().join("a/b/file");
        write_atomic(&path, b"one", Some(0o600)).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"one");
        write_atomic(&path, b"two", None).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        #[cfg(unix)]
        {
            assert_eq!(mode_of(&path), Some(0o600));
            assert_eq!(mode_of(path.parent().unwrap()).unwrap() & 0o777, 0o700);
        }
        let leftovers: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temp files left behind");
        assert!(remove_if_exists(&path).unwrap());
        assert!(!remove_if_exists(&path).unwrap());
        assert_eq!(read_optional(&path).unwrap(), None);
    }

    #[cfg(unix)]
    #[test]
    fn links_are_kept_and_their_targets_edited() {
        let dir = tempfile::tempdir().unwrap();
        let dotfiles = dir.path().join("dotfiles");
        fs::create_dir(&dotfiles).unwrap();
        let target = dotfiles.join("condarc");
        fs::write(&target, "a: 1\n").unwrap();
        let link = dir.path().join(".condarc");
        std::os::unix::fs::symlink("dotfiles/condarc", &link).unwrap();
        write_atomic(&link, b"a: 2\n", None).unwrap();
        assert!(is_link(&link), "the link is kept");
        assert_eq!(fs::read(&target).unwrap(), b"a: 2\n");
        assert_eq!(
            fs::read_dir(&dotfiles).unwrap().count(),
            1,
            "no temp file left beside the target"
        );
        // removal removes the target, keeps the (now dangling) link; writing through a dangling link recreates it
        assert!(remove_if_exists(&link).unwrap());
        assert!(is_link(&link) && !target.exists());
        write_atomic(&link, b"b: 1\n", None).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"b: 1\n");
        // a loop is an error, not a hang
        let loop_a = dir.path().join("loop-a");
        let loop_b = dir.path().join("loop-b");
        std::os::unix::fs::symlink(&loop_b, &loop_a).unwrap();
        std::os::unix::fs::symlink(&loop_a, &loop_b).unwrap();
        assert!(write_atomic(&loop_a, b"x", None).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn read_only_files_and_folders_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        fs::write(&file, "x").unwrap();
        check_writable(&file, "~/f").unwrap();
        set_mode(&file, 0o444).unwrap();
        let err = check_writable(&file, "~/f").unwrap_err().to_string();
        assert!(err.contains("~/f is read-only"), "{err}");
        let sub = dir.path().join("ro");
        fs::create_dir(&sub).unwrap();
        set_mode(&sub, 0o555).unwrap();
        assert!(check_writable(&sub.join("new"), "~/ro/new").is_err());
        check_writable(&dir.path().join("absent"), "~/absent").unwrap();
        fs::create_dir(dir.path().join("adir")).unwrap();
        assert!(check_writable(&dir.path().join("adir"), "~/adir").is_err());
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_refused_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let err = read_optional(&fifo).unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");
        assert!(check_writable(&fifo, "~/fifo").is_err());
    }

    #[test]
    fn compare_and_swap_write_refuses_a_changed_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        fs::write(&path, "theirs").unwrap();
        assert!(
            !write_atomic_if(&path, b"mine", None, |now| now == Some(b"old".as_slice())).unwrap()
        );
        assert_eq!(fs::read(&path).unwrap(), b"theirs");
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
        assert!(
            write_atomic_if(&path, b"mine", None, |now| now
                == Some(b"theirs".as_slice()))
            .unwrap()
        );
        assert_eq!(
            read_settled(&path).unwrap().as_deref(),
            Some(b"mine".as_slice())
        );
    }

    /// Windows: the read-only attribute is refused like a 0444 file; a folder's attribute is ignored (Explorer
    /// sets it on folders it customises); set_mode maps the owner's write bit to the attribute.
    #[cfg(windows)]
    #[test]
    fn windows_read_only_attribute_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        fs::write(&file, "x").unwrap();
        check_writable(&file, "~\\f").unwrap();
        set_mode(&file, 0o444).unwrap();
        assert!(fs::metadata(&file).unwrap().permissions().readonly());
        assert_eq!(mode_of(&file), Some(0o444));
        let err = check_writable(&file, "~\\f").unwrap_err().to_string();
        assert!(err.contains("Read-only attribute"), "{err}");
        set_mode(&file, 0o600).unwrap();
        check_writable(&file, "~\\f").unwrap();
        let sub = dir.path().join("folder");
        fs::create_dir(&sub).unwrap();
        let mut permissions = fs::metadata(&sub).unwrap().permissions();
        permissions.set_readonly(true);
        fs::set_permissions(&sub, permissions).unwrap();
        check_writable(&sub.join("new"), "~\\folder\\new").unwrap();
    }

    /// Windows: a file another program holds open (no delete sharing) is replaced once it lets go within the
    /// retry window; held for longer, the write is refused in one sentence, the old content intact and no
    /// temporary file left. A non-ASCII folder name with a space on the way.
    #[cfg(windows)]
    #[test]
    fn windows_replace_waits_for_a_file_held_open_then_refuses() {
        use std::os::windows::fs::OpenOptionsExt;
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("José Núñez");
        let file = folder.join(".condarc");
        write_atomic(&file, b"old\r\n", None).unwrap();
        let open_exclusive = || {
            fs::OpenOptions::new()
                .read(true)
                .share_mode(0)
                .open(&file)
                .unwrap()
        };
        let held = open_exclusive();
        let release = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            drop(held);
        });
        write_atomic(&file, b"new\r\n", None).unwrap();
        release.join().unwrap();
        assert_eq!(fs::read(&file).unwrap(), b"new\r\n");

        let held = open_exclusive();
        let err = write_atomic(&file, b"newer", None).unwrap_err().to_string();
        assert!(err.contains("another program"), "{err}");
        drop(held);
        assert_eq!(fs::read(&file).unwrap(), b"new\r\n");
        assert_eq!(
            fs::read_dir(&folder).unwrap().count(),
            1,
            "no temp file left"
        );
    }

    #[test]
    fn sweep_takes_only_this_homes_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let mine = dir.path().join(format!("{}abc.tmp", temp_prefix()));
        let other = dir.path().join(".conda-connect-ffffffffff-abc.tmp");
        fs::write(&mine, "").unwrap();
        fs::write(&other, "").unwrap();
        assert_eq!(sweep_temp_files([dir.path()]), 1);
        assert!(!mine.exists() && other.exists());
    }
}
