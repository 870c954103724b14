//! Navigator's `.condarc` snapshot store, `~/.anaconda/navigator/condarc_storage/`: `condarc_index.json` =
//! `{"current": key|null, "snapshots": {key: absolute path}}` and one file `.condarc_<md5(key)>` per key
//! (docs/design.md#5-the-snapshot-store-and-sign-out). The pre-login snapshot holds the **exact bytes** of
//! `~/.condarc`, so that sign-out can restore it byte for byte; Navigator reads it too.
//! This module plans writes as journal operations; it writes nothing itself.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::journal::FileOp;

/// Key of the pre-login snapshot.
pub const MAIN_KEY: &str = "main";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    pub current: Option<String>,
    #[serde(default)]
    pub snapshots: BTreeMap<String, String>,
}

/// Navigator's per-login key: `<brand>_<api_url>_<user_id>`, each part lower-cased with every run of non-word
/// characters replaced by `_`.
pub fn user_key(brand: &str, api_url: &str, user_id: &str) -> String {
    [brand, api_url, user_id]
        .iter()
        .map(|p| squash(&p.to_lowercase()))
        .collect::<Vec<_>>()
        .join("_")
}

fn squash(name: &str) -> String {
    let mut out = String::new();
    let mut in_run = false;
    for character in name.chars() {
        if character.is_alphanumeric() || character == '_' {
            out.push(character);
            in_run = false;
        } else if !in_run {
            out.push('_');
            in_run = true;
        }
    }
    out
}

/// The snapshot store under `dir`.
#[derive(Debug, Clone)]
pub struct SnapshotStore {
    dir: PathBuf,
}

impl SnapshotStore {
    pub fn new(dir: &Path) -> Self {
        SnapshotStore {
            dir: dir.to_path_buf(),
        }
    }

    pub fn index_path(&self) -> PathBuf {
        self.dir.join("condarc_index.json")
    }

    pub fn file_for(&self, key: &str) -> PathBuf {
        self.dir
            .join(format!(".condarc_{:x}", md5::compute(key.as_bytes())))
    }

    /// The index; a missing or corrupt one reads as empty (Navigator ignores a corrupt index too).
    pub fn index(&self) -> Index {
        crate::engine::files::read_optional(&self.index_path())
            .ok()
            .flatten()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Content of the snapshot for `key`, if any.
    pub fn read(&self, key: &str) -> Option<String> {
        crate::engine::files::read_optional(&self.file_for(key))
            .ok()
            .flatten()
            .and_then(|b| String::from_utf8(b).ok())
    }

    /// Operations that store `content` under `key` and update the index (`current` as given).
    pub fn plan_save(&self, index: &mut Index, key: &str, content: &str) -> Vec<FileOp> {
        let path = self.file_for(key);
        index
            .snapshots
            .insert(key.to_string(), path.display().to_string());
        vec![FileOp::write(&path, content, Some(0o600))]
    }

    /// Operations that forget `key`'s snapshot.
    pub fn plan_forget(&self, index: &mut Index, key: &str) -> Vec<FileOp> {
        index.snapshots.remove(key);
        vec![FileOp::remove(&self.file_for(key))]
    }

    /// The operation that writes `index`.
    pub fn plan_index(&self, index: &Index) -> FileOp {
        let json = serde_json::to_string_pretty(index).expect("index serialises");
        FileOp::write(&self.index_path(), &json, Some(0o600))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn navigator_key_and_file_names() {
        let store = SnapshotStore::new(Path::new("/s"));
        assert_eq!(
            store.file_for("main"),
            PathBuf::from("/s/.condarc_fad58de7366495db4650cfefac2fcd61")
        );
        let key = user_key(
            "Anaconda Server",
            "https://repo.example.com",
            "3f1c2a9e-1111-2222-3333-444455556666",
        );
        assert_eq!(
            key,
            "anaconda_server_https_repo_example_com_3f1c2a9e_1111_2222_3333_444455556666"
        );
        assert_eq!(
            store.file_for(&key),
            PathBuf::from("/s/.condarc_b870e22bde966f039c77003b084ed460")
        );
    }
}
