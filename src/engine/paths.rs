//! Where every file lives, on each platform, as conda 24.x, anaconda-client, conda-repo-cli and Navigator compute
//! it (docs/files.md's per-platform table gives the source of each row). Every path derives from the home
//! directory and a few environment variables, both passed in: `for_platform` takes the platform, the home and the
//! environment as arguments, so each platform's layout is tested on any machine with a faked root, and tests run in
//! a temporary HOME, never the real one.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::engine::error::{Error, Result};

/// The platforms whose layouts differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// Linux and the BSDs: XDG directories.
    Linux,
    MacOs,
    Windows,
}

impl Platform {
    /// The platform this binary was built for.
    pub fn current() -> Platform {
        if cfg!(windows) {
            Platform::Windows
        } else if cfg!(target_os = "macos") {
            Platform::MacOs
        } else {
            Platform::Linux
        }
    }
}

/// Every location the engine reads or writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    pub home: PathBuf,
    /// The user's conda configuration, `~/.condarc` (`%USERPROFILE%\.condarc`).
    pub condarc: PathBuf,
    /// `<navigator home>/.anaconda/navigator/anaconda-navigator.ini`.
    pub navigator_ini: PathBuf,
    /// Navigator's `.condarc` snapshot store, `<navigator home>/.anaconda/navigator/condarc_storage`.
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
    ///
    /// On Windows the home is `%USERPROFILE%`, as Python's `expanduser("~")` (and so conda) finds it; `HOME`,
    /// which Git Bash and MSYS set, is ignored there as conda ignores it.
    pub fn from_env() -> Result<Self> {
        let home = match Platform::current() {
            Platform::Windows => std::env::var_os("USERPROFILE")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .or_else(|| directories::BaseDirs::new().map(|b| b.home_dir().to_path_buf())),
            _ => std::env::var_os("HOME").map(PathBuf::from),
        };
        let home = match home {
            Some(home) if home.is_absolute() && home.is_dir() => home,
            _ => {
                let variable = if cfg!(windows) { "USERPROFILE" } else { "HOME" };
                return Err(Error::Refused {
                    reason: format!(
                        "Your home directory ({variable}) is not set to an absolute path of an existing folder, so \
                         conda-connect does not know where conda's files are; nothing was changed."
                    ),
                });
            }
        };
        Ok(Self::for_platform(Platform::current(), &home, &|name| {
            std::env::var_os(name)
        }))
    }

    /// Paths under an explicit home directory, ignoring the environment (tests).
    pub fn under_home(home: &Path) -> Self {
        Self::for_platform(Platform::current(), home, &|_| None)
    }

    /// The layout of `platform` for `home`, reading the environment through `env` (variables that are unset,
    /// empty or not absolute count as unset).
    pub fn for_platform(
        platform: Platform,
        home: &Path,
        env: &dyn Fn(&str) -> Option<OsString>,
    ) -> Self {
        let var = |name: &str| {
            env(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
        };
        let continuum = home
            .join(".continuum")
            .join("anaconda-client")
            .join("tokens");
        let binstar_config_dir = var("BINSTAR_CONFIG_DIR");
        // The platformdirs layout of the user's data, config and cache folders.
        let (data_home, config_home, cache_home) = match platform {
            Platform::Linux => (
                var("XDG_DATA_HOME").unwrap_or_else(|| home.join(".local").join("share")),
                var("XDG_CONFIG_HOME").unwrap_or_else(|| home.join(".config")),
                var("XDG_CACHE_HOME").unwrap_or_else(|| home.join(".cache")),
            ),
            Platform::MacOs => {
                let library = home.join("Library");
                let support = library.join("Application Support");
                (support.clone(), support, library.join("Caches"))
            }
            Platform::Windows => {
                let local =
                    var("LOCALAPPDATA").unwrap_or_else(|| home.join("AppData").join("Local"));
                (local.clone(), local.clone(), local)
            }
        };
        // platformdirs puts an author folder between the base and the app on Windows only.
        let app_dir = |base: &Path, author: &str, app: &str| match platform {
            Platform::Windows => base.join(author).join(app),
            _ => base.join(app),
        };
        let token_dirs = match (binstar_config_dir, platform) {
            (Some(dir), _) => vec![dir.join("data"), continuum],
            // conda >= 24.1 reads user_config_dir, older conda user_data_dir: on Linux they differ, write both.
            (None, Platform::Linux) => vec![
                config_home.join("binstar"),
                data_home.join("binstar"),
                continuum,
            ],
            (None, _) => vec![app_dir(&config_home, "ContinuumIO", "binstar"), continuum],
        };
        let navigator = navigator_home(platform, home, &var)
            .join(".anaconda")
            .join("navigator");
        let (data_dir, cache_dir) = match platform {
            Platform::Windows => {
                let own = data_home.join("conda-connect");
                (own.clone(), own.join("cache"))
            }
            _ => (
                data_home.join("conda-connect"),
                cache_home.join("conda-connect"),
            ),
        };
        Paths {
            condarc: home.join(".condarc"),
            navigator_ini: navigator.join("anaconda-navigator.ini"),
            condarc_storage: navigator.join("condarc_storage"),
            token_dirs,
            repo_cli_config: home.join(".conda").join("repo-cli-config.yaml"),
            repo_cli_token_dirs: vec![
                app_dir(&data_home, "Anaconda", "conda-repo-cli"),
                home.join(".conda").join("tokens"),
            ],
            data_dir,
            cache_dir,
            home: home.to_path_buf(),
        }
    }

    pub fn session_file(&self) -> PathBuf {
        self.data_dir.join("session.json")
    }
    /// The secondary servers' records (several servers at once).
    pub fn servers_file(&self) -> PathBuf {
        self.data_dir.join("servers.json")
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
            Ok(rest) => format!("~{}{}", std::path::MAIN_SEPARATOR, rest.display()),
            Err(_) => path.display().to_string(),
        }
    }
}

/// The folder Navigator keeps `.anaconda/navigator` in. On Windows it is the first of `HOME`, `APPDATA`,
/// `USERPROFILE` and `TMP` that already holds `.anaconda/navigator`, else the first that exists — usually
/// `%APPDATA%`, since Windows sets no `HOME`. Elsewhere it is the home directory.
fn navigator_home(
    platform: Platform,
    home: &Path,
    var: &dyn Fn(&str) -> Option<PathBuf>,
) -> PathBuf {
    if platform != Platform::Windows {
        return home.to_path_buf();
    }
    let candidates: Vec<PathBuf> = ["HOME", "APPDATA", "USERPROFILE", "TMP"]
        .into_iter()
        .filter_map(var)
        .filter(|dir| dir.is_dir())
        .collect();
    candidates
        .iter()
        .find(|dir| dir.join(".anaconda").join("navigator").is_dir())
        .or(candidates.first())
        .cloned()
        .unwrap_or_else(|| home.to_path_buf())
}

/// One test per row of docs/files.md's per-platform table, with a faked root for each platform.
#[cfg(test)]
mod tests {
    use super::*;

    struct Fake {
        root: tempfile::TempDir,
        env: Vec<(&'static str, PathBuf)>,
    }

    impl Fake {
        fn new() -> Fake {
            Fake {
                root: tempfile::tempdir().unwrap(),
                env: Vec::new(),
            }
        }
        /// A home folder whose name has a space and non-ASCII letters, as `C:\Users\José Núñez` has.
        fn home(&self) -> PathBuf {
            self.root.path().join("Users").join("José Núñez")
        }
        fn set(mut self, name: &'static str, value: PathBuf) -> Fake {
            self.env.push((name, value));
            self
        }
        fn paths(&self, platform: Platform) -> Paths {
            Paths::for_platform(platform, &self.home(), &|name| {
                self.env
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.clone().into_os_string())
            })
        }
    }

    fn at(base: &Path, parts: &[&str]) -> PathBuf {
        parts
            .iter()
            .fold(base.to_path_buf(), |p, part| p.join(part))
    }

    #[test]
    fn condarc_is_the_user_file_on_every_platform() {
        let fake = Fake::new();
        for platform in [Platform::Linux, Platform::MacOs, Platform::Windows] {
            assert_eq!(
                fake.paths(platform).condarc,
                fake.home().join(".condarc"),
                "{platform:?}"
            );
        }
    }

    #[test]
    fn linux_token_dirs_are_config_then_data_then_continuum() {
        let fake = Fake::new();
        let home = fake.home();
        let paths = fake.paths(Platform::Linux);
        assert_eq!(
            paths.token_dirs,
            vec![
                at(&home, &[".config", "binstar"]),
                at(&home, &[".local", "share", "binstar"]),
                at(&home, &[".continuum", "anaconda-client", "tokens"]),
            ]
        );
    }

    #[test]
    fn linux_xdg_variables_move_the_platformdirs_folders() {
        let fake = Fake::new();
        let xdg = fake.root.path().join("x");
        let fake = fake
            .set("XDG_CONFIG_HOME", xdg.join("config"))
            .set("XDG_DATA_HOME", xdg.join("data"))
            .set("XDG_CACHE_HOME", xdg.join("cache"));
        let paths = fake.paths(Platform::Linux);
        assert_eq!(paths.token_dirs[0], at(&xdg, &["config", "binstar"]));
        assert_eq!(paths.token_dirs[1], at(&xdg, &["data", "binstar"]));
        assert_eq!(
            paths.repo_cli_token_dirs[0],
            at(&xdg, &["data", "conda-repo-cli"])
        );
        assert_eq!(paths.data_dir, at(&xdg, &["data", "conda-connect"]));
        assert_eq!(paths.cache_dir, at(&xdg, &["cache", "conda-connect"]));
        // a relative value is ignored, as an unset one
        let relative = Fake::new().set("XDG_DATA_HOME", PathBuf::from("rel"));
        assert_eq!(
            relative.paths(Platform::Linux).data_dir,
            at(&relative.home(), &[".local", "share", "conda-connect"])
        );
    }

    #[test]
    fn linux_own_and_repo_cli_folders() {
        let fake = Fake::new();
        let home = fake.home();
        let paths = fake.paths(Platform::Linux);
        assert_eq!(
            paths.data_dir,
            at(&home, &[".local", "share", "conda-connect"])
        );
        assert_eq!(paths.cache_dir, at(&home, &[".cache", "conda-connect"]));
        assert_eq!(
            paths.repo_cli_token_dirs,
            vec![
                at(&home, &[".local", "share", "conda-repo-cli"]),
                at(&home, &[".conda", "tokens"])
            ]
        );
        assert_eq!(
            paths.repo_cli_config,
            at(&home, &[".conda", "repo-cli-config.yaml"])
        );
    }

    #[test]
    fn binstar_config_dir_replaces_the_platform_token_folders() {
        for platform in [Platform::Linux, Platform::MacOs, Platform::Windows] {
            let fake = Fake::new();
            let shared = fake.root.path().join("shared");
            let fake = fake.set("BINSTAR_CONFIG_DIR", shared.clone());
            assert_eq!(
                fake.paths(platform).token_dirs,
                vec![
                    shared.join("data"),
                    at(&fake.home(), &[".continuum", "anaconda-client", "tokens"])
                ],
                "{platform:?}"
            );
        }
    }

    #[test]
    fn navigator_lives_in_the_home_on_linux_and_macos() {
        let fake = Fake::new();
        for platform in [Platform::Linux, Platform::MacOs] {
            let paths = fake.paths(platform);
            let navigator = at(&fake.home(), &[".anaconda", "navigator"]);
            assert_eq!(
                paths.navigator_ini,
                navigator.join("anaconda-navigator.ini")
            );
            assert_eq!(paths.condarc_storage, navigator.join("condarc_storage"));
        }
    }

    #[test]
    fn macos_uses_application_support_and_caches() {
        // XDG variables mean nothing to platformdirs on macOS
        let fake = Fake::new().set("XDG_DATA_HOME", PathBuf::from("/elsewhere"));
        let home = fake.home();
        let paths = fake.paths(Platform::MacOs);
        let support = at(&home, &["Library", "Application Support"]);
        assert_eq!(
            paths.token_dirs,
            vec![
                support.join("binstar"),
                at(&home, &[".continuum", "anaconda-client", "tokens"])
            ]
        );
        assert_eq!(
            paths.repo_cli_token_dirs,
            vec![
                support.join("conda-repo-cli"),
                at(&home, &[".conda", "tokens"])
            ]
        );
        assert_eq!(paths.data_dir, support.join("conda-connect"));
        assert_eq!(
            paths.cache_dir,
            at(&home, &["Library", "Caches", "conda-connect"])
        );
    }

    #[test]
    fn windows_uses_local_appdata_with_the_author_folder() {
        let fake = Fake::new();
        let local = at(&fake.home(), &["AppData", "Local"]);
        let fake = fake.set("LOCALAPPDATA", local.clone());
        let home = fake.home();
        let paths = fake.paths(Platform::Windows);
        assert_eq!(
            paths.token_dirs,
            vec![
                at(&local, &["ContinuumIO", "binstar"]),
                at(&home, &[".continuum", "anaconda-client", "tokens"])
            ]
        );
        assert_eq!(
            paths.repo_cli_token_dirs,
            vec![
                at(&local, &["Anaconda", "conda-repo-cli"]),
                at(&home, &[".conda", "tokens"])
            ]
        );
        assert_eq!(
            paths.repo_cli_config,
            at(&home, &[".conda", "repo-cli-config.yaml"])
        );
        assert_eq!(paths.data_dir, local.join("conda-connect"));
        assert_eq!(paths.cache_dir, at(&local, &["conda-connect", "cache"]));
        // without LOCALAPPDATA: the profile's default place
        let bare = Fake::new();
        assert_eq!(
            bare.paths(Platform::Windows).data_dir,
            at(&bare.home(), &["AppData", "Local", "conda-connect"])
        );
    }

    #[test]
    fn windows_navigator_home_is_appdata_unless_another_candidate_holds_navigator() {
        let fake = Fake::new();
        let home = fake.home();
        let roaming = at(&home, &["AppData", "Roaming"]);
        let git_home = fake.root.path().join("git-home");
        std::fs::create_dir_all(&roaming).unwrap();
        std::fs::create_dir_all(&git_home).unwrap();
        let fake = fake
            .set("APPDATA", roaming.clone())
            .set("USERPROFILE", home.clone());
        // HOME unset: the first existing candidate is APPDATA
        let ini = |dir: &Path| at(dir, &[".anaconda", "navigator", "anaconda-navigator.ini"]);
        assert_eq!(fake.paths(Platform::Windows).navigator_ini, ini(&roaming));
        // HOME set (Git Bash) and existing, nobody holds Navigator yet: HOME comes first
        let fake = fake.set("HOME", git_home.clone());
        assert_eq!(fake.paths(Platform::Windows).navigator_ini, ini(&git_home));
        // Navigator already lives in APPDATA: that one wins over HOME
        std::fs::create_dir_all(at(&roaming, &[".anaconda", "navigator"])).unwrap();
        assert_eq!(fake.paths(Platform::Windows).navigator_ini, ini(&roaming));
        assert_eq!(
            fake.paths(Platform::Windows).condarc_storage,
            at(&roaming, &[".anaconda", "navigator", "condarc_storage"])
        );
        // no candidate exists: the home
        let bare = Fake::new();
        assert_eq!(
            bare.paths(Platform::Windows).navigator_ini,
            ini(&bare.home())
        );
    }

    #[test]
    fn display_puts_a_tilde_for_the_home() {
        let fake = Fake::new();
        let paths = fake.paths(Platform::current());
        let shown = paths.display(&paths.condarc);
        assert_eq!(shown, format!("~{}.condarc", std::path::MAIN_SEPARATOR));
        assert_eq!(
            paths.display(Path::new("/x")),
            Path::new("/x").display().to_string()
        );
    }
}
