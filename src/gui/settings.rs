//! The app's own settings (the theme), in `<data dir>/settings.json`.

use serde::{Deserialize, Serialize};

use crate::engine::files;
use crate::engine::paths::Paths;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThemeChoice {
    #[default]
    Light,
    Dark,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppSettings {
    #[serde(default)]
    pub theme: ThemeChoice,
}

impl AppSettings {
    pub fn load(paths: &Paths) -> Self {
        std::fs::read(paths.settings_file())
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    pub fn save(&self, paths: &Paths) -> crate::engine::Result<()> {
        let json = serde_json::to_vec_pretty(self).expect("settings serialise");
        files::write_atomic(&paths.settings_file(), &json, Some(0o600))
    }
}
