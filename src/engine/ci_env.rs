//! CI without a home directory: `conda-connect env --token-stdin --domain URL …` checks a token it is given the way
//! a token sign-in does (docs/design.md#20-sign-in-with-a-given-token), then writes everything conda, rattler and
//! pip/uv need into one private directory — and nothing anywhere else: no ini, no snapshot, no journal, no log, no
//! keyring. The directory (0700; its files 0600) holds:
//!
//! * `condarc` — `channel_alias`, `channels`, `default_channels` (with `--inherit-condarc`, on top of the user's own
//!   settings);
//! * `data/<quote_plus(url)>.token` — conda's token files for `<domain>/api` and `<domain>/api/repo`;
//! * `credentials.json` — rattler's entry for the host, in the form the server was seen to accept;
//! * `.conda-connect-env` — the mark `env --clean` looks for before it removes anything.
//!
//! The shell is told `CONDARC`, `BINSTAR_CONFIG_DIR` and `RATTLER_AUTH_FILE`, and with a PyPI channel
//! `PIP_INDEX_URL`, `UV_INDEX` and `UV_INDEX_<NAME>_USERNAME` / `_PASSWORD`, for sh, fish, PowerShell, or GitHub
//! Actions (`$GITHUB_ENV`, with `::add-mask::` for the token first).

use std::path::{Path, PathBuf};

use crate::engine::client::{ClientConfig, ServerClient};
use crate::engine::clients::{probe, rattler, snippets};
use crate::engine::condarc;
use crate::engine::error::{Error, Result};
use crate::engine::files;
use crate::engine::session::{Selection, check_selection, validate_given_token};

/// The mark of a directory `env` made (and `env --clean` may remove).
pub const MARK: &str = ".conda-connect-env";

/// What `env` is asked for.
#[derive(Debug, Clone, Default)]
pub struct EnvRequest {
    pub domain: String,
    pub token: String,
    pub selection: Option<Selection>,
    /// Where to write; `None`: a new temporary directory.
    pub dir: Option<PathBuf>,
    /// The user's `.condarc` to build on (`--inherit-condarc`).
    pub inherit: Option<PathBuf>,
    pub pypi_channel: Option<String>,
}

/// The prepared directory and the variables that point at it.
#[derive(Debug, Clone)]
pub struct PreparedEnv {
    pub dir: PathBuf,
    /// `(name, value)` in the order they are printed.
    pub vars: Vec<(String, String)>,
}

/// How to print the variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shell {
    Sh,
    Fish,
    Pwsh,
    Github,
}

/// Check the token and write the directory.
pub async fn prepare(request: &EnvRequest, config: &ClientConfig) -> Result<PreparedEnv> {
    let token = crate::engine::session::checked_token(&request.token)?;
    if let Some(selection) = &request.selection {
        selection.check()?;
    }
    if let Some(channel) = &request.pypi_channel {
        crate::engine::server_values::check_channel_name(channel)?;
    }
    let domain = crate::engine::domain::normalize_domain(&request.domain)?;
    let inherited = match &request.inherit {
        Some(path) => {
            let text = files::read_optional(path)?
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            condarc::parse_strict(&text).map_err(|detail| Error::InvalidCondarc {
                path: path.display().to_string(),
                detail,
            })?;
            text
        }
        None => String::new(),
    };
    let client = ServerClient::new(&domain, config)?;
    client.system().await?;
    validate_given_token(&client, &domain, &token).await?;
    if let Some(selection) = &request.selection {
        check_selection(&client, &token, selection).await?;
    }
    let preferred: Vec<String> = request
        .selection
        .as_ref()
        .map(|s| {
            s.default_channels
                .iter()
                .chain(&s.channels)
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let probed = probe::probe(&client, &token, &preferred).await;
    let dir = target_dir(request.dir.as_deref())?;
    let written = write_files(&dir, &domain, &token, request, &inherited, probed.form);
    if let Err(error) = written {
        // a directory made for this run goes again; one the caller named keeps what it had
        if request.dir.is_none() {
            let _ = std::fs::remove_dir_all(&dir);
        }
        return Err(error);
    }
    let mut vars = vec![
        (
            "CONDARC".to_string(),
            dir.join("condarc").display().to_string(),
        ),
        ("BINSTAR_CONFIG_DIR".to_string(), dir.display().to_string()),
        (
            "RATTLER_AUTH_FILE".to_string(),
            dir.join("credentials.json").display().to_string(),
        ),
    ];
    if let Some(channel) = &request.pypi_channel {
        let (name, variable) = snippets::uv_index_name(channel);
        vars.push((
            "PIP_INDEX_URL".into(),
            snippets::pip_index_url(&domain, &token, channel),
        ));
        vars.push((
            "UV_INDEX".into(),
            format!("{name}={}", snippets::index_url(&domain, channel)),
        ));
        vars.push((format!("UV_INDEX_{variable}_USERNAME"), token.clone()));
        vars.push((
            format!("UV_INDEX_{variable}_PASSWORD"),
            rattler::X_AUTH_TOKEN.into(),
        ));
    }
    Ok(PreparedEnv { dir, vars })
}

/// The directory to write: the one named (made 0700; empty, or one `env` made before), or a new temporary one.
fn target_dir(named: Option<&Path>) -> Result<PathBuf> {
    match named {
        Some(dir) => {
            if dir.exists() {
                let ours = dir.join(MARK).exists();
                let empty = std::fs::read_dir(dir)
                    .map_err(|e| Error::io(dir, &e))?
                    .next()
                    .is_none();
                if !ours && !empty {
                    return Err(Error::Refused {
                        reason: format!(
                            "{} is not empty and was not made by conda-connect env; name a new or empty folder.",
                            dir.display()
                        ),
                    });
                }
            }
            files::create_private_dir(dir)?;
            files::set_mode(dir, 0o700)?;
            Ok(dir.to_path_buf())
        }
        None => {
            let temp = tempfile::Builder::new()
                .prefix("conda-connect-env-")
                .tempdir()
                .map_err(|e| Error::io(&std::env::temp_dir(), &e))?;
            let dir = temp.keep();
            files::set_mode(&dir, 0o700)?;
            Ok(dir)
        }
    }
}

fn write_files(
    dir: &Path,
    domain: &str,
    token: &str,
    request: &EnvRequest,
    inherited: &str,
    form: rattler::Form,
) -> Result<()> {
    let mut edits = condarc::login_edits(&format!("{domain}/api/repo"));
    if let Some(selection) = &request.selection {
        edits.extend(condarc::channel_edits(
            &selection.default_channels,
            &selection.channels,
        ));
    }
    let text = condarc::apply_edits(inherited, &edits).map_err(|detail| Error::InvalidCondarc {
        path: dir.join("condarc").display().to_string(),
        detail,
    })?;
    files::write_atomic(&dir.join(MARK), b"made by conda-connect env\n", Some(0o600))?;
    files::write_atomic(&dir.join("condarc"), text.as_bytes(), Some(0o600))?;
    let data = dir.join("data");
    files::create_private_dir(&data)?;
    for url in [format!("{domain}/api"), format!("{domain}/api/repo")] {
        let name = format!("{}.token", crate::engine::token_files::quote_plus(&url));
        files::write_atomic(&data.join(name), token.as_bytes(), Some(0o600))?;
    }
    if let Some(host) = rattler::host_of(domain) {
        let path = dir.join("credentials.json");
        let json = rattler::with_entry(&path, None, &host, Some(&rattler::entry(form, token)))?;
        files::write_atomic(&path, json.as_bytes(), Some(0o600))?;
    }
    Ok(())
}

/// `env --clean DIR`: remove a directory `env` made (refused for any other).
pub fn clean(dir: &Path) -> Result<()> {
    if !dir.join(MARK).is_file() {
        return Err(Error::Refused {
            reason: format!(
                "{} was not made by conda-connect env, so it is left as it is.",
                dir.display()
            ),
        });
    }
    std::fs::remove_dir_all(dir).map_err(|e| Error::io(dir, &e))
}

/// The variables for `shell`. For GitHub Actions: the lines for `$GITHUB_ENV` (the caller appends them there and
/// prints `::add-mask::` for the token first).
pub fn render(shell: Shell, vars: &[(String, String)]) -> String {
    let mut out = String::new();
    for (name, value) in vars {
        let line = match shell {
            Shell::Sh => format!("export {name}='{}'", value.replace('\'', "'\\''")),
            Shell::Fish => format!(
                "set -gx {name} '{}'",
                value.replace('\\', "\\\\").replace('\'', "\\'")
            ),
            Shell::Pwsh => format!("$env:{name} = '{}'", value.replace('\'', "''")),
            Shell::Github => format!("{name}={value}"),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shell_quotes_its_own_way() {
        let vars = vec![("CONDARC".to_string(), "/tmp/it's here/condarc".to_string())];
        assert_eq!(
            render(Shell::Sh, &vars),
            "export CONDARC='/tmp/it'\\''s here/condarc'\n"
        );
        assert_eq!(
            render(Shell::Fish, &vars),
            "set -gx CONDARC '/tmp/it\\'s here/condarc'\n"
        );
        assert_eq!(
            render(Shell::Pwsh, &vars),
            "$env:CONDARC = '/tmp/it''s here/condarc'\n"
        );
        assert_eq!(
            render(Shell::Github, &vars),
            "CONDARC=/tmp/it's here/condarc\n"
        );
    }

    #[test]
    fn only_a_directory_env_made_is_cleaned() {
        let dir = tempfile::tempdir().unwrap();
        let err = clean(dir.path()).unwrap_err().to_string();
        assert!(err.contains("not made by conda-connect env"), "{err}");
        std::fs::write(dir.path().join(MARK), "").unwrap();
        clean(dir.path()).unwrap();
        assert!(!dir.path().exists());
    }
}
