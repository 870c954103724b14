//! Update Index: fetch `repodata.json` for every configured channel and subdir (current platform + noarch),
//! concurrently, through the access token (`…/api/repo/t/<token>/…`), with HTTP caching (ETag → If-None-Match →
//! 304 reuses the cached copy) and `repodata.json.zst` when the server has it. A channel that fails is reported
//! and does not stop the others. The result is a compact in-memory package index the GUI can search.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use crate::engine::client::{ServerClient, redact};
use crate::engine::condarc::CondaSettings;
use crate::engine::error::Result;
use crate::engine::files;

const DEFAULT_ALIAS: &str = "https://conda.anaconda.org";
const BUILTIN_DEFAULTS: [&str; 2] = [
    "https://repo.anaconda.com/pkgs/main",
    "https://repo.anaconda.com/pkgs/r",
];
const CONCURRENCY: usize = 8;

/// conda's name for this machine's platform.
pub fn platform_subdir() -> &'static str {
    match (std::env::consts::OS, std::env::consts::ARCH) {
        ("linux", "x86_64") => "linux-64",
        ("linux", "aarch64") => "linux-aarch64",
        ("linux", "powerpc64") => "linux-ppc64le",
        ("macos", "x86_64") => "osx-64",
        ("macos", "aarch64") => "osx-arm64",
        ("windows", "x86_64") => "win-64",
        ("windows", "aarch64") => "win-arm64",
        _ => "linux-64",
    }
}

/// One configured channel: its name as configured and its base URL (no token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelSource {
    pub name: String,
    pub url: String,
}

/// The channels conda would use: `channels`, with `defaults` expanded to `default_channels` (or conda's built-in
/// defaults), names resolved through `channel_alias`.
pub fn configured_channels(settings: &CondaSettings) -> Vec<ChannelSource> {
    let alias = settings
        .channel_alias
        .clone()
        .unwrap_or_else(|| DEFAULT_ALIAS.into());
    let alias = alias.trim_end_matches('/');
    let resolve = |name: &str| -> ChannelSource {
        let url = if name.contains("://") {
            name.trim_end_matches('/').to_string()
        } else {
            format!("{alias}/{name}")
        };
        ChannelSource {
            name: name.to_string(),
            url,
        }
    };
    let channels = match &settings.channels {
        Some(c) if !c.is_empty() => c.clone(),
        _ => vec!["defaults".into()],
    };
    let mut out: Vec<ChannelSource> = Vec::new();
    for name in channels {
        if name == "defaults" {
            match &settings.default_channels {
                Some(d) if !d.is_empty() => out.extend(d.iter().map(|n| resolve(n))),
                _ => out.extend(BUILTIN_DEFAULTS.iter().map(|u| resolve(u))),
            }
        } else {
            out.push(resolve(&name));
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|c| seen.insert(c.url.clone()));
    out
}

/// Insert the token the way conda does for URLs under `<domain>/api/repo`.
pub fn tokenized(url: &str, domain: &str, token: Option<&str>) -> String {
    let prefix = format!("{domain}/api/repo/");
    match (token, url.strip_prefix(&prefix)) {
        (Some(t), Some(rest)) if !rest.starts_with("t/") => format!("{prefix}t/{t}/{rest}"),
        _ => url.to_string(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FetchStatus {
    Ok,
    Cached,
    Unauthorized,
    Forbidden,
    NotFound,
    Failed,
}

impl FetchStatus {
    pub fn label(self) -> &'static str {
        match self {
            FetchStatus::Ok => "ok",
            FetchStatus::Cached => "cached",
            FetchStatus::Unauthorized => "401",
            FetchStatus::Forbidden => "403",
            FetchStatus::NotFound => "404",
            FetchStatus::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelReport {
    pub name: String,
    pub subdir: String,
    pub packages: usize,
    pub status: String,
    #[serde(skip)]
    pub bytes: u64,
}

/// One package of the in-memory index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackageRow {
    pub name: String,
    pub version: String,
    pub build: String,
    /// Shared by every row of a channel directory (one allocation, not one per row).
    pub channel: Arc<str>,
    pub subdir: Arc<str>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct IndexReport {
    pub channels: Vec<ChannelReport>,
    pub packages_total: usize,
    pub elapsed_ms: u64,
    #[serde(skip)]
    pub packages: Vec<PackageRow>,
}

/// Progress events for a progress bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    Started { total: usize },
    Done { report: ChannelReport },
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct CacheInfo {
    etag: Option<String>,
    last_modified: Option<String>,
    /// Whether `repodata.json.zst` exists (None = not yet checked).
    has_zst: Option<bool>,
}

/// Only what the index keeps of a record, borrowed from the JSON (no allocation per field unless escaped).
#[derive(Deserialize)]
struct RepoData<'a> {
    #[serde(default, borrow)]
    packages: HashMap<Cow<'a, str>, Record<'a>>,
    #[serde(default, borrow, rename = "packages.conda")]
    packages_conda: HashMap<Cow<'a, str>, Record<'a>>,
}

#[derive(Deserialize)]
struct Record<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(borrow)]
    version: Cow<'a, str>,
    #[serde(default, borrow)]
    build: Cow<'a, str>,
}

/// The cached, already-parsed rows of one channel directory: `name\tversion\tbuild` lines between a header
/// with the count and an end marker, so that a truncated or corrupt file is detected (and the data refetched).
mod rows_cache {
    const HEADER: &str = "conda-connect-index 1 ";
    const END: &str = "#end";

    pub fn encode(rows: &[(String, String, String)]) -> Vec<u8> {
        let mut out = String::with_capacity(rows.len() * 32 + 64);
        out.push_str(HEADER);
        out.push_str(&rows.len().to_string());
        out.push('\n');
        for (n, v, b) in rows {
            for field in [n, v, b] {
                out.extend(field.chars().filter(|c| *c != '\t' && *c != '\n'));
                out.push('\t');
            }
            out.pop();
            out.push('\n');
        }
        out.push_str(END);
        out.into_bytes()
    }

    pub fn decode(bytes: &[u8]) -> Option<Vec<(String, String, String)>> {
        let text = std::str::from_utf8(bytes).ok()?;
        let body = text.strip_suffix(END)?;
        let (header, lines) = body.split_once('\n')?;
        let count: usize = header.strip_prefix(HEADER)?.parse().ok()?;
        let mut rows = Vec::with_capacity(count);
        for line in lines.lines() {
            let mut f = line.split('\t');
            rows.push((
                f.next()?.to_string(),
                f.next()?.to_string(),
                f.next()?.to_string(),
            ));
        }
        (rows.len() == count).then_some(rows)
    }
}

/// Fetch every channel × subdir.
pub async fn update_index(
    client: &ServerClient,
    settings: &CondaSettings,
    token: Option<&str>,
    cache_dir: &Path,
    progress: impl Fn(Progress) + Send + Sync,
) -> Result<IndexReport> {
    let start = Instant::now();
    let sources = configured_channels(settings);
    let subdirs = [platform_subdir(), "noarch"];
    let jobs: Vec<(ChannelSource, String)> = sources
        .iter()
        .flat_map(|s| subdirs.iter().map(move |d| (s.clone(), d.to_string())))
        .collect();
    progress(Progress::Started { total: jobs.len() });
    files::create_private_dir(cache_dir)?;
    let domain = client.domain().to_string();
    let results: Vec<(ChannelReport, Vec<PackageRow>)> = futures_util::stream::iter(jobs)
        .map(|(source, subdir)| {
            let domain = domain.clone();
            async move { fetch_one(client, &source, &subdir, &domain, token, cache_dir).await }
        })
        .buffer_unordered(CONCURRENCY)
        .inspect(|(report, _)| {
            progress(Progress::Done {
                report: report.clone(),
            })
        })
        .collect()
        .await;
    let mut report = IndexReport::default();
    for (r, rows) in results {
        report.channels.push(r);
        report.packages.extend(rows);
    }
    report
        .channels
        .sort_by(|a, b| (&a.name, &a.subdir).cmp(&(&b.name, &b.subdir)));
    report
        .packages
        // each directory's rows are sorted already (see parse_rows): a stable, run-adaptive sort merges them
        .sort_by(|a, b| (&a.name, &a.version, &a.channel).cmp(&(&b.name, &b.version, &b.channel)));
    report.packages_total = report.packages.len();
    report.elapsed_ms = start.elapsed().as_millis() as u64;
    Ok(report)
}

fn cache_paths(cache_dir: &Path, url: &str) -> (PathBuf, PathBuf) {
    let key = format!("{:x}", md5::compute(url.as_bytes()));
    (
        cache_dir.join(format!("{key}.rows")),
        cache_dir.join(format!("{key}.info.json")),
    )
}

/// Parse repodata into rows (off the async threads: this is the CPU-heavy part).
async fn parse_rows(raw: Vec<u8>) -> Option<Vec<(String, String, String)>> {
    tokio::task::spawn_blocking(move || {
        let rd: RepoData<'_> = serde_json::from_slice(&raw).ok()?;
        let mut rows = Vec::with_capacity(rd.packages.len() + rd.packages_conda.len());
        for r in rd
            .packages
            .into_values()
            .chain(rd.packages_conda.into_values())
        {
            rows.push((
                r.name.into_owned(),
                r.version.into_owned(),
                r.build.into_owned(),
            ));
        }
        rows.sort_unstable_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        Some(rows)
    })
    .await
    .ok()
    .flatten()
}

async fn fetch_one(
    client: &ServerClient,
    source: &ChannelSource,
    subdir: &str,
    domain: &str,
    token: Option<&str>,
    cache_dir: &Path,
) -> (ChannelReport, Vec<PackageRow>) {
    let base = format!("{}/{subdir}/repodata.json", source.url);
    let (rows_path, info_path) = cache_paths(cache_dir, &base);
    let info_bytes = std::fs::read(&info_path).ok();
    let mut info: CacheInfo = info_bytes
        .as_deref()
        .and_then(|b| serde_json::from_slice(b).ok())
        .unwrap_or_default();
    // a missing, truncated or corrupt cache is simply not used: the data is fetched again in full
    let cached = std::fs::read(&rows_path)
        .ok()
        .and_then(|b| rows_cache::decode(&b));
    if cached.is_none() {
        info.etag = None;
        info.last_modified = None;
    }
    let mut report = ChannelReport {
        name: source.name.clone(),
        subdir: subdir.into(),
        packages: 0,
        status: String::new(),
        bytes: 0,
    };
    let mut status = FetchStatus::Failed;
    let mut rows: Option<Vec<(String, String, String)>> = None;
    let variants: &[(&str, bool)] = if info.has_zst == Some(false) {
        &[("", false)]
    } else {
        &[(".zst", true), ("", false)]
    };
    for &(suffix, zst) in variants {
        let url = tokenized(&format!("{base}{suffix}"), domain, token);
        let mut rb = client.http().get(&url);
        if let Some(etag) = &info.etag {
            rb = rb.header("If-None-Match", etag);
        }
        if let Some(lm) = &info.last_modified {
            rb = rb.header("If-Modified-Since", lm);
        }
        let resp = match rb.send().await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(url = %redact(&url), error = %redact(&e.to_string()), "repodata fetch failed");
                break;
            }
        };
        match resp.status().as_u16() {
            304 if cached.is_some() => {
                status = FetchStatus::Cached;
                rows = cached.clone();
            }
            200 => {
                let etag = resp
                    .headers()
                    .get("etag")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                let lm = resp
                    .headers()
                    .get("last-modified")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                let Ok(bytes) = resp.bytes().await else { break };
                report.bytes = bytes.len() as u64;
                let raw = if zst {
                    zstd::decode_all(&bytes[..]).ok()
                } else {
                    Some(bytes.to_vec())
                };
                match raw {
                    Some(raw) => match parse_rows(raw).await {
                        Some(parsed) => {
                            let _ = files::write_atomic(
                                &rows_path,
                                &rows_cache::encode(&parsed),
                                Some(0o600),
                            );
                            info.etag = etag;
                            info.last_modified = lm;
                            if zst {
                                info.has_zst = Some(true);
                            }
                            status = FetchStatus::Ok;
                            rows = Some(parsed);
                        }
                        None => tracing::warn!(url = %redact(&url), "repodata unreadable"),
                    },
                    None => {
                        tracing::warn!(url = %redact(&url), "repodata.json.zst could not be decompressed")
                    }
                }
            }
            404 if zst => {
                info.has_zst = Some(false);
                continue;
            }
            404 => status = FetchStatus::NotFound,
            401 => status = FetchStatus::Unauthorized,
            403 => status = FetchStatus::Forbidden,
            _ => {}
        }
        break;
    }
    // unchanged (a 304): no rewrite, no fsync
    if let Ok(json) = serde_json::to_vec(&info)
        && info_bytes.as_deref() != Some(json.as_slice())
    {
        let _ = files::write_atomic(&info_path, &json, Some(0o600));
    }
    let (channel, subdir): (Arc<str>, Arc<str>) =
        (Arc::from(source.name.as_str()), Arc::from(subdir));
    let rows: Vec<PackageRow> = rows
        .unwrap_or_default()
        .into_iter()
        .map(|(name, version, build)| PackageRow {
            name,
            version,
            build,
            channel: channel.clone(),
            subdir: subdir.clone(),
        })
        .collect();
    report.packages = rows.len();
    report.status = status.label().into();
    (report, rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_resolve_like_conda() {
        let s = CondaSettings {
            channel_alias: Some("http://h/api/repo".into()),
            channels: Some(vec![
                "defaults".into(),
                "internal".into(),
                "https://other/x".into(),
            ]),
            default_channels: Some(vec!["main".into()]),
            ..Default::default()
        };
        let urls: Vec<String> = configured_channels(&s).into_iter().map(|c| c.url).collect();
        assert_eq!(
            urls,
            vec![
                "http://h/api/repo/main",
                "http://h/api/repo/internal",
                "https://other/x"
            ]
        );
        assert_eq!(
            tokenized(
                "http://h/api/repo/main/noarch/repodata.json",
                "http://h",
                Some("abc")
            ),
            "http://h/api/repo/t/abc/main/noarch/repodata.json"
        );
        assert_eq!(
            tokenized(
                "https://other/x/noarch/repodata.json",
                "http://h",
                Some("abc")
            ),
            "https://other/x/noarch/repodata.json"
        );
    }
}
