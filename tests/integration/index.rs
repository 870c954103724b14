//! Update Index fetch paths against the emulator: repodata.json.zst preferred with fallback to repodata.json (and the
//! absence remembered), 304 reuse, a changed channel refetched, a 401 channel reported without stopping the rest,
//! and cache files that are corrupt or truncated (refetched, never a crash).

use conda_connect::engine::index::IndexReport;

use crate::common::*;

async fn signed_in_with_channels() -> World {
    let w = World::new().await;
    w.set_domain().await;
    w.login().await;
    w.engine()
        .select_channels(&["main".into()], &["internal".into()])
        .await
        .unwrap();
    w
}

async fn update(w: &World) -> IndexReport {
    w.engine().update_index(|_| {}).await.unwrap()
}

fn status_of<'a>(r: &'a IndexReport, name: &str, subdir: &str) -> &'a str {
    &r.channels
        .iter()
        .find(|c| c.name == name && c.subdir == subdir)
        .unwrap()
        .status
}

fn requests(w: &World, path_suffix: &str) -> Vec<(String, u16)> {
    w.emu
        .log()
        .into_iter()
        .filter(|l| l.path.ends_with(path_suffix))
        .map(|l| (l.path, l.status))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zst_preferred_plain_fallback_remembered() {
    let w = signed_in_with_channels().await;
    w.emu
        .state
        .lock()
        .unwrap()
        .channels
        .iter_mut()
        .find(|c| c.name == "main")
        .unwrap()
        .zst = true;
    let r = update(&w).await;
    assert!(
        r.channels.iter().all(|c| c.status == "ok"),
        "{:?}",
        r.channels
    );
    assert_eq!(r.packages_total, 10);
    // main: the .zst variant, and no plain request; internal: .zst 404, then repodata.json
    assert_eq!(
        requests(&w, "/main/noarch/repodata.json.zst"),
        vec![("/api/repo/main/noarch/repodata.json.zst".into(), 200)]
    );
    assert!(requests(&w, "/main/noarch/repodata.json").is_empty());
    assert_eq!(
        requests(&w, "/internal/noarch/repodata.json.zst"),
        vec![("/api/repo/internal/noarch/repodata.json.zst".into(), 404)]
    );
    assert_eq!(
        requests(&w, "/internal/noarch/repodata.json"),
        vec![("/api/repo/internal/noarch/repodata.json".into(), 200)]
    );
    // second run: all 304, and the missing .zst is not asked for again
    let r = update(&w).await;
    assert!(
        r.channels.iter().all(|c| c.status == "cached"),
        "{:?}",
        r.channels
    );
    assert_eq!(r.packages_total, 10, "the cached rows are the same");
    assert_eq!(
        requests(&w, "/internal/noarch/repodata.json.zst").len(),
        1,
        "absence remembered"
    );
    assert_eq!(
        requests(&w, "/main/noarch/repodata.json.zst")
            .last()
            .unwrap()
            .1,
        304
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_channel_is_refetched() {
    let w = signed_in_with_channels().await;
    update(&w).await;
    let rec = serde_json::json!({"name": "brand-new", "version": "1.0", "build": "0", "build_number": 0, "depends": [], "subdir": "noarch"});
    w.emu
        .state
        .lock()
        .unwrap()
        .put_record("internal", "noarch", "brand-new-1.0-0.conda", rec);
    let r = update(&w).await;
    assert_eq!(status_of(&r, "internal", "noarch"), "ok");
    assert_eq!(status_of(&r, "internal", "linux-64"), "cached");
    assert_eq!(status_of(&r, "main", "noarch"), "cached");
    let loaded = r.packages.load().unwrap();
    let found = loaded.search("brand-new");
    let rows = found.rows(&loaded, 0..10);
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].name, rows[0].channel), ("brand-new", "internal"));
    assert_eq!(r.packages_total, 11);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_or_truncated_cache_is_refetched() {
    let w = signed_in_with_channels().await;
    update(&w).await;
    let mut files = Vec::new();
    walk(&w.paths.repodata_cache(), &mut files);
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
    let r = update(&w).await;
    let refetched = r.channels.iter().filter(|c| c.status == "ok").count();
    assert!(refetched >= 3, "{:?}", r.channels);
    assert!(
        r.channels
            .iter()
            .all(|c| c.status == "ok" || c.status == "cached"),
        "{:?}",
        r.channels
    );
    assert_eq!(r.packages_total, 10, "nothing lost");
    let r = update(&w).await;
    assert!(
        r.channels.iter().all(|c| c.status == "cached"),
        "the cache is whole again: {:?}",
        r.channels
    );
}
