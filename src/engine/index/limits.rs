//! The bounds every Update Index run keeps, whatever a server sends: per file (bytes on the wire, bytes of JSON
//! after decompression, size of one record, length of a name/version/build, number of records) and for the whole
//! run (memory held by parsed rows across all channel directories). Each can be changed with an environment
//! variable (a number of bytes, optionally with K/M/G/KiB/MiB/GiB); the defaults are generous for a full
//! conda-forge mirror (its largest directory is a few hundred MB of JSON and under a million records).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;

/// zstd window accepted from a `.zst` frame (2^25 = 32 MiB): the decoder's buffer is bounded by it.
pub(crate) const ZSTD_WINDOW_LOG_MAX: u32 = 25;

/// Which bound was exceeded; rendered into the directory's status, e.g. "too large (limit 1 GiB of JSON)".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Download(u64),
    Json(u64),
    Record(u64),
    Records(u64),
    Memory(u64),
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Limit::Download(n) => write!(f, "{} downloaded", human(n)),
            Limit::Json(n) => write!(f, "{} of JSON", human(n)),
            Limit::Record(n) => write!(f, "{} per record", human(n)),
            Limit::Records(n) => write!(f, "{n} records"),
            Limit::Memory(n) => write!(f, "{} of memory for the index", human(n)),
        }
    }
}

/// Bytes in words: "1 GiB", "512 MiB", "64 KiB", "100 B".
pub(crate) fn human(bytes: u64) -> String {
    for (unit, size) in [("GiB", GIB), ("MiB", MIB), ("KiB", KIB)] {
        if bytes >= size && bytes.is_multiple_of(size) {
            return format!("{} {unit}", bytes / size);
        }
    }
    for (unit, size) in [("GiB", GIB), ("MiB", MIB), ("KiB", KIB)] {
        if bytes >= size {
            return format!("{:.1} {unit}", bytes as f64 / size as f64);
        }
    }
    format!("{bytes} B")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Bytes received for one file (compressed or not). `CONDA_CONNECT_INDEX_MAX_DOWNLOAD`.
    pub max_download: u64,
    /// Bytes of JSON in one file after decompression. `CONDA_CONNECT_INDEX_MAX_JSON`.
    pub max_json: u64,
    /// Bytes of one package record (its file name and its object). `CONDA_CONNECT_INDEX_MAX_RECORD`.
    pub max_record: u64,
    /// Length of a name, version or build; a record with a longer one is skipped. `CONDA_CONNECT_INDEX_MAX_FIELD`.
    pub max_field: u64,
    /// Records in one channel directory. `CONDA_CONNECT_INDEX_MAX_RECORDS`.
    pub max_records: u64,
    /// Memory for parsed rows of all directories of one run together. `CONDA_CONNECT_INDEX_MAX_MEMORY`.
    pub max_memory: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_download: GIB,
            max_json: 2 * GIB,
            max_record: MIB,
            max_field: KIB,
            max_records: 4_000_000,
            max_memory: 512 * MIB,
        }
    }
}

impl Limits {
    /// The defaults, with any `CONDA_CONNECT_INDEX_MAX_*` variable applied (an unreadable value is ignored).
    pub(crate) fn from_env() -> Self {
        let mut limits = Limits::default();
        let vars: [(&str, &mut u64); 6] = [
            ("CONDA_CONNECT_INDEX_MAX_DOWNLOAD", &mut limits.max_download),
            ("CONDA_CONNECT_INDEX_MAX_JSON", &mut limits.max_json),
            ("CONDA_CONNECT_INDEX_MAX_RECORD", &mut limits.max_record),
            ("CONDA_CONNECT_INDEX_MAX_FIELD", &mut limits.max_field),
            ("CONDA_CONNECT_INDEX_MAX_RECORDS", &mut limits.max_records),
            ("CONDA_CONNECT_INDEX_MAX_MEMORY", &mut limits.max_memory),
        ];
        for (name, slot) in vars {
            if let Ok(value) = std::env::var(name) {
                match parse_size(&value) {
                    Some(size) if size > 0 => *slot = size,
                    _ => tracing::warn!(%name, %value, "ignoring an unreadable index limit"),
                }
            }
        }
        // a field is stored with a 16-bit length
        limits.max_field = limits.max_field.min(u16::MAX as u64);
        limits
    }
}

/// "1048576", "64K", "512 MiB", "2G" → bytes.
pub(crate) fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let number: u64 = text[..digits].parse().ok()?;
    let unit = text[digits..].trim().to_ascii_lowercase();
    let mult = match unit.as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => KIB,
        "m" | "mb" | "mib" => MIB,
        "g" | "gb" | "gib" => GIB,
        _ => return None,
    };
    number.checked_mul(mult)
}

/// The whole-run memory ceiling: every directory's parser reserves what its rows hold before growing.
#[derive(Debug, Clone)]
pub struct MemoryBudget {
    used: Arc<AtomicU64>,
    max: u64,
}

impl MemoryBudget {
    pub fn new(max: u64) -> Self {
        MemoryBudget {
            used: Arc::new(AtomicU64::new(0)),
            max,
        }
    }

    /// Reserve `bytes` more; `Err` (and nothing reserved) when that would pass the ceiling.
    pub(crate) fn reserve(&self, bytes: u64) -> Result<(), Limit> {
        let mut current = self.used.load(Ordering::Relaxed);
        loop {
            let next = current.saturating_add(bytes);
            if next > self.max {
                return Err(Limit::Memory(self.max));
            }
            match self.used.compare_exchange_weak(
                current,
                next,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(()),
                Err(actual) => current = actual,
            }
        }
    }

    pub fn release(&self, bytes: u64) {
        self.used.fetch_sub(bytes, Ordering::AcqRel);
    }

    pub fn max(&self) -> u64 {
        self.max
    }

    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_print() {
        assert_eq!(parse_size("1048576"), Some(MIB));
        assert_eq!(parse_size("64K"), Some(64 * KIB));
        assert_eq!(parse_size("512 MiB"), Some(512 * MIB));
        assert_eq!(parse_size("2g"), Some(2 * GIB));
        assert_eq!(parse_size("2 parsecs"), None);
        assert_eq!(parse_size(""), None);
        assert_eq!(human(GIB), "1 GiB");
        assert_eq!(human(1536 * KIB), "1536 KiB");
        assert_eq!(human(1_600_000), "1.5 MiB");
        assert_eq!(human(100), "100 B");
        assert_eq!(
            Limit::Json(2 * GIB).to_string(),
            "2 GiB of JSON",
            "status reads 'too large (limit 2 GiB of JSON)'"
        );
    }

    #[test]
    fn budget_is_a_ceiling() {
        let budget = MemoryBudget::new(100);
        assert!(budget.reserve(60).is_ok());
        assert_eq!(budget.reserve(50), Err(Limit::Memory(100)));
        assert_eq!(budget.used(), 60, "a refused reservation takes nothing");
        budget.release(60);
        assert!(budget.reserve(100).is_ok());
    }
}
