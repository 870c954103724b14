//! Update Index: fetch `repodata.json` for every configured channel and subdir (current platform + noarch),
//! concurrently, through the access token (`…/api/repo/t/<token>/…`), with HTTP caching (ETag → If-None-Match →
//! 304 reuses the cached rows) and `repodata.json.zst` when the server has it. A channel directory that fails is
//! reported and does not stop the others.
//!
//! Each body is streamed — received, decompressed, scanned ([`scan`]) and written as compact rows ([`store`]) —
//! within bounds ([`limits`]): what a server sends can cost at most those bounds in time and memory, and a
//! directory that passes one reads "too large (limit …)". The result is a [`PackageIndex`]: handles on the row
//! stores, loaded (memory-mapped) only when someone searches; a run that finds everything unchanged reads no rows.
//!
//! The cache (`~/.cache/conda-connect/repodata/<server>/`) holds private channels' package names:
//! [`remove_server_cache`] removes a server's part at sign-out.

mod cache_file;
mod channels;
pub mod limits;
pub mod order;
pub(crate) mod scan;
pub mod store;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use sipper::{Sender, Straw};

pub use channels::{ChannelSource, channel_alias, platform_subdir, resolve_channel};
pub(crate) use channels::{configured_channels, tokenized};
pub use limits::Limit;
pub(crate) use limits::Limits;
pub use order::{PackageColumn, sorted_positions};
pub use store::{LoadedIndex, Matches, PackageIndex, PackageRef};

use crate::engine::client::{ServerClient, redact};
use crate::engine::condarc::CondaSettings;
use crate::engine::error::{Error, Result};
use scan::{ScanError, Summary};
use store::StoreFile;

const CONCURRENCY: usize = 8;
/// Cache info files are a few hundred bytes; anything bigger is not ours.
const MAX_INFO: u64 = 64 * 1024;
/// A `.zst` found unreadable is not asked for again for this long (the plain file is used meanwhile).
const ZST_RETRY_SECS: i64 = 24 * 3600;

/// How one channel directory's fetch ended. It reads (in the report, the command's output and `--json`) as
/// "ok", "cached", "401", "403", "404", "failed" or "too large (limit …)".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchStatus {
    Ok,
    Cached,
    Unauthorized,
    Forbidden,
    NotFound,
    Failed,
    /// A bound ([`limits`]) was passed.
    TooLarge(Limit),
}

impl fmt::Display for FetchStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchStatus::Ok => f.write_str("ok"),
            FetchStatus::Cached => f.write_str("cached"),
            FetchStatus::Unauthorized => f.write_str("401"),
            FetchStatus::Forbidden => f.write_str("403"),
            FetchStatus::NotFound => f.write_str("404"),
            FetchStatus::Failed => f.write_str("failed"),
            FetchStatus::TooLarge(limit) => write!(f, "too large (limit {limit})"),
        }
    }
}

/// Serialized as its words ([`fmt::Display`]), the strings `update-index --json` has always had.
impl Serialize for FetchStatus {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The outcome for one channel directory. `skipped` counts records that were not valid package records; `note` says in words
/// what else happened (a fallback, the reason of a failure).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelReport {
    pub name: String,
    /// The channel's base URL (no token).
    #[serde(skip)]
    pub url: String,
    pub subdir: String,
    pub packages: usize,
    pub status: FetchStatus,
    #[serde(skip_serializing_if = "is_zero")]
    pub skipped: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(skip)]
    pub bytes: u64,
    #[serde(skip)]
    pub phases: PhaseTimes,
    /// The signed-in server the channel lives on (its token was sent); `None` for any other channel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
}

impl ChannelReport {
    /// The fetch worked (fresh, or unchanged from the cache).
    pub fn succeeded(&self) -> bool {
        matches!(self.status, FetchStatus::Ok | FetchStatus::Cached)
    }

    /// A platform directory the server does not have (403 or 404): conda takes it as empty, so it is no failure
    /// (a channel of pure-Python packages has only `noarch`). The same answer for `noarch` is.
    pub(crate) fn empty_for_conda(&self) -> bool {
        self.subdir != "noarch"
            && matches!(self.status, FetchStatus::NotFound | FetchStatus::Forbidden)
    }

    /// The fetch failed in a way conda fails too.
    pub fn failed(&self) -> bool {
        !self.succeeded() && !self.empty_for_conda()
    }
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

/// Where the work of a run went, summed over channel directories (they run concurrently, so the sum can pass the
/// wall time): waiting for bytes from the network, decompressing, scanning the JSON, sorting and writing rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PhaseTimes {
    pub network_wait_ms: u64,
    pub decompress_ms: u64,
    pub parse_ms: u64,
    pub write_ms: u64,
}

impl PhaseTimes {
    fn add(&mut self, other: &PhaseTimes) {
        self.network_wait_ms += other.network_wait_ms;
        self.decompress_ms += other.decompress_ms;
        self.parse_ms += other.parse_ms;
        self.write_ms += other.write_ms;
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct IndexReport {
    pub channels: Vec<ChannelReport>,
    pub packages_total: usize,
    pub elapsed_ms: u64,
    pub phases_ms: PhaseTimes,
    /// The rows, loaded on demand ([`PackageIndex::load`]).
    #[serde(skip)]
    pub packages: PackageIndex,
}

/// Progress events for a progress bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    Started { total: usize },
    Done { report: ChannelReport },
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
struct CacheInfo {
    etag: Option<String>,
    last_modified: Option<String>,
    /// Whether `repodata.json.zst` exists (None = not yet checked).
    has_zst: Option<bool>,
    /// Why the `.zst` was last found unreadable, and when (seconds since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    zst_problem: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    zst_problem_at: Option<i64>,
    /// Rows in the store and records skipped when it was written.
    #[serde(default)]
    rows: Option<u64>,
    #[serde(default)]
    skipped: u64,
}

/// The directory holding one server's cached rows.
fn server_dir(cache_dir: &Path, domain: &str) -> PathBuf {
    let key = domain.trim_end_matches('/').to_ascii_lowercase();
    cache_dir.join(format!("server-{:x}", md5::compute(key.as_bytes())))
}

/// Remove everything Update Index cached while signed in to `domain` (the package names of its private
/// channels), and any cache file of the earlier flat layout. `cache_dir` is [`crate::engine::paths::Paths::repodata_cache`].
/// Returns whether anything was removed; a missing cache is not an error. Links are removed, never followed.
pub(crate) fn remove_server_cache(cache_dir: &Path, domain: &str) -> Result<bool> {
    let dir = server_dir(cache_dir, domain);
    let mut removed = match std::fs::symlink_metadata(&dir) {
        Ok(metadata) if metadata.file_type().is_dir() => {
            std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, &e))?;
            true
        }
        Ok(_) => {
            std::fs::remove_file(&dir).map_err(|e| Error::io(&dir, &e))?;
            true
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => false,
        Err(error) => return Err(Error::io(&dir, &error)),
    };
    removed |= remove_flat_layout(cache_dir);
    Ok(removed)
}

/// Earlier versions kept `<hash>.rows` / `<hash>.info.json` directly in the cache directory, for any server.
fn remove_flat_layout(cache_dir: &Path) -> bool {
    let mut removed = false;
    if let Ok(entries) = std::fs::read_dir(cache_dir) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if (name.ends_with(".rows") || name.ends_with(".info.json"))
                && std::fs::remove_file(entry.path()).is_ok()
            {
                removed = true;
            }
        }
    }
    removed
}

/// Temporary row stores left by a run that was killed (an hour old: a concurrent run's are younger).
fn remove_stale_temp_files(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let old = entry
            .metadata()
            .ok()
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > Duration::from_secs(3600));
        if name.starts_with(".rows-") && name.ends_with(".tmp") && old {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Fetch every channel × subdir, with the bounds from the environment ([`Limits::from_env`]): a sipper whose
/// progress is one [`Progress`] per finished directory, and whose output is the report. Await it to ignore the
/// progress; sip it (or hand it to the window's `Task::sip`) to see each step.
pub fn update_index<'a>(
    client: &'a ServerClient,
    settings: &'a CondaSettings,
    token: Option<&'a str>,
    cache_dir: &'a Path,
) -> impl Straw<IndexReport, Progress, Error> + 'a {
    sipper::sipper(move |progress| async move {
        let limits = Limits::from_env();
        update_index_with(client, settings, token, &[], cache_dir, &limits, progress).await
    })
}

/// [`update_index`] with explicit bounds, reporting progress to `progress`.
/// `others`: the secondary servers' (domain, token), each used for the channels under its `/api/repo`.
pub(crate) async fn update_index_with(
    client: &ServerClient,
    settings: &CondaSettings,
    token: Option<&str>,
    others: &[(String, String)],
    cache_dir: &Path,
    limits: &Limits,
    mut progress: Sender<Progress>,
) -> Result<IndexReport> {
    let start = Instant::now();
    let sources = configured_channels(settings);
    let subdirs = [platform_subdir(), "noarch"];
    let jobs: Vec<(ChannelSource, String)> = sources
        .iter()
        .flat_map(|s| subdirs.iter().map(move |d| (s.clone(), d.to_string())))
        .collect();
    progress.send(Progress::Started { total: jobs.len() }).await;
    let domain = client.domain().to_string();
    let dir = server_dir(cache_dir, &domain);
    cache_file::ensure_dir(cache_dir).map_err(|e| Error::io(cache_dir, &e))?;
    cache_file::ensure_dir(&dir).map_err(|e| Error::io(&dir, &e))?;
    remove_flat_layout(cache_dir);
    remove_stale_temp_files(&dir);
    let budget = limits::MemoryBudget::new(limits.max_memory);
    let results: Vec<(ChannelReport, Option<StoreFile>)> = futures_util::stream::iter(jobs)
        .map(|(source, subdir)| {
            let job = Job {
                client,
                domain: &domain,
                token,
                others,
                dir: &dir,
                limits,
                budget: budget.clone(),
            };
            async move { job.fetch(&source, &subdir).await }
        })
        .buffer_unordered(CONCURRENCY)
        .then(|(report, store)| {
            let mut progress = progress.clone();
            async move {
                let done = Progress::Done {
                    report: report.clone(),
                };
                progress.send(done).await;
                (report, store)
            }
        })
        .collect()
        .await;
    let mut report = IndexReport::default();
    for (r, store) in results {
        report.phases_ms.add(&r.phases);
        if let Some(store) = store {
            report.packages.push(&r.name, &r.subdir, store);
        }
        report.channels.push(r);
    }
    report
        .channels
        .sort_by(|a, b| (&a.name, &a.subdir).cmp(&(&b.name, &b.subdir)));
    report.packages_total = report.packages.len();
    report.elapsed_ms = start.elapsed().as_millis() as u64;
    Ok(report)
}

/// What one channel directory's fetch shares with the run.
struct Job<'a> {
    client: &'a ServerClient,
    domain: &'a str,
    token: Option<&'a str>,
    others: &'a [(String, String)],
    dir: &'a Path,
    limits: &'a Limits,
    budget: limits::MemoryBudget,
}

fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// One channel directory's cache: its row store and the record of the validators that name it.
struct CacheEntry {
    /// The store's tie to the repodata URL it came from.
    binding: store::Binding,
    rows_path: PathBuf,
    info_path: PathBuf,
    /// The record file as it was read: it is rewritten only when it changes.
    info_bytes: Option<Vec<u8>>,
    info: CacheInfo,
    /// The cached store, while it is usable.
    cached: Option<StoreFile>,
}

impl CacheEntry {
    /// The cache for `repodata_url` in `dir`. A missing, truncated or foreign store is simply not used (and its
    /// validators are forgotten): the data is fetched again in full.
    fn open(dir: &Path, repodata_url: &str, max_rows: u64) -> CacheEntry {
        let binding: store::Binding = md5::compute(repodata_url.as_bytes()).0;
        let key = format!("{:x}", md5::Digest(binding));
        let rows_path = dir.join(format!("{key}.rows"));
        let info_path = dir.join(format!("{key}.info.json"));
        let info_bytes = cache_file::read_small(&info_path, MAX_INFO);
        let mut info: CacheInfo = info_bytes
            .as_deref()
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or_default();
        let cached = store::open(&rows_path, &binding, max_rows)
            .filter(|s| info.rows.is_none_or(|r| r == s.rows));
        if cached.is_none() {
            info.etag = None;
            info.last_modified = None;
        }
        CacheEntry {
            binding,
            rows_path,
            info_path,
            info_bytes,
            info,
            cached,
        }
    }

    /// Which variants to ask for, in order (`true`: `.zst`): the `.zst` first unless the server has none, or the
    /// last one was unreadable less than [`ZST_RETRY_SECS`] ago.
    fn variants(&self, now: i64) -> &'static [bool] {
        let recently_broken = self
            .info
            .zst_problem_at
            .is_some_and(|at| (0..ZST_RETRY_SECS).contains(&(now - at)));
        if self.info.has_zst != Some(false) && !recently_broken {
            &[true, false]
        } else {
            &[false]
        }
    }

    /// Write the record back if it changed (unchanged, a 304: no rewrite).
    fn save(&self) {
        if let Ok(json) = serde_json::to_vec(&self.info)
            && self.info_bytes.as_deref() != Some(json.as_slice())
        {
            let _ = cache_file::clear_if_not_regular(&self.info_path);
            let _ = crate::engine::files::write_atomic(&self.info_path, &json, Some(0o600));
        }
    }
}

/// What a 200's body came to.
enum Received {
    /// Rows written.
    Stored(StoreFile),
    /// The `.zst` was unreadable: ask for the plain file.
    TryPlain,
    /// Nothing usable (the report says why).
    Failed,
}

impl Job<'_> {
    /// The signed-in server whose token goes into `url`.
    fn server_of(&self, url: &str) -> Option<String> {
        std::iter::once((self.domain, self.token))
            .chain(
                self.others
                    .iter()
                    .map(|(d, t)| (d.as_str(), Some(t.as_str()))),
            )
            .find(|(domain, token)| token.is_some() && tokenized(url, domain, *token) != url)
            .map(|(domain, _)| domain.to_string())
    }

    async fn fetch(
        &self,
        source: &ChannelSource,
        subdir: &str,
    ) -> (ChannelReport, Option<StoreFile>) {
        let base = format!("{}/{subdir}/repodata.json", source.url);
        let mut entry = CacheEntry::open(self.dir, &base, self.limits.max_records);
        let mut report = ChannelReport {
            name: source.name.clone(),
            url: source.url.clone(),
            subdir: subdir.into(),
            packages: 0,
            status: FetchStatus::Failed,
            skipped: 0,
            note: None,
            bytes: 0,
            phases: PhaseTimes::default(),
            server: self.server_of(&format!("{}/", source.url)),
        };
        let now = chrono::Utc::now().timestamp();
        let mut store: Option<StoreFile> = None;
        for &zst in entry.variants(now) {
            let plain = format!("{base}{}", if zst { ".zst" } else { "" });
            let url = std::iter::once((self.domain, self.token))
                .chain(
                    self.others
                        .iter()
                        .map(|(d, t)| (d.as_str(), Some(t.as_str()))),
                )
                .map(|(domain, token)| tokenized(&plain, domain, token))
                .find(|url| *url != plain)
                .unwrap_or(plain);
            let resp = match self.request(&url, &entry.info).await {
                Ok(response) => response,
                Err(note) => {
                    report.note = Some(note);
                    break;
                }
            };
            match resp.status().as_u16() {
                304 if entry.cached.is_some() => {
                    report.status = FetchStatus::Cached;
                    report.skipped = entry.info.skipped;
                    store = entry.cached.clone();
                }
                200 => match self
                    .receive(resp, zst, &url, &mut entry, &mut report, now)
                    .await
                {
                    Received::Stored(written) => store = Some(written),
                    Received::TryPlain => continue,
                    Received::Failed => {}
                },
                404 if zst => {
                    entry.info.has_zst = Some(false);
                    continue;
                }
                404 => report.status = FetchStatus::NotFound,
                401 => report.status = FetchStatus::Unauthorized,
                403 => report.status = FetchStatus::Forbidden,
                code => report.note = Some(format!("the server answered HTTP {code}")),
            }
            break;
        }
        entry.save();
        report.packages = store.as_ref().map_or(0, |s| s.rows as usize);
        (report, store)
    }

    /// Ask for `url`, conditionally on the cached validators. A request that gets no answer is the note that says
    /// so.
    async fn request(
        &self,
        url: &str,
        info: &CacheInfo,
    ) -> std::result::Result<reqwest::Response, String> {
        let mut rb = self.client.http().get(url);
        if let Some(etag) = &info.etag {
            rb = rb.header("If-None-Match", etag);
        }
        if let Some(lm) = &info.last_modified {
            rb = rb.header("If-Modified-Since", lm);
        }
        rb.send().await.map_err(|error| {
            tracing::warn!(url = %redact(url), error = %redact(&error.to_string()), "repodata fetch failed");
            if error.is_timeout() {
                "the server did not answer in time".into()
            } else {
                "the server could not be reached".into()
            }
        })
    }

    /// A 200: stream the body into a new row store, and record in `entry` and `report` how it went.
    async fn receive(
        &self,
        resp: reqwest::Response,
        zst: bool,
        url: &str,
        entry: &mut CacheEntry,
        report: &mut ChannelReport,
        now: i64,
    ) -> Received {
        // the old rows are replaced: let go of them first (Windows cannot replace a file that is open), and of the
        // validators that named them, so a failure below fetches in full next time
        drop(entry.cached.take());
        entry.info.etag = None;
        entry.info.last_modified = None;
        let etag = header(&resp, "etag");
        let last_modified = header(&resp, "last-modified");
        let streamed = stream_rows(
            resp,
            zst,
            self.limits,
            &self.budget,
            &entry.rows_path,
            entry.binding,
        )
        .await;
        match streamed {
            Ok(streamed) => {
                let info = &mut entry.info;
                info.etag = etag;
                info.last_modified = last_modified;
                info.rows = Some(streamed.store.rows);
                info.skipped = streamed.summary.skipped;
                if zst {
                    info.has_zst = Some(true);
                    info.zst_problem = None;
                    info.zst_problem_at = None;
                }
                report.record_rows(&streamed);
                return Received::Stored(streamed.store);
            }
            Err(ScanError::Corrupt(why)) if zst => {
                tracing::warn!(url = %redact(url), %why, "repodata.json.zst unreadable; using repodata.json");
                report.note = Some(format!(
                    "repodata.json.zst is unreadable ({why}); repodata.json was used"
                ));
                entry.info.zst_problem = Some(why);
                entry.info.zst_problem_at = Some(now);
                return Received::TryPlain;
            }
            Err(ScanError::TooLarge(limit)) => {
                tracing::warn!(url = %redact(url), %limit, "repodata too large");
                report.status = FetchStatus::TooLarge(limit);
            }
            Err(ScanError::Corrupt(why)) => {
                tracing::warn!(url = %redact(url), %why, "repodata unreadable");
                report.note = Some(why);
            }
            Err(ScanError::Transfer(why)) => {
                tracing::warn!(url = %redact(url), why = %redact(&why), "repodata transfer failed");
                report.note = Some("the transfer was interrupted".into());
            }
            Err(ScanError::Write(why)) => {
                tracing::warn!(path = %entry.rows_path.display(), %why, "index cache not written");
                report.note = Some(format!("the index cache could not be written ({why})"));
            }
        }
        Received::Failed
    }
}

impl ChannelReport {
    /// A fetch that wrote its rows: "ok", with what the scan skipped (a note from a `.zst` fallback stays).
    fn record_rows(&mut self, streamed: &Streamed) {
        let skipped = streamed.summary.skipped;
        self.status = FetchStatus::Ok;
        self.phases = streamed.phases;
        self.skipped = skipped;
        self.bytes = streamed.received;
        if skipped > 0 {
            self.note.get_or_insert_with(|| {
                format!(
                    "{skipped} record{} skipped: not valid package records",
                    if skipped == 1 { "" } else { "s" }
                )
            });
        }
    }
}

/// A body received into a row store by [`stream_rows`].
struct Streamed {
    store: StoreFile,
    /// What the scan found (records taken and skipped).
    summary: Summary,
    /// Bytes received (compressed, for a `.zst`).
    received: u64,
    phases: PhaseTimes,
}

/// Receive a body, decompress it if `zst`, scan it and write the row store — all bounded. The network side stays
/// on the async runtime; decompressing, scanning and writing run on a blocking thread fed through a small channel
/// (back-pressure: a slow parser slows the download instead of buffering it).
async fn stream_rows(
    resp: reqwest::Response,
    zst: bool,
    limits: &Limits,
    budget: &limits::MemoryBudget,
    dest: &Path,
    binding: store::Binding,
) -> Result<Streamed, ScanError> {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::result::Result<Bytes, String>>(8);
    let limits = *limits;
    let budget = budget.clone();
    let dest = dest.to_path_buf();
    let worker = tokio::task::spawn_blocking(move || {
        let mut body = BodyReader {
            rx,
            current: Bytes::new(),
            received: 0,
            max: limits.max_download,
            waited: Duration::ZERO,
        };
        let mut arena = store::RowArena::new(budget);
        let started = Instant::now();
        let (summary, in_reader) = if zst {
            let mut decoder = zstd::stream::read::Decoder::new(&mut body)
                .map_err(|e| ScanError::Corrupt(format!("zstd: {e}")))?;
            decoder
                .window_log_max(limits::ZSTD_WINDOW_LOG_MAX)
                .map_err(|e| ScanError::Corrupt(format!("zstd: {e}")))?;
            let mut timed = Timed {
                inner: decoder,
                spent: Duration::ZERO,
            };
            let summary = scan::scan(&mut timed, &limits, |n, v, b| arena.push(n, v, b))?;
            (summary, timed.spent)
        } else {
            let summary = scan::scan(&mut body, &limits, |n, v, b| arena.push(n, v, b))?;
            (summary, body.waited)
        };
        let scanned = started.elapsed();
        let written = arena
            .write(&dest, &binding)
            .map_err(|e| ScanError::Write(e.to_string()))?;
        let ms = |d: Duration| d.as_millis() as u64;
        let phases = PhaseTimes {
            network_wait_ms: ms(body.waited),
            decompress_ms: ms(in_reader.saturating_sub(body.waited)),
            parse_ms: ms(scanned.saturating_sub(in_reader)),
            write_ms: ms(started.elapsed() - scanned),
        };
        Ok(Streamed {
            store: written,
            summary,
            received: body.received,
            phases,
        })
    });
    let mut stream = resp.bytes_stream();
    while let Some(item) = stream.next().await {
        let item = item.map_err(|e| e.to_string());
        let failed = item.is_err();
        // a closed channel: the worker stopped (a bound or an error); dropping the stream ends the transfer
        if tx.send(item).await.is_err() || failed {
            break;
        }
    }
    drop(tx);
    drop(stream);
    match worker.await {
        Ok(result) => result,
        Err(error) => Err(ScanError::Corrupt(format!("the parser stopped ({error})"))),
    }
}

/// The response body as a blocking `Read`, counting bytes against the download bound.
struct BodyReader {
    rx: tokio::sync::mpsc::Receiver<std::result::Result<Bytes, String>>,
    current: Bytes,
    received: u64,
    max: u64,
    /// Time spent waiting for the network.
    waited: Duration,
}

/// A reader that adds up the time spent inside it.
struct Timed<R> {
    inner: R,
    spent: Duration,
}

impl<R: std::io::Read> std::io::Read for Timed<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let started = Instant::now();
        let result = self.inner.read(out);
        self.spent += started.elapsed();
        result
    }
}

impl std::io::Read for BodyReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            let started = Instant::now();
            let next = self.rx.blocking_recv();
            self.waited += started.elapsed();
            match next {
                None => return Ok(0),
                Some(Ok(chunk)) => {
                    self.received += chunk.len() as u64;
                    if self.received > self.max {
                        return Err(std::io::Error::other(scan::LimitExceeded(Limit::Download(
                            self.max,
                        ))));
                    }
                    self.current = chunk;
                }
                Some(Err(error)) => return Err(std::io::Error::other(scan::TransferFailed(error))),
            }
        }
        let count = out.len().min(self.current.len());
        out[..count].copy_from_slice(&self.current[..count]);
        bytes::Buf::advance(&mut self.current, count);
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_cache_is_removed_and_only_it() {
        let cache = tempfile::tempdir().unwrap();
        let server_a = server_dir(cache.path(), "http://a.example/");
        let server_b = server_dir(cache.path(), "http://b.example");
        assert_eq!(server_a, server_dir(cache.path(), "HTTP://A.example"));
        for dir in [&server_a, &server_b] {
            std::fs::create_dir_all(dir).unwrap();
            std::fs::write(dir.join("x.rows"), b"names").unwrap();
        }
        std::fs::write(cache.path().join("old.rows"), b"names").unwrap();
        assert!(remove_server_cache(cache.path(), "http://a.example").unwrap());
        assert!(!server_a.exists());
        assert!(server_b.join("x.rows").exists());
        assert!(
            !cache.path().join("old.rows").exists(),
            "the flat layout goes too"
        );
        assert!(!remove_server_cache(cache.path(), "http://a.example").unwrap());
        assert!(!remove_server_cache(&cache.path().join("missing"), "http://a.example").unwrap());
    }
}
