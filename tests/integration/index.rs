//! Update Index fetch paths against the emulator: repodata.json.zst preferred with fallback to repodata.json (and the
//! absence remembered), 304 reuse, a changed channel refetched, a 401 channel reported without stopping the rest,
//! and cache files that are corrupt or truncated (refetched, never a crash).

use conda_connect::engine::index::{FetchStatus, IndexReport};

use conda_connect::emulator::FaultKind;

use crate::common::*;

async fn signed_in_with_channels() -> World {
    let world = World::new().await;
    world.set_domain().await;
    world.login().await;
    world
        .engine()
        .select_channels(&["main".into()], &["internal".into()])
        .await
        .unwrap();
    world
}

async fn update(world: &World) -> IndexReport {
    world.engine().update_index().await.unwrap()
}

fn status_of(report: &IndexReport, name: &str, subdir: &str) -> FetchStatus {
    report
        .channels
        .iter()
        .find(|c| c.name == name && c.subdir == subdir)
        .unwrap()
        .status
}

fn requests(world: &World, path_suffix: &str) -> Vec<(String, u16)> {
    world
        .emu
        .log()
        .into_iter()
        .filter(|l| l.path.ends_with(path_suffix))
        .map(|l| (l.path, l.status))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zst_preferred_plain_fallback_remembered() {
    let world = signed_in_with_channels().await;
    world
        .emu
        .state
        .lock()
        .unwrap()
        .channels
        .iter_mut()
        .find(|c| c.name == "main")
        .unwrap()
        .zst = true;
    let report = update(&world).await;
    assert!(
        report.channels.iter().all(|c| c.status == FetchStatus::Ok),
        "{:?}",
        report.channels
    );
    assert_eq!(report.packages_total, 10);
    // main: the .zst variant, and no plain request; internal: .zst 404, then repodata.json
    assert_eq!(
        requests(&world, "/main/noarch/repodata.json.zst"),
        vec![("/api/repo/main/noarch/repodata.json.zst".into(), 200)]
    );
    assert!(requests(&world, "/main/noarch/repodata.json").is_empty());
    assert_eq!(
        requests(&world, "/internal/noarch/repodata.json.zst"),
        vec![("/api/repo/internal/noarch/repodata.json.zst".into(), 404)]
    );
    assert_eq!(
        requests(&world, "/internal/noarch/repodata.json"),
        vec![("/api/repo/internal/noarch/repodata.json".into(), 200)]
    );
    // second run: all 304, and the missing .zst is not asked for again
    let report = update(&world).await;
    assert!(
        report
            .channels
            .iter()
            .all(|c| c.status == FetchStatus::Cached),
        "{:?}",
        report.channels
    );
    assert_eq!(report.packages_total, 10, "the cached rows are the same");
    assert_eq!(
        requests(&world, "/internal/noarch/repodata.json.zst").len(),
        1,
        "absence remembered"
    );
    assert_eq!(
        requests(&world, "/main/noarch/repodata.json.zst")
            .last()
            .unwrap()
            .1,
        304
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_channel_is_refetched() {
    let world = signed_in_with_channels().await;
    update(&world).await;
    let rec = serde_json::json!({"name": "brand-new", "version": "1.0", "build": "0", "build_number": 0, "depends": [], "subdir": "noarch"});
    world
        .emu
        .state
        .lock()
        .unwrap()
        .put_record("internal", "noarch", "brand-new-1.0-0.conda", rec);
    let report = update(&world).await;
    assert_eq!(status_of(&report, "internal", "noarch"), FetchStatus::Ok);
    let platform = conda_connect::engine::index::platform_subdir();
    assert_eq!(
        status_of(&report, "internal", platform),
        FetchStatus::Cached
    );
    assert_eq!(status_of(&report, "main", "noarch"), FetchStatus::Cached);
    let loaded = report.packages.load().unwrap();
    let found = loaded.search("brand-new");
    let rows = found.rows(&loaded, 0..10);
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].name, rows[0].channel), ("brand-new", "internal"));
    assert_eq!(report.packages_total, 11);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_or_truncated_cache_is_refetched() {
    let world = signed_in_with_channels().await;
    update(&world).await;
    let mut files = Vec::new();
    walk(&world.paths.repodata_cache(), &mut files);
    files.sort();
    let rows: Vec<_> = files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rows"))
        .cloned()
        .collect();
    let infos: Vec<_> = files
        .iter()
        .filter(|p| p.to_string_lossy().ends_with(".info.json"))
        .cloned()
        .collect();
    assert_eq!(rows.len(), 4);
    // truncate one, corrupt another, garbage in an info file, empty the last
    let full = std::fs::read(&rows[0]).unwrap();
    std::fs::write(&rows[0], &full[..full.len() / 2]).unwrap();
    std::fs::write(&rows[1], b"\x00\xffnot an index").unwrap();
    std::fs::write(&infos[2], b"{ broken").unwrap();
    std::fs::write(&rows[3], b"").unwrap();
    let report = update(&world).await;
    let refetched = report
        .channels
        .iter()
        .filter(|c| c.status == FetchStatus::Ok)
        .count();
    assert!(refetched >= 3, "{:?}", report.channels);
    assert!(
        report
            .channels
            .iter()
            .all(|c| c.status == FetchStatus::Ok || c.status == FetchStatus::Cached),
        "{:?}",
        report.channels
    );
    assert_eq!(report.packages_total, 10, "nothing lost");
    let report = update(&world).await;
    assert!(
        report
            .channels
            .iter()
            .all(|c| c.status == FetchStatus::Cached),
        "the cache is whole again: {:?}",
        report.channels
    );
}

/// `update-index --json` keeps its shape: each directory is `name`, `subdir`, `packages` and `status` (with
/// `skipped`/`note` only when there is something to say), and `status` is one of the words it has always been.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_index_json_has_the_same_shape_and_status_words() {
    let world = signed_in_with_channels().await;
    let home = world.home.path();
    let run = |home: &std::path::Path| {
        let home = home.to_path_buf();
        async move {
            let out = cli(&home, &["update-index", "--json"], None, &[]).await;
            let json: serde_json::Value = serde_json::from_slice(&out.stdout)
                .unwrap_or_else(|e| panic!("{e}: {}", output_text(&out)));
            (out.status.code(), json)
        }
    };
    let statuses = |json: &serde_json::Value| -> Vec<(String, String, String)> {
        json["channels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let (name, subdir) = (c["name"].as_str().unwrap(), c["subdir"].as_str().unwrap());
                let status = c["status"]
                    .as_str()
                    .unwrap_or_else(|| panic!("status is a string: {c}"));
                (name.into(), subdir.into(), status.into())
            })
            .collect()
    };
    let platform = conda_connect::engine::index::platform_subdir();
    let (code, fresh) = run(home).await;
    assert_eq!(code, Some(0), "{fresh}");
    let mut top: Vec<&str> = fresh
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    top.sort();
    assert_eq!(
        top,
        ["channels", "elapsed_ms", "packages_total", "phases_ms"]
    );
    for channel in fresh["channels"].as_array().unwrap() {
        let mut keys: Vec<&str> = channel
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort();
        // `server`: the signed-in server the channel lives on (several servers are listed per server)
        assert_eq!(
            keys,
            ["name", "packages", "server", "status", "subdir"],
            "{channel}"
        );
    }
    assert!(
        statuses(&fresh).iter().all(|(_, _, s)| s == "ok"),
        "{fresh}"
    );
    let (code, cached) = run(home).await;
    assert_eq!(code, Some(0), "{cached}");
    assert!(
        statuses(&cached).iter().all(|(_, _, s)| s == "cached"),
        "{cached}"
    );
    // refusals and a missing directory: the HTTP code, as words of three digits
    world.fault(
        &format!("/api/repo/internal/{platform}/"),
        None,
        FaultKind::Status { status: 401 },
    );
    world.fault(
        "/api/repo/internal/noarch/",
        None,
        FaultKind::Status { status: 403 },
    );
    world.fault(
        &format!("/api/repo/main/{platform}/"),
        None,
        FaultKind::Status { status: 404 },
    );
    world.fault(
        "/api/repo/main/noarch/",
        None,
        FaultKind::Status { status: 500 },
    );
    let (code, refused) = run(home).await;
    assert_eq!(code, Some(1), "{refused}");
    let mut found = statuses(&refused);
    found.sort();
    let mut expected = vec![
        (
            "internal".to_string(),
            platform.to_string(),
            "401".to_string(),
        ),
        ("internal".into(), "noarch".into(), "403".into()),
        ("main".into(), platform.into(), "404".into()),
        ("main".into(), "noarch".into(), "failed".into()),
    ];
    expected.sort();
    assert_eq!(found, expected, "{refused}");
    let failed = refused["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["status"] == "failed")
        .unwrap();
    assert_eq!(failed["note"], "the server answered HTTP 500", "{failed}");
}

/// Each status's words, as `--json` and the command's table print them.
#[test]
fn fetch_status_words() {
    use conda_connect::engine::index::Limit;
    let cases = [
        (FetchStatus::Ok, "ok"),
        (FetchStatus::Cached, "cached"),
        (FetchStatus::Unauthorized, "401"),
        (FetchStatus::Forbidden, "403"),
        (FetchStatus::NotFound, "404"),
        (FetchStatus::Failed, "failed"),
        (
            FetchStatus::TooLarge(Limit::Json(2 << 30)),
            "too large (limit 2 GiB of JSON)",
        ),
        (
            FetchStatus::TooLarge(Limit::Records(20_000)),
            "too large (limit 20000 records)",
        ),
    ];
    for (status, words) in cases {
        assert_eq!(status.to_string(), words);
        assert_eq!(
            serde_json::to_value(status).unwrap(),
            serde_json::json!(words)
        );
    }
}

/// A million rows in six channel directories, with conda-forge-like name reuse (~40,000 distinct names).
#[cfg(unix)]
fn million_row_index(dir: &std::path::Path) -> conda_connect::engine::index::PackageIndex {
    use conda_connect::engine::index::limits::MemoryBudget;
    use conda_connect::engine::index::store::RowArena;
    const SYL: [&str; 26] = [
        "py", "lib", "num", "sci", "data", "arrow", "zlib", "ssl", "xml", "json", "geo", "torch",
        "net", "io", "core", "base", "utils", "fast", "sql", "plot", "stat", "graph", "learn",
        "compute", "cuda", "boost",
    ];
    let mut index = conda_connect::engine::index::PackageIndex::default();
    let budget = MemoryBudget::new(u64::MAX);
    for (d, (channel, subdir)) in ["main", "internal", "r"]
        .iter()
        .flat_map(|c| ["linux-64", "noarch"].map(|s| (*c, s)))
        .enumerate()
    {
        let mut arena = RowArena::new(budget.clone());
        for i in 0..1_000_000 / 6 {
            let k = (i * 7919 + d * 104_729) % 40_000;
            let name = format!("{}-{}{}", SYL[k % 26], SYL[(k / 26) % 26], k / 676);
            let version = format!("{}.{}.{}", i % 30, i % 17, i % 5);
            let build = format!(
                "py31{}h{:07x}_{}",
                i % 4,
                i * 2_654_435_761 % 0xfff_ffff,
                i % 3
            );
            arena.push(&name, &version, &build).unwrap();
        }
        let store = arena
            .write(&dir.join(format!("{d}.rows")), &[0; 16])
            .unwrap();
        index.push(channel, subdir, store);
    }
    index
}

// measures this thread's CPU time with clock_gettime (Unix)
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn package_list_keystrokes_stay_within_a_frame_at_a_million_rows() {
    use conda_connect::gui::screen::package_list::{Action, Message, State};
    use futures_util::StreamExt;
    let dir = tempfile::tempdir().unwrap();
    let index = tokio::task::spawn_blocking({
        let dir = dir.path().to_path_buf();
        move || million_row_index(&dir)
    })
    .await
    .unwrap();
    assert_eq!(index.len(), 999_996);

    // the list loads the index in the background when it gets it
    let mut state = State::default();
    let Action::Run(task) = state.set_index(index) else {
        panic!("loading is a task")
    };
    let started = std::time::Instant::now();
    let mut stream = iced_test::runtime::task::into_stream(task).unwrap();
    while let Some(action) = stream.next().await {
        if let iced_test::runtime::Action::Output(m) = action {
            let _ = state.update(m);
        }
    }
    let load = started.elapsed();
    assert_eq!(state.matches(), 999_996, "all rows listed before a search");
    assert!(
        state.window().len() <= 50,
        "only the rows in view are laid out"
    );

    // type a search one key at a time, then delete it again: each keystroke is the search plus building the view
    let settings = iced::Settings {
        fonts: vec![
            conda_connect::gui::FONT_REGULAR.into(),
            conda_connect::gui::FONT_BOLD.into(),
        ],
        default_font: conda_connect::gui::DEFAULT_FONT,
        ..iced::Settings::default()
    };
    // one frame first: the simulator's font system warms up once per process, not per keystroke
    drop(iced_test::simulator::Simulator::with_size(
        settings.clone(),
        (700.0, 600.0),
        state.view(),
    ));
    let word = "torch-net";
    let mut typed: Vec<String> = (1..=word.len()).map(|n| word[..n].to_string()).collect();
    typed.extend((0..word.len()).rev().map(|n| word[..n].to_string()));
    // CPU time of this thread: the keystroke's work (search, view, layout) all runs here, and unlike wall time it
    // does not count the time other tests running in parallel on the same cores take from it
    let cpu = || {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes one timespec, which we own
        assert_eq!(
            unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) },
            0
        );
        std::time::Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
    };
    let mut times = Vec::new();
    let mut walls = Vec::new();
    for text in &typed {
        let (started, wall) = (cpu(), std::time::Instant::now());
        let _ = state.update(Message::Search(text.clone()));
        let ui = iced_test::simulator::Simulator::with_size(
            settings.clone(),
            (700.0, 600.0),
            state.view(),
        );
        drop(ui);
        times.push(cpu() - started);
        walls.push(wall.elapsed());
    }
    eprintln!("keystrokes (CPU): {times:?}\nkeystrokes (wall): {walls:?}");
    times.sort();
    let median = times[times.len() / 2];
    let p90 = times[times.len() * 9 / 10];
    let worst = *times.last().unwrap();
    eprintln!(
        "package list, 1M rows: load {load:?}; keystroke (search + view + layout, CPU) median {median:?}, \
         90th percentile {p90:?}, worst {worst:?}"
    );
    // one frame is 16 ms
    assert!(
        p90 <= std::time::Duration::from_millis(16),
        "90th percentile keystroke {p90:?}"
    );
    assert!(
        worst <= std::time::Duration::from_millis(32),
        "worst keystroke {worst:?}"
    );
    let _ = state.update(Message::Search("torch-net".into()));
    assert!(state.matches() > 0 && state.matches() < 999_996);
}

/// A row store copied over another channel directory's (by a bug, a restore, or someone else) is not taken for
/// that directory: it is bound to the repodata URL it came from, so the directory is fetched again in full.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_store_of_another_directory_is_never_used() {
    let world = signed_in_with_channels().await;
    let total = |r: &IndexReport| -> u64 { r.channels.iter().map(|c| c.packages as u64).sum() };
    // the report's stores are let go before the next run replaces one (Windows cannot replace an open file)
    let first_total = total(&update(&world).await);
    let cache = world.paths.repodata_cache();
    let mut stores = Vec::new();
    walk(&cache, &mut stores);
    stores.retain(|p| p.extension().is_some_and(|e| e == "rows"));
    stores.sort_by_key(|p| std::fs::metadata(p).unwrap().len());
    assert!(stores.len() >= 2, "{stores:?}");
    let (small, large) = (&stores[0], stores.last().unwrap());
    std::fs::copy(large, small).unwrap();
    // and the small one's cache record made to agree with it (its ETag kept, so the server answers 304)
    let info = |rows: &std::path::Path| rows.with_extension("info.json");
    let large_info: serde_json::Value =
        serde_json::from_slice(&std::fs::read(info(large)).unwrap()).unwrap();
    let mut small_info: serde_json::Value =
        serde_json::from_slice(&std::fs::read(info(small)).unwrap()).unwrap();
    small_info["rows"] = large_info["rows"].clone();
    std::fs::write(info(small), small_info.to_string()).unwrap();
    let fetched_before = world.emu.log().len();
    let second = update(&world).await;
    let refetched = world.emu.log()[fetched_before..]
        .iter()
        .filter(|l| l.status == 200 && l.path.contains("repodata.json"))
        .count();
    assert_eq!(refetched, 1, "only the directory whose store was replaced");
    assert_eq!(
        first_total,
        total(&second),
        "the same packages, none borrowed"
    );
}
