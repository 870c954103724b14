//! Update Index against a hostile repository server (in this file, on loopback): zstd bombs, bodies larger than
//! any repodata, endless chunked bodies, a gigabyte-long package name, a corrupt `.zst` next to a valid plain
//! file, bad records, and cache entries that are FIFOs, directories or links to /dev/zero. The real binary runs
//! each time; its status per channel directory and its peak RSS (from `wait4`) are asserted, and a watchdog kills
//! it if it passes the memory ceiling or the deadline — so a regression fails fast instead of eating the machine.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::Value;

use crate::common::*;

const MIB: usize = 1 << 20;

/// What the server sends for one `<case>/noarch/<file>`; every `linux-64` directory is a 404.
#[derive(Clone)]
enum Body_ {
    Bytes(Bytes),
    /// `head`, then `total` bytes of `fill` (sent in 1 MiB chunks) with a Content-Length, then `tail`.
    Long {
        head: Bytes,
        fill: u8,
        total: u64,
        tail: Bytes,
    },
    /// Chunked, never ending.
    Endless,
}

#[derive(Clone, Default)]
struct Server {
    files: Arc<HashMap<String, Body_>>,
    log: Arc<Mutex<Vec<String>>>,
}

async fn serve(
    State(s): State<Server>,
    UrlPath((case, subdir, file)): UrlPath<(String, String, String)>,
    headers: axum::http::HeaderMap,
) -> Response {
    let key = format!("{case}/{subdir}/{file}");
    s.log.lock().unwrap().push(key.clone());
    let Some(body) = s.files.get(&key).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag = format!("\"{:x}\"", md5::compute(key.as_bytes()));
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    match body {
        Body_::Bytes(b) => ([(header::ETAG, etag)], b).into_response(),
        Body_::Long {
            head,
            fill,
            total,
            tail,
        } => {
            let chunk = Bytes::from(vec![fill; MIB]);
            let len = head.len() as u64 + total + tail.len() as u64;
            let chunks = (total / MIB as u64) as usize;
            let stream = futures_util::stream::iter(
                std::iter::once(head)
                    .chain(std::iter::repeat_n(chunk, chunks))
                    .chain(std::iter::once(tail))
                    .map(Ok::<_, std::convert::Infallible>),
            );
            (
                [(header::CONTENT_LENGTH, len.to_string())],
                Body::from_stream(stream),
            )
                .into_response()
        }
        Body_::Endless => {
            let chunk = Bytes::from(vec![b' '; MIB]);
            let stream = futures_util::stream::iter(
                std::iter::once(Bytes::from_static(b"{\"info\": "))
                    .chain(std::iter::repeat(chunk))
                    .map(Ok::<_, std::convert::Infallible>),
            );
            Body::from_stream(stream).into_response()
        }
    }
}

impl Server {
    async fn start(files: HashMap<String, Body_>) -> (Server, String) {
        let server = Server {
            files: Arc::new(files),
            log: Default::default(),
        };
        let app = axum::Router::new()
            .route("/{case}/{subdir}/{file}", axum::routing::get(serve))
            .with_state(server.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (server, url)
    }

    fn requests(&self, prefix: &str) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|k| k.starts_with(prefix))
            .count()
    }
}

fn records(count: usize, prefix: &str) -> serde_json::Map<String, Value> {
    (0..count)
        .map(|i| {
            (
                format!("{prefix}-{i}-1.0-0.conda"),
                serde_json::json!({"name": format!("{prefix}-{i}"), "version": "1.0", "build": "0",
                    "depends": ["python >=3.9"], "size": 1000}),
            )
        })
        .collect()
}

fn repodata(packages: serde_json::Map<String, Value>) -> Bytes {
    Bytes::from(
        serde_json::to_vec(
            &serde_json::json!({"info": {"subdir": "noarch"}, "packages.conda": packages}),
        )
        .unwrap(),
    )
}

/// A `.zst` of a few hundred KB that expands to `gib` GiB: one frame opening a JSON string, then frames of
/// 64 MiB of 'a' each (zstd decoders concatenate frames).
fn zstd_bomb(gib: usize) -> Bytes {
    let mut out = zstd::encode_all(&b"{\"info\": \""[..], 1).unwrap();
    let frame = zstd::encode_all(&vec![b'a'; 64 * MIB][..], 1).unwrap();
    for _ in 0..gib * 16 {
        out.extend_from_slice(&frame);
    }
    Bytes::from(out)
}

fn condarc(home: &Path, url: &str, channels: &[&str]) {
    let list: Vec<String> = channels
        .iter()
        .map(|c| format!("  - {url}/{c}\n"))
        .collect();
    std::fs::write(
        home.join(".condarc"),
        format!("channels:\n{}", list.concat()),
    )
    .unwrap();
}

struct Run {
    json: Value,
    peak_rss_mb: u64,
    wall: Duration,
}

impl Run {
    fn dir(&self, channel: &str) -> &Value {
        self.json["channels"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| {
                c["name"]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!("/{channel}"))
                    && c["subdir"] == "noarch"
            })
            .unwrap_or_else(|| panic!("no {channel}/noarch in {}", self.json))
    }

    fn status(&self, channel: &str) -> &str {
        self.dir(channel)["status"].as_str().unwrap()
    }
}

/// `update-index --json` in the real binary; its peak RSS from `wait4`. Killed (and the test failed) when its RSS
/// passes `ceiling_mb` or it runs longer than `deadline`.
async fn update_index(
    home: &Path,
    env: &[(&str, &str)],
    ceiling_mb: u64,
    deadline: Duration,
) -> Run {
    let mut cmd = cli_command(home, &["update-index", "--json"], env);
    tokio::task::spawn_blocking(move || {
        let start = Instant::now();
        let mut child = cmd
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id() as libc::pid_t;
        let mut stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let out = std::thread::spawn(move || {
            let mut text = String::new();
            stdout.read_to_string(&mut text).unwrap();
            text
        });
        let err = std::thread::spawn(move || {
            let mut text = String::new();
            stderr.read_to_string(&mut text).unwrap();
            text
        });
        let done = Arc::new(AtomicBool::new(false));
        let killed = Arc::new(Mutex::new(None::<String>));
        // The child's own high-water mark (VmHWM of its memory after exec), sampled: wait4's ru_maxrss would also
        // count the test process's peak, which a spawned child inherits at exec (vfork shares the parent's memory).
        let peak_kb = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let watchdog = {
            let (done, killed, peak_kb) = (done.clone(), killed.clone(), peak_kb.clone());
            std::thread::spawn(move || {
                while !done.load(Ordering::SeqCst) {
                    let status_text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok();
                    let field = |name: &str| {
                        status_text
                            .as_deref()
                            .and_then(|s| {
                                s.lines()
                                    .find(|l| l.starts_with(name))
                                    .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                            })
                            .unwrap_or(0)
                    };
                    let rss_kb = field("VmRSS:");
                    peak_kb.fetch_max(field("VmHWM:").max(rss_kb), Ordering::SeqCst);
                    let why = if rss_kb / 1024 > ceiling_mb {
                        Some(format!(
                            "RSS {} MB passed the ceiling of {ceiling_mb} MB",
                            rss_kb / 1024
                        ))
                    } else if start.elapsed() > deadline {
                        Some(format!("still running after {deadline:?}"))
                    } else {
                        None
                    };
                    if let Some(why) = why {
                        if !done.load(Ordering::SeqCst) {
                            // our own child, not yet reaped (`done` is unset), so the pid is still its
                            unsafe { libc::kill(pid, libc::SIGKILL) };
                            *killed.lock().unwrap() = Some(why);
                        }
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
        };
        let mut status = 0;
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // wait4 on this child only (its ru_maxrss is not used: see above)
        let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        done.store(true, Ordering::SeqCst);
        assert_eq!(waited, pid);
        watchdog.join().unwrap();
        std::mem::forget(child); // reaped above
        let wall = start.elapsed();
        let (out, err) = (out.join().unwrap(), err.join().unwrap());
        if let Some(why) = killed.lock().unwrap().take() {
            panic!("update-index killed: {why}\n{err}");
        }
        // 1 when a directory failed (a hostile body usually makes one fail), with the cause on stderr
        assert!(
            libc::WIFEXITED(status) && matches!(libc::WEXITSTATUS(status), 0 | 1),
            "update-index failed ({status}): {out}\n{err}"
        );
        let json: serde_json::Value =
            serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}\n{err}"));
        let failed = json["channels"].as_array().unwrap().iter().any(|c| {
            let status = c["status"].as_str().unwrap();
            let empty = c["subdir"] != "noarch" && (status == "404" || status == "403");
            !matches!(status, "ok" | "cached") && !empty
        });
        assert_eq!(
            libc::WEXITSTATUS(status) == 1,
            failed,
            "exit 1 exactly when a directory failed: {out}\n{err}"
        );
        Run {
            json,
            peak_rss_mb: peak_kb.load(Ordering::SeqCst) / 1024,
            wall,
        }
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_bodies_end_quickly_in_bounded_memory() {
    let good = repodata(records(2000, "good"));
    let files = HashMap::from([
        ("good/noarch/repodata.json".to_string(), Body_::Bytes(good)),
        // 4 GiB behind a few hundred KB
        (
            "bomb/noarch/repodata.json.zst".into(),
            Body_::Bytes(zstd_bomb(4)),
        ),
        // 3 GiB announced with a Content-Length
        (
            "huge/noarch/repodata.json".into(),
            Body_::Long {
                head: Bytes::from_static(b"{\"info\": \""),
                fill: b'x',
                total: 3 << 30,
                tail: Bytes::from_static(b"\"}"),
            },
        ),
        ("endless/noarch/repodata.json".into(), Body_::Endless),
        // one record whose name is 1 GiB
        (
            "longname/noarch/repodata.json".into(),
            Body_::Long {
                head: Bytes::from_static(b"{\"packages\": {\"x-1-0.conda\": {\"name\": \""),
                fill: b'n',
                total: 1 << 30,
                tail: Bytes::from_static(b"\", \"version\": \"1\", \"build\": \"0\"}}}"),
            },
        ),
    ]);
    let (server, url) = Server::start(files).await;
    let home = tempfile::tempdir().unwrap();
    condarc(
        home.path(),
        &url,
        &["good", "bomb", "huge", "endless", "longname"],
    );
    // the default bounds: nothing set in the environment
    let run = update_index(home.path(), &[], 250, Duration::from_secs(90)).await;
    assert_eq!(run.status("good"), "ok");
    assert_eq!(run.dir("good")["packages"], 2000);
    assert_eq!(run.status("bomb"), "too large (limit 2 GiB of JSON)");
    assert_eq!(run.status("huge"), "too large (limit 1 GiB downloaded)");
    assert_eq!(run.status("endless"), "too large (limit 1 GiB downloaded)");
    assert_eq!(run.status("longname"), "too large (limit 1 MiB per record)");
    assert_eq!(run.json["packages_total"], 2000);
    assert!(run.peak_rss_mb < 250, "peak RSS {} MB", run.peak_rss_mb);
    eprintln!(
        "hostile bodies: {:?}, peak RSS {} MB",
        run.wall, run.peak_rss_mb
    );
    // nothing of the long name reached the cache
    let mut cached = Vec::new();
    walk(&home.path().join(".cache"), &mut cached);
    let biggest = cached
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .max()
        .unwrap();
    assert!(biggest < 1 << 20, "largest cache file {biggest} bytes");
    assert_eq!(server.requests("bomb/noarch/repodata.json.zst"), 1);
    assert_eq!(
        server.requests("bomb/noarch/repodata.json"),
        1,
        "a bomb is not retried as plain JSON"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_zst_falls_back_once_and_bad_records_are_skipped() {
    let mut bad = records(5, "bad");
    bad.insert(
        "num.conda".into(),
        serde_json::json!({"name": 7, "version": "1"}),
    );
    bad.insert("list.conda".into(), serde_json::json!([1, 2]));
    bad.insert("noversion.conda".into(), serde_json::json!({"name": "nv"}));
    bad.insert(
        "long.conda".into(),
        serde_json::json!({"name": "l".repeat(5000), "version": "1"}),
    );
    let files = HashMap::from([
        (
            "zbroken/noarch/repodata.json.zst".to_string(),
            Body_::Bytes(Bytes::from_static(
                b"\x28\xb5\x2f\xfd garbage, not a zstd frame",
            )),
        ),
        (
            "zbroken/noarch/repodata.json".into(),
            Body_::Bytes(repodata(records(3, "zb"))),
        ),
        (
            "bad/noarch/repodata.json".into(),
            Body_::Bytes(repodata(bad)),
        ),
        (
            "many/noarch/repodata.json".into(),
            Body_::Bytes(repodata(records(30_000, "many"))),
        ),
        (
            "truncated/noarch/repodata.json".into(),
            Body_::Bytes(repodata(records(100, "t")).slice(..2000)),
        ),
    ]);
    let (server, url) = Server::start(files).await;
    let home = tempfile::tempdir().unwrap();
    condarc(home.path(), &url, &["zbroken", "bad", "many", "truncated"]);
    let env = [("CONDA_CONNECT_INDEX_MAX_RECORDS", "20000")];
    let run = update_index(home.path(), &env, 200, Duration::from_secs(60)).await;
    let broken = run.dir("zbroken");
    assert_eq!(
        (broken["status"].as_str(), broken["packages"].as_u64()),
        (Some("ok"), Some(3))
    );
    assert!(
        broken["note"]
            .as_str()
            .unwrap()
            .starts_with("repodata.json.zst is unreadable"),
        "{broken}"
    );
    let bad = run.dir("bad");
    assert_eq!(
        (bad["status"].as_str(), bad["packages"].as_u64()),
        (Some("ok"), Some(5))
    );
    assert_eq!(bad["skipped"], 4, "{bad}");
    assert_eq!(run.status("many"), "too large (limit 20000 records)");
    assert_eq!(run.status("truncated"), "failed");
    assert_eq!(run.json["packages_total"], 8);
    // the next run: the broken .zst is not asked for again; everything unchanged is served from the cache
    let run = update_index(home.path(), &env, 200, Duration::from_secs(60)).await;
    assert_eq!(
        server.requests("zbroken/noarch/repodata.json.zst"),
        1,
        "remembered"
    );
    assert_eq!(server.requests("zbroken/noarch/repodata.json"), 3);
    assert_eq!(run.status("zbroken"), "cached");
    assert_eq!(run.status("bad"), "cached");
    assert_eq!(
        run.dir("bad")["skipped"],
        4,
        "the skipped count is remembered"
    );
    assert_eq!(run.json["packages_total"], 8);
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_entries_that_are_not_files_are_replaced() {
    let files = HashMap::from([
        (
            "a/noarch/repodata.json".to_string(),
            Body_::Bytes(repodata(records(10, "a"))),
        ),
        (
            "b/noarch/repodata.json".into(),
            Body_::Bytes(repodata(records(20, "b"))),
        ),
        (
            "c/noarch/repodata.json".into(),
            Body_::Bytes(repodata(records(30, "c"))),
        ),
    ]);
    let (_server, url) = Server::start(files).await;
    let home = tempfile::tempdir().unwrap();
    condarc(home.path(), &url, &["a", "b", "c"]);
    let run = update_index(home.path(), &[], 200, Duration::from_secs(30)).await;
    assert_eq!(run.json["packages_total"], 60);
    let mut cached = Vec::new();
    walk(&home.path().join(".cache"), &mut cached);
    let nonempty = |p: &std::path::PathBuf| std::fs::metadata(p).unwrap().len() > 60;
    let rows: Vec<_> = cached
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rows") && nonempty(p))
        .cloned()
        .collect();
    let infos: Vec<_> = cached
        .iter()
        .filter(|p| p.to_string_lossy().ends_with(".info.json"))
        .cloned()
        .collect();
    assert_eq!(rows.len(), 3, "{cached:?}");
    // a FIFO (reading it would wait forever), a directory, a link to /dev/zero (endless), a FIFO as info
    for path in rows.iter().chain(&infos[..1]) {
        std::fs::remove_file(path).unwrap();
    }
    let mkfifo = |p: &Path| {
        assert!(
            std::process::Command::new("mkfifo")
                .arg(p)
                .status()
                .unwrap()
                .success()
        );
    };
    mkfifo(&rows[0]);
    std::fs::create_dir(&rows[1]).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &rows[2]).unwrap();
    mkfifo(&infos[0]);
    let run = update_index(home.path(), &[], 200, Duration::from_secs(30)).await;
    assert_eq!(run.json["packages_total"], 60);
    assert!(
        run.json["channels"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["subdir"] == "noarch")
            .all(|c| c["status"] == "ok"),
        "{}",
        run.json
    );
    for path in rows.iter().chain(&infos[..1]) {
        assert!(
            std::fs::symlink_metadata(path)
                .unwrap()
                .file_type()
                .is_file(),
            "{path:?}"
        );
    }
    let run = update_index(home.path(), &[], 200, Duration::from_secs(30)).await;
    assert!(
        run.json["channels"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["subdir"] == "noarch")
            .all(|c| c["status"] == "cached"),
        "the cache works again: {}",
        run.json
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_memory_ceiling_stops_a_directory_and_the_rest_continue() {
    let files = HashMap::from([
        (
            "big/noarch/repodata.json".to_string(),
            Body_::Bytes(repodata(records(40_000, "big"))),
        ),
        (
            "small/noarch/repodata.json".into(),
            Body_::Bytes(repodata(records(10, "s"))),
        ),
    ]);
    let (_server, url) = Server::start(files).await;
    let home = tempfile::tempdir().unwrap();
    condarc(home.path(), &url, &["big", "small"]);
    let env = [("CONDA_CONNECT_INDEX_MAX_MEMORY", "1M")];
    let run = update_index(home.path(), &env, 200, Duration::from_secs(30)).await;
    assert_eq!(
        run.status("big"),
        "too large (limit 1 MiB of memory for the index)"
    );
    assert_eq!(run.status("small"), "ok");
    assert_eq!(run.json["packages_total"], 10);
}
