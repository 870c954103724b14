//! The row store: one file per channel directory holding its packages (name, version, build) sorted by name and
//! version, in a layout that is used where it lies — memory-mapped when someone searches, never rebuilt in memory.
//!
//! Layout (little-endian): `CCROWS3\n`, row count (u64), text length (u64), the binding (16 bytes: the md5 of the
//! repodata URL the rows came from), then per row its text offset (u32) and the lengths of name, version and build
//! (u16 each), then the text, then `\n#end-3\n`. A run that finds the server's data unchanged (304) checks only the
//! header, the binding, the row count against the records bound, the end marker and the file size (a truncated
//! file, or one copied from another channel directory, is detected and refetched); loading checks every row's
//! bounds (a damaged file is refused, never read out of range).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::cache_file;
use super::limits::{Limit, MemoryBudget};

const MAGIC: &[u8; 8] = b"CCROWS3\n";
const END: &[u8; 8] = b"\n#end-3\n";
const HEADER: u64 = 40;

/// What a store belongs to: the md5 of the repodata URL (without token) of its channel directory.
pub(crate) type Binding = [u8; 16];
const ROW: u64 = 10;

#[derive(Clone, Copy)]
struct Row {
    off: u32,
    name: u16,
    version: u16,
    build: u16,
}

/// Rows of one directory while it is being read: one text buffer and fixed-size rows, both counted against the
/// run's memory ceiling before they grow.
pub struct RowArena {
    text: Vec<u8>,
    rows: Vec<Row>,
    budget: MemoryBudget,
    reserved: u64,
}

impl RowArena {
    pub fn new(budget: MemoryBudget) -> Self {
        RowArena {
            text: Vec::new(),
            rows: Vec::new(),
            budget,
            reserved: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Add a row (fields are at most 64 KiB each: the scanner's field bound).
    pub fn push(&mut self, name: &str, version: &str, build: &str) -> Result<(), Limit> {
        let add = name.len() + version.len() + build.len();
        let off = self.text.len();
        if off + add > u32::MAX as usize {
            return Err(Limit::Memory(self.budget.max()));
        }
        if self.text.len() + add > self.text.capacity() {
            let new_cap = (self.text.capacity() * 2).max(off + add).max(1 << 16);
            self.grow(new_cap - self.text.capacity())?;
            self.text.reserve_exact(new_cap - self.text.len());
        }
        if self.rows.len() == self.rows.capacity() {
            let new_cap = (self.rows.capacity() * 2).max(4096);
            self.grow((new_cap - self.rows.capacity()) * std::mem::size_of::<Row>())?;
            self.rows.reserve_exact(new_cap - self.rows.len());
        }
        self.text.extend_from_slice(name.as_bytes());
        self.text.extend_from_slice(version.as_bytes());
        self.text.extend_from_slice(build.as_bytes());
        self.rows.push(Row {
            off: off as u32,
            name: name.len() as u16,
            version: version.len() as u16,
            build: build.len() as u16,
        });
        Ok(())
    }

    fn grow(&mut self, bytes: usize) -> Result<(), Limit> {
        self.budget.reserve(bytes as u64)?;
        self.reserved += bytes as u64;
        Ok(())
    }

    fn field(&self, row: &Row, which: u8) -> &[u8] {
        let start = row.off as usize;
        let (a, b) = match which {
            0 => (start, start + row.name as usize),
            1 => {
                let field_start = start + row.name as usize;
                (field_start, field_start + row.version as usize)
            }
            _ => {
                let field_start = start + row.name as usize + row.version as usize;
                (field_start, field_start + row.build as usize)
            }
        };
        &self.text[a..b]
    }

    /// Sort by (name, version, build) and write the store to `dest` (temp file + rename, 0600). Returns the open
    /// file, which stays valid for readers even when a later run replaces the path.
    pub fn write(mut self, dest: &Path, binding: &Binding) -> io::Result<StoreFile> {
        let mut rows = std::mem::take(&mut self.rows);
        rows.sort_unstable_by(|a, b| {
            self.field(a, 0)
                .cmp(self.field(b, 0))
                .then_with(|| self.field(a, 1).cmp(self.field(b, 1)))
                .then_with(|| self.field(a, 2).cmp(self.field(b, 2)))
        });
        let dir = dest.parent().unwrap_or(Path::new("."));
        // tempfile creates 0600 with O_EXCL
        let tmp = tempfile::Builder::new()
            .prefix(".rows-")
            .suffix(".tmp")
            .tempfile_in(dir)?;
        {
            let mut writer = BufWriter::with_capacity(1 << 16, tmp.as_file());
            writer.write_all(MAGIC)?;
            writer.write_all(&(rows.len() as u64).to_le_bytes())?;
            writer.write_all(&(self.text.len() as u64).to_le_bytes())?;
            writer.write_all(binding)?;
            for row in &rows {
                let mut rec = [0u8; ROW as usize];
                rec[0..4].copy_from_slice(&row.off.to_le_bytes());
                rec[4..6].copy_from_slice(&row.name.to_le_bytes());
                rec[6..8].copy_from_slice(&row.version.to_le_bytes());
                rec[8..10].copy_from_slice(&row.build.to_le_bytes());
                writer.write_all(&rec)?;
            }
            writer.write_all(&self.text)?;
            writer.write_all(END)?;
            writer.flush()?;
        }
        cache_file::clear_if_not_regular(dest)?;
        // std's rename, not tempfile's persist: on Windows it renames with POSIX semantics where the system has
        // them, so a store that a reader still holds open is replaced (a plain MoveFileEx refuses: access denied)
        let (file, tmp_path) = tmp.into_parts();
        std::fs::rename(&tmp_path, dest)?;
        // renamed away: nothing left for the temporary path to delete
        let _ = tmp_path.keep();
        Ok(StoreFile {
            file: Arc::new(file),
            rows: rows.len() as u64,
            path: dest.to_path_buf(),
        })
    }
}

impl Drop for RowArena {
    fn drop(&mut self) {
        self.budget.release(self.reserved);
    }
}

/// An open, checked row store file.
#[derive(Debug, Clone)]
pub struct StoreFile {
    pub file: Arc<File>,
    pub rows: u64,
    /// Where it was opened or written (a damaged store found at load is removed there, so that the next Update
    /// Index fetches the data again).
    pub path: PathBuf,
}

/// Open the store at `path` if its header, end marker and size agree, it belongs to `binding`'s channel directory
/// and holds at most `max_rows` rows (O(1): nothing else is read).
pub fn open(path: &Path, binding: &Binding, max_rows: u64) -> Option<StoreFile> {
    let (file, len) = cache_file::open_regular(path, u64::MAX)?;
    let Frame {
        rows,
        binding: bound_to,
        ..
    } = check_frame(&file, len).ok()?;
    if &bound_to != binding || rows > max_rows {
        tracing::warn!(path = %path.display(), rows, "a row store of another channel directory, or too large; not used");
        return None;
    }
    Some(StoreFile {
        file: Arc::new(file),
        rows,
        path: path.to_path_buf(),
    })
}

/// Read exactly `buf.len()` bytes at `offset` without moving the file's cursor: the file handle is shared by every
/// reader of the index (threads loading it at the same time), so a seek-then-read would race.
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
    }
    #[cfg(windows)]
    {
        let mut done = 0;
        while done < buf.len() {
            match std::os::windows::fs::FileExt::seek_read(
                file,
                &mut buf[done..],
                offset + done as u64,
            )? {
                0 => return Err(io::Error::from(io::ErrorKind::UnexpectedEof)),
                n => done += n,
            }
        }
        Ok(())
    }
}

/// What a row store's header says, once its frame (magic, end marker, size) is checked.
struct Frame {
    rows: u64,
    /// Bytes of text after the rows.
    text: u64,
    /// The channel directory it belongs to.
    binding: Binding,
}

fn check_frame(file: &File, len: u64) -> io::Result<Frame> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "not a row store");
    if len < HEADER + END.len() as u64 {
        return Err(bad());
    }
    let mut head = [0u8; HEADER as usize];
    read_exact_at(file, &mut head, 0)?;
    let mut end = [0u8; 8];
    read_exact_at(file, &mut end, len - 8)?;
    let rows = u64::from_le_bytes(head[8..16].try_into().expect("8 bytes"));
    let text = u64::from_le_bytes(head[16..24].try_into().expect("8 bytes"));
    let expected = rows
        .checked_mul(ROW)
        .and_then(|r| r.checked_add(HEADER + 8))
        .and_then(|r| r.checked_add(text));
    if &head[..8] != MAGIC || &end != END || expected != Some(len) {
        return Err(bad());
    }
    let binding: Binding = head[24..40].try_into().expect("16 bytes");
    Ok(Frame {
        rows,
        text,
        binding,
    })
}

/// One channel directory's part of the index: the open store file and where it came from.
#[derive(Debug, Clone)]
pub(crate) struct IndexPart {
    pub channel: Arc<str>,
    pub subdir: Arc<str>,
    pub rows: usize,
    file: Arc<File>,
    /// Where the store is (a damaged one is removed there; Unix only, where an open file can be compared with it).
    #[cfg_attr(not(unix), allow(dead_code))]
    path: PathBuf,
}

/// The package index of an Update Index run: a handle on each directory's row store, loaded only on demand
/// ([`PackageIndex::load`]). Holding it keeps the exact files of that run readable.
#[derive(Debug, Clone, Default)]
pub struct PackageIndex {
    parts: Vec<IndexPart>,
}

impl PackageIndex {
    pub fn push(&mut self, channel: &str, subdir: &str, store: StoreFile) {
        self.parts.push(IndexPart {
            channel: Arc::from(channel),
            subdir: Arc::from(subdir),
            rows: store.rows as usize,
            file: store.file,
            path: store.path,
        });
    }

    /// Rows across all directories.
    pub fn len(&self) -> usize {
        self.parts.iter().map(|p| p.rows).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Map every directory's store and build the name table for searching. Blocking work (for a million rows,
    /// tens of milliseconds): call it off the UI thread.
    pub fn load(&self) -> io::Result<LoadedIndex> {
        let mut parts: Vec<&IndexPart> = self.parts.iter().collect();
        parts.sort_by(|a, b| (&a.channel, &a.subdir).cmp(&(&b.channel, &b.subdir)));
        let mut loaded = Vec::with_capacity(parts.len());
        for index_part in parts {
            match load_part(index_part) {
                Ok(part) => loaded.push(part),
                Err(error) => {
                    forget_damaged(index_part);
                    return Err(error);
                }
            }
        }
        LoadedIndex::build(loaded)
    }
}

/// Remove a damaged store from the cache if the path still holds that very file.
fn forget_damaged(index_part: &IndexPart) {
    #[cfg(not(unix))]
    let _ = index_part;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let same = match (
            index_part.file.metadata(),
            std::fs::symlink_metadata(&index_part.path),
        ) {
            (Ok(open), Ok(on_disk)) => open.dev() == on_disk.dev() && open.ino() == on_disk.ino(),
            _ => false,
        };
        if same {
            tracing::warn!(path = %index_part.path.display(), "damaged package index cache removed");
            let _ = std::fs::remove_file(&index_part.path);
        }
    }
}

fn load_part(index_part: &IndexPart) -> io::Result<LoadedPart> {
    let len = index_part.file.metadata()?.len();
    let Frame { rows, text, .. } = check_frame(&index_part.file, len)?;
    let map = StoreBytes::of(&index_part.file, len)?;
    if map.len() as u64 != len {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "store changed"));
    }
    let part = LoadedPart {
        map,
        channel: index_part.channel.clone(),
        subdir: index_part.subdir.clone(),
        rows: rows as usize,
        text_start: (HEADER + rows * ROW) as usize,
        text_len: text as usize,
    };
    for row in 0..part.rows {
        let (off, n, v, b) = part.raw(row);
        if off + n + v + b > part.text_len {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the package index cache is damaged",
            ));
        }
    }
    Ok(part)
}

/// The bytes of a loaded row store: memory-mapped on Unix; read into memory on Windows, where a mapped file cannot
/// be replaced, and the next Update Index must rename a new store over the one the package list shows.
enum StoreBytes {
    #[cfg(not(windows))]
    Mapped(memmap2::Mmap),
    #[cfg(windows)]
    Read(Vec<u8>),
}

impl StoreBytes {
    #[cfg(not(windows))]
    fn of(file: &File, _len: u64) -> io::Result<StoreBytes> {
        // SAFETY: the store files are written to a temporary file and renamed into place, never changed in
        // place, so the mapped inode does not change under us (a later run replaces the path, not the file).
        // Every offset read from the map is bounds-checked in `load_part` and in `text`, so a damaged file can
        // only give wrong text, never an out-of-range read.
        Ok(StoreBytes::Mapped(unsafe { memmap2::Mmap::map(file)? }))
    }

    /// The whole file through the shared handle, by position (no seek: other readers use the handle too).
    #[cfg(windows)]
    fn of(file: &File, len: u64) -> io::Result<StoreBytes> {
        use std::os::windows::fs::FileExt;
        let mut bytes = vec![0u8; usize::try_from(len).map_err(io::Error::other)?];
        let mut done = 0;
        while done < bytes.len() {
            match file.seek_read(&mut bytes[done..], done as u64)? {
                0 => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "store changed",
                    ));
                }
                n => done += n,
            }
        }
        Ok(StoreBytes::Read(bytes))
    }
}

impl std::ops::Deref for StoreBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            #[cfg(not(windows))]
            StoreBytes::Mapped(map) => map,
            #[cfg(windows)]
            StoreBytes::Read(bytes) => bytes,
        }
    }
}

struct LoadedPart {
    map: StoreBytes,
    channel: Arc<str>,
    subdir: Arc<str>,
    rows: usize,
    text_start: usize,
    text_len: usize,
}

impl LoadedPart {
    fn raw(&self, row: usize) -> (usize, usize, usize, usize) {
        let at = HEADER as usize + row * ROW as usize;
        let record = &self.map[at..at + ROW as usize];
        (
            u32::from_le_bytes([record[0], record[1], record[2], record[3]]) as usize,
            u16::from_le_bytes([record[4], record[5]]) as usize,
            u16::from_le_bytes([record[6], record[7]]) as usize,
            u16::from_le_bytes([record[8], record[9]]) as usize,
        )
    }

    fn text(&self, off: usize, len: usize) -> &str {
        let start = self.text_start + off;
        self.map
            .get(start..start + len)
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or("\u{fffd}")
    }

    fn name(&self, row: usize) -> &str {
        let (off, n, _, _) = self.raw(row);
        self.text(off, n)
    }
}

/// One package as the list shows it (borrowed from the mapped stores).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackageRef<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub build: &'a str,
    pub channel: &'a str,
    pub subdir: &'a str,
}

/// A run of rows with the same name in one part.
#[derive(Clone, Copy)]
struct Run {
    part: u16,
    start: u32,
    len: u32,
}

/// A distinct package name: its runs (in part order) and how many rows it has.
#[derive(Clone, Copy)]
struct Name {
    runs_start: u32,
    runs_len: u32,
    rows: u32,
}

/// The loaded index: mapped stores and a table of distinct names, each with its rows in every directory. A search
/// scans the distinct names only (tens of thousands for a conda-forge mirror, not its million rows).
pub struct LoadedIndex {
    parts: Vec<LoadedPart>,
    names: Vec<Name>,
    runs: Vec<Run>,
    rows: usize,
}

impl std::fmt::Debug for LoadedIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedIndex")
            .field("parts", &self.parts.len())
            .field("names", &self.names.len())
            .field("rows", &self.rows)
            .finish()
    }
}

impl LoadedIndex {
    fn build(parts: Vec<LoadedPart>) -> io::Result<LoadedIndex> {
        let mut runs: Vec<Run> = Vec::new();
        for (pi, p) in parts.iter().enumerate() {
            let mut i = 0;
            while i < p.rows {
                let name = p.name(i);
                let mut j = i + 1;
                while j < p.rows && p.name(j) == name {
                    j += 1;
                }
                runs.push(Run {
                    part: pi as u16,
                    start: i as u32,
                    len: (j - i) as u32,
                });
                i = j;
            }
        }
        let name_of = |r: &Run| parts[r.part as usize].name(r.start as usize);
        // stable: runs of one name keep part order (channel, subdir)
        runs.sort_by(|a, b| name_of(a).cmp(name_of(b)));
        let mut names: Vec<Name> = Vec::new();
        let mut i = 0;
        while i < runs.len() {
            let name = name_of(&runs[i]);
            let mut j = i + 1;
            let mut rows = runs[i].len;
            while j < runs.len() && name_of(&runs[j]) == name {
                rows += runs[j].len;
                j += 1;
            }
            names.push(Name {
                runs_start: i as u32,
                runs_len: (j - i) as u32,
                rows,
            });
            i = j;
        }
        let rows = parts.iter().map(|p| p.rows).sum();
        Ok(LoadedIndex {
            parts,
            names,
            runs,
            rows,
        })
    }

    /// All rows.
    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Distinct package names.
    pub(crate) fn name_count(&self) -> usize {
        self.names.len()
    }

    fn name(&self, name: &Name) -> &str {
        let run = &self.runs[name.runs_start as usize];
        self.parts[run.part as usize].name(run.start as usize)
    }

    /// The rows whose name contains `needle` (ASCII case-insensitive), in order of name, then channel and
    /// subdir, then version.
    pub fn search(&self, needle: &str) -> Matches {
        let needle = needle.trim().to_ascii_lowercase();
        let finder = memchr::memmem::Finder::new(needle.as_bytes());
        let mut names = Vec::new();
        let mut ends = Vec::new();
        let mut total = 0u64;
        for (i, n) in self.names.iter().enumerate() {
            let name = self.name(n).as_bytes();
            let hit = needle.is_empty()
                || finder.find(name).is_some()
                || (name.iter().any(u8::is_ascii_uppercase)
                    && finder.find(&name.to_ascii_lowercase()).is_some());
            if hit {
                total += n.rows as u64;
                names.push(i as u32);
                ends.push(total);
            }
        }
        Matches { names, ends }
    }

    fn package(&self, part: usize, row: usize) -> PackageRef<'_> {
        let loaded_part = &self.parts[part];
        let (off, n, v, b) = loaded_part.raw(row);
        PackageRef {
            name: loaded_part.text(off, n),
            version: loaded_part.text(off + n, v),
            build: loaded_part.text(off + n + v, b),
            channel: &loaded_part.channel,
            subdir: &loaded_part.subdir,
        }
    }
}

/// The result of a search: matching names with the running total of their rows, so that any position of the
/// list is found by a binary search (the list view asks only for the rows it shows).
#[derive(Debug, Clone, Default)]
pub struct Matches {
    names: Vec<u32>,
    ends: Vec<u64>,
}

impl Matches {
    /// Matching rows.
    pub fn len(&self) -> usize {
        self.ends.last().copied().unwrap_or(0) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Matching distinct names.
    pub fn names(&self) -> usize {
        self.names.len()
    }

    /// Rows `range` of the result (clamped to its end).
    pub fn rows<'a>(
        &self,
        index: &'a LoadedIndex,
        range: std::ops::Range<usize>,
    ) -> Vec<PackageRef<'a>> {
        let end = range.end.min(self.len());
        let mut out = Vec::with_capacity(end.saturating_sub(range.start));
        let mut pos = range.start;
        if pos >= end {
            return out;
        }
        // the first name whose rows reach past `pos`
        let mut k = self.ends.partition_point(|&e| e <= pos as u64);
        while pos < end && k < self.names.len() {
            let first_of_name = if k == 0 { 0 } else { self.ends[k - 1] as usize };
            let name = &index.names[self.names[k] as usize];
            let mut skip = pos - first_of_name;
            let runs =
                &index.runs[name.runs_start as usize..(name.runs_start + name.runs_len) as usize];
            for run in runs {
                if skip >= run.len as usize {
                    skip -= run.len as usize;
                    continue;
                }
                for row in (run.start as usize + skip)..(run.start + run.len) as usize {
                    if pos >= end {
                        return out;
                    }
                    out.push(index.package(run.part as usize, row));
                    pos += 1;
                }
                skip = 0;
            }
            k += 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(dir: &Path, name: &str, rows: &[(&str, &str, &str)]) -> StoreFile {
        let mut arena = RowArena::new(MemoryBudget::new(u64::MAX));
        for (n, v, b) in rows {
            arena.push(n, v, b).unwrap();
        }
        arena.write(&dir.join(name), &[7; 16]).unwrap()
    }

    #[test]
    fn stores_round_trip_and_search() {
        let dir = tempfile::tempdir().unwrap();
        let internal_store = store(
            dir.path(),
            "a.rows",
            &[
                ("numpy", "2.0", "0"),
                ("zlib", "1.3", "h1"),
                ("numpy", "1.26", "1"),
            ],
        );
        let main_store = store(
            dir.path(),
            "b.rows",
            &[("numpy-docs", "1", ""), ("NumX", "3", "x")],
        );
        assert_eq!(
            open(&dir.path().join("a.rows"), &[7; 16], 3).unwrap().rows,
            3
        );
        assert!(
            open(&dir.path().join("a.rows"), &[8; 16], 3).is_none(),
            "bound to another channel directory"
        );
        assert!(
            open(&dir.path().join("a.rows"), &[7; 16], 2).is_none(),
            "more rows than the bound"
        );
        let mut idx = PackageIndex::default();
        idx.push("main", "noarch", main_store);
        idx.push("internal", "linux-64", internal_store);
        assert_eq!(idx.len(), 5);
        let loaded = idx.load().unwrap();
        assert_eq!(loaded.name_count(), 4);
        let all = loaded.search("");
        let rows: Vec<String> = all
            .rows(&loaded, 0..100)
            .iter()
            .map(|p| format!("{} {} {} {}", p.name, p.version, p.build, p.channel))
            .collect();
        assert_eq!(
            rows,
            [
                "NumX 3 x main",
                "numpy 1.26 1 internal",
                "numpy 2.0 0 internal",
                "numpy-docs 1  main",
                "zlib 1.3 h1 internal"
            ]
        );
        let found = loaded.search(" NUM ");
        assert_eq!((found.len(), found.names()), (4, 3), "case-insensitive");
        assert_eq!(found.rows(&loaded, 2..3)[0].name, "numpy");
        assert_eq!(found.rows(&loaded, 3..10)[0].name, "numpy-docs");
        assert!(found.rows(&loaded, 9..10).is_empty());
        assert!(loaded.search("nothing").is_empty());
    }

    #[test]
    #[cfg_attr(
        windows,
        ignore = "Wine cannot delete a file that is still open (Windows 10 and later mark it for deletion)"
    )]
    fn damaged_stores_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.rows");
        store(dir.path(), "a.rows", &[("a", "1", "0"), ("b", "2", "0")]);
        let good = std::fs::read(&path).unwrap();
        for cut in [0, 10, good.len() / 2, good.len() - 1] {
            std::fs::write(&path, &good[..cut]).unwrap();
            assert!(
                open(&path, &[7; 16], u64::MAX).is_none(),
                "truncated at {cut}"
            );
        }
        // a row pointing past the text: the frame is fine, loading refuses it
        let mut bad = good.clone();
        bad[HEADER as usize + 4] = 0xff;
        std::fs::write(&path, &bad).unwrap();
        let reopened = open(&path, &[7; 16], u64::MAX).unwrap();
        let mut idx = PackageIndex::default();
        idx.push("c", "noarch", reopened);
        assert!(idx.load().is_err());
        // Windows removes an open file when its last handle closes
        drop(idx);
        assert!(
            !path.exists(),
            "removed: the next Update Index fetches it again"
        );
    }

    #[test]
    #[cfg_attr(
        windows,
        ignore = "Wine renames and deletes open files with the old Windows semantics (access denied); Windows 10 \
                  and later rename with POSIX semantics, which this test needs"
    )]
    fn a_loaded_index_survives_a_rewrite_of_its_files() {
        // concurrent readers: a reader keeps the file it opened while a later run replaces the path
        let dir = tempfile::tempdir().unwrap();
        let first = store(dir.path(), "a.rows", &[("old", "1", "0")]);
        let mut idx = PackageIndex::default();
        idx.push("c", "noarch", first);
        let readers: Vec<_> = (0..4)
            .map(|_| {
                let idx = idx.clone();
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        let snapshot = idx.load().unwrap();
                        assert_eq!(snapshot.search("").rows(&snapshot, 0..1)[0].name, "old");
                    }
                })
            })
            .collect();
        for round in 0..50 {
            store(
                dir.path(),
                "a.rows",
                &[("new", &round.to_string(), "0"), ("x", "1", "")],
            );
        }
        for reader in readers {
            reader.join().unwrap();
        }
        assert_eq!(
            open(&dir.path().join("a.rows"), &[7; 16], u64::MAX)
                .unwrap()
                .rows,
            2
        );
    }

    #[test]
    fn the_memory_ceiling_stops_an_arena() {
        let mut arena = RowArena::new(MemoryBudget::new(200_000));
        let long = "x".repeat(1000);
        let err = (0..10_000).find_map(|_| arena.push(&long, "1", "0").err());
        assert!(matches!(err, Some(Limit::Memory(_))), "{err:?}");
    }
}
