//! The seeded packages as real `.conda` files, so that a download of any package the emulator lists works — for
//! conda, and for `conda-connect doctor`'s download check. A `.conda` is a stored zip holding `metadata.json` and two
//! zstd-compressed tars: `info-<name>.tar.zst` (`info/index.json`, `info/paths.json`, `info/files`) and
//! `pkg-<name>.tar.zst` (the package's files: here one small README under `share/`).

use super::archive;

/// The `.conda` file for `record` (a repodata record) named `<stem>.conda`. Deterministic: the same record gives
/// the same bytes (the repodata's md5, sha256 and size are computed from them).
pub fn build(stem: &str, record: &serde_json::Value) -> Vec<u8> {
    let name = record["name"].as_str().unwrap_or("package");
    let mut index = serde_json::Map::new();
    for key in [
        "name",
        "version",
        "build",
        "build_number",
        "depends",
        "license",
        "subdir",
        "timestamp",
    ] {
        if let Some(value) = record.get(key) {
            index.insert(key.into(), value.clone());
        }
    }
    if record["subdir"] == "noarch" {
        index.insert("noarch".into(), "generic".into());
    }
    let readme_path = format!("share/{name}/README");
    let readme = format!("{stem}: a package of the conda-connect emulator.\n").into_bytes();
    let paths = serde_json::json!({
        "paths": [{
            "_path": readme_path,
            "path_type": "hardlink",
            "sha256": sha256(&readme),
            "size_in_bytes": readme.len(),
        }],
        "paths_version": 1,
    });
    let info = archive::tar(&[
        (
            "info/index.json".into(),
            serde_json::to_vec_pretty(&index).unwrap_or_default(),
        ),
        (
            "info/paths.json".into(),
            serde_json::to_vec_pretty(&paths).unwrap_or_default(),
        ),
        ("info/files".into(), format!("{readme_path}\n").into_bytes()),
    ]);
    let pkg = archive::tar(&[(readme_path, readme)]);
    let zst = |bytes: &[u8]| zstd::encode_all(bytes, 3).unwrap_or_default();
    archive::stored_zip(&[
        (
            "metadata.json".into(),
            br#"{"conda_pkg_format_version": 2}"#.to_vec(),
        ),
        (format!("pkg-{stem}.tar.zst"), zst(&pkg)),
        (format!("info-{stem}.tar.zst"), zst(&info)),
    ])
}

pub fn sha256(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_record_gives_the_same_bytes() {
        let record =
            serde_json::json!({"name": "a", "version": "1", "build": "0", "subdir": "noarch"});
        let one = build("a-1-0", &record);
        assert_eq!(one, build("a-1-0", &record));
        assert_eq!(&one[..4], b"PK\x03\x04");
        assert!(one.windows(18).any(|w| w == b"info-a-1-0.tar.zst"));
    }
}
