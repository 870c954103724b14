//! Where every file lives. All paths derive from `$HOME` and the XDG variables (or are passed in explicitly), so
//! tests run in a temporary HOME and never touch the real one.

use std::path::{Path, PathBuf};

use crate::engine::error::{Error, Result};

/// Every location the engine reads or writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    pub home: PathBuf,
    /// The user's conda configuration, `~/.condarc`.
    pub condarc: PathBuf,
    /// `~/.anaconda/navigator/anaconda-navigator.ini`.
    pub navigator_ini: PathBuf,
    /// Navigator's `.condarc` snapshot store, `~/.anaconda/navigator/condarc_storage`.
    pub condarc_storage: PathBuf,
    /// Directories conda and anaconda-client read `.token` files from (every one is written).
    pub token_dirs: Vec<PathBuf>,
    /// conda-repo-cli's config and token directories (CLI-login detection).
    pub repo_cli_config: PathBuf,
    pub repo_cli_token_dirs: Vec<PathBuf>,
    /// conda-connect's own state: session record, journal, lock, secrets fallback.
    pub data_dir: PathBuf,
    /// conda-connect's cache: repodata.
    pub cache_dir: PathBuf,
}

impl Paths {
    /// Paths for the current user, from the process environment. The home directory must be an absolute path
    /// to an existing folder: an empty or relative `HOME` would put `.condarc`, the ini holding the token and the
    /// token files into whatever the current directory is.
    pub fn from_env() -> Result<Self> {
        let home = if cfg!(windows) {
            directories::BaseDirs::new().map(|b| b.home_dir().to_path_buf())
        } else {
            std::env::var_os("HOME").map(PathBuf::from)
        };
        let home = match home {
            Some(h) if h.is_absolute() && h.is_dir() => h,
            _ => {
                return Err(Error::Refused {
                    reason: "Your home directory (HOME) is not set to an absolute path of an existing folder, so \
                             conda-connect does not know where conda's files are; nothing was changed."
                        .into(),
                });
            }
        };
        let var = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
        };
        Ok(Self::build(
            &home,
            var("XDG_CONFIG_HOME"),
            var("XDG_DATA_HOME"),
            var("XDG_CACHE_HOME"),
            var("BINSTAR_CONFIG_DIR"),
        ))
    }

    /// Paths under an explicit home directory, ignoring the environment (tests).
    pub fn under_home(home: &Path) -> Self {
        Self::build(home, None, None, None, None)
    }

    fn build(
        home: &Path,
        xdg_config: Option<PathBuf>,
        xdg_data: Option<PathBuf>,
        xdg_cache: Option<PathBuf>,
        binstar_config_dir: Option<PathBuf>,
    ) -> Self {
        let navigator = home.join(".anaconda").join("navigator");
        let config_home = xdg_config.unwrap_or_else(|| home.join(".config"));
        let data_home = xdg_data.unwrap_or_else(|| home.join(".local").join("share"));
        let cache_home = xdg_cache.unwrap_or_else(|| home.join(".cache"));
        let continuum = home
            .join(".continuum")
            .join("anaconda-client")
            .join("tokens");
        let token_dirs = match binstar_config_dir {
            Some(dir) => vec![dir.join("data"), continuum],
            None if cfg!(target_os = "macos") => vec![
                home.join("Library")
                    .join("Application Support")
                    .join("binstar"),
                continuum,
            ],
            None if cfg!(windows) => {
                let local = std::env::var_os("LOCALAPPDATA")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| home.join("AppData").join("Local"));
                vec![local.join("ContinuumIO").join("binstar"), continuum]
            }
            // conda >= 24.1 reads user_config_dir, older conda user_data_dir: write both.
            None => vec![
                config_home.join("binstar"),
                data_home.join("binstar"),
                continuum,
            ],
        };
        Paths {
            condarc: home.join(".condarc"),
            navigator_ini: navigator.join("anaconda-navigator.ini"),
            condarc_storage: navigator.join("condarc_storage"),
            token_dirs,
            repo_cli_config: home.join(".conda").join("repo-cli-config.yaml"),
            repo_cli_token_dirs: vec![
                data_home.join("conda-repo-cli"),
                home.join(".conda").join("tokens"),
            ],
            data_dir: data_home.join("conda-connect"),
            cache_dir: cache_home.join("conda-connect"),
            home: home.to_path_buf(),
        }
    }

    pub fn session_file(&self) -> PathBuf {
        self.data_dir.join("session.json")
    }
    pub fn journal_file(&self) -> PathBuf {
        self.data_dir.join("journal.json")
    }
    pub fn lock_file(&self) -> PathBuf {
        self.data_dir.join("lock")
    }
    pub fn secrets_file(&self) -> PathBuf {
        self.data_dir.join("secrets.json")
    }
    pub fn settings_file(&self) -> PathBuf {
        self.data_dir.join("settings.json")
    }
    pub fn repodata_cache(&self) -> PathBuf {
        self.cache_dir.join("repodata")
    }
    /// `~` in place of the home directory, for messages.
    pub fn display(&self, path: &Path) -> String {
        match path.strip_prefix(&self.home) {
            Ok(rest) => format!("~/{}", rest.display()),
            Err(_) => path.display().to_string(),
        }
    }
}
