//! conda's configuration as conda itself assembles it: every file of its search path that exists, in conda's order
//! (`/etc/conda/…`, `/var/lib/conda/…`, `$CONDA_ROOT/…`, `$XDG_CONFIG_HOME/conda/…`, `~/.config/conda/…`,
//! `~/.conda/…`, `~/.condarc`, `$CONDA_PREFIX/…`, `$CONDARC`; each `condarc.d/` folder's `*.yml` / `*.yaml` sorted),
//! then the `CONDA_*` variables. A later source wins for `channel_alias`; `channels` and `default_channels` are
//! merged, the later sources' entries first, each entry once; a key marked `#!final` stops the later sources. This
//! is what `conda config --show` prints, and what doctor compares with what conda-connect wrote.

use std::path::{Path, PathBuf};

use crate::engine::condarc;

/// One place conda reads settings from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The file, or `env` for the `CONDA_*` variables.
    pub name: String,
    pub channel_alias: Option<String>,
    pub channels: Option<Vec<String>>,
    pub default_channels: Option<Vec<String>>,
    pub custom_channels: Vec<(String, String)>,
    /// Keys marked `#!final` in this file.
    pub final_keys: Vec<String>,
    /// `channel_settings` entries with an `auth:` handler (they take conda's token handling away).
    pub auth_handlers: Vec<String>,
    /// `add_anaconda_token: false`.
    pub no_anaconda_token: bool,
    /// Channel URLs of this source with a token inside (`/t/<token>/`), the token shortened.
    pub tokens_in_urls: Vec<String>,
    /// The file could not be read as YAML (conda would fail on it).
    pub unreadable: bool,
    /// It is there but not a regular file (a FIFO, a device, a dangling link): conda skips it.
    pub not_a_file: bool,
}

/// What conda ends up with, and who supplied it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Effective {
    pub channel_alias: Option<String>,
    pub alias_from: Option<String>,
    pub channels: Vec<String>,
    pub channels_from: Vec<String>,
    pub default_channels: Vec<String>,
    pub default_channels_from: Vec<String>,
    /// `custom_channels`, merged key by key (a later source wins for a key).
    pub custom_channels: Vec<(String, String)>,
}

impl Effective {
    /// As the settings the channel resolver works from.
    pub fn settings(&self) -> crate::engine::condarc::CondaSettings {
        crate::engine::condarc::CondaSettings {
            channel_alias: self.channel_alias.clone(),
            channels: Some(self.channels.clone()),
            default_channels: Some(self.default_channels.clone()),
            custom_channels: self.custom_channels.clone(),
            ..Default::default()
        }
    }
}

/// The search path for `home`, with the environment read through `env`. `$CONDA_ROOT` is conda's own
/// installation when the variable is not set (conda sets it so), and `$CONDA_PREFIX` the root when no environment
/// is active (conda's default prefix).
pub(crate) fn search_path(home: &Path, env: &dyn Fn(&str) -> Option<String>) -> Vec<PathBuf> {
    let var = |name: &str| env(name).filter(|v| !v.is_empty());
    let mut out: Vec<PathBuf> = Vec::new();
    let trio = |out: &mut Vec<PathBuf>, base: PathBuf| {
        out.push(base.join(".condarc"));
        out.push(base.join("condarc"));
        out.push(base.join("condarc.d"));
    };
    if cfg!(windows) {
        trio(&mut out, PathBuf::from("C:/ProgramData/conda"));
    } else {
        trio(&mut out, PathBuf::from("/etc/conda"));
        trio(&mut out, PathBuf::from("/var/lib/conda"));
    }
    let root = var("CONDA_ROOT")
        .map(PathBuf::from)
        .or_else(|| conda_root(env));
    if let Some(root) = &root {
        trio(&mut out, root.clone());
    }
    if let Some(xdg) = var("XDG_CONFIG_HOME") {
        trio(&mut out, PathBuf::from(xdg).join("conda"));
    }
    trio(&mut out, home.join(".config").join("conda"));
    trio(&mut out, home.join(".conda"));
    out.push(home.join(".condarc"));
    if let Some(prefix) = var("CONDA_PREFIX").map(PathBuf::from).or(root) {
        trio(&mut out, prefix);
    }
    if let Some(condarc) = var("CONDARC") {
        out.push(PathBuf::from(condarc));
    }
    // the same file twice is read once, at its first place
    let mut seen = std::collections::HashSet::new();
    out.retain(|p| seen.insert(p.clone()));
    out
}

/// conda's installation: from `CONDA_EXE` (set by conda's shell hook), else the `conda` found on `PATH` —
/// `<root>/bin/conda`, `<root>/condabin/conda` or `<root>\Scripts\conda.exe`.
fn conda_root(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let exe = env("CONDA_EXE")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            let path = env("PATH")?;
            let name = if cfg!(windows) { "conda.exe" } else { "conda" };
            std::env::split_paths(&path)
                .map(|dir| dir.join(name))
                .find(|p| p.is_file())
        })?;
    let exe = std::fs::canonicalize(&exe).unwrap_or(exe);
    let dir = exe.parent()?;
    let dir_name = dir.file_name()?.to_string_lossy().to_ascii_lowercase();
    ["bin", "condabin", "scripts"]
        .contains(&dir_name.as_str())
        .then(|| dir.parent().map(Path::to_path_buf))
        .flatten()
}

/// conda reads a file of its search path only by these names (a folder's files only by the extensions).
fn is_condarc_name(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    name == ".condarc" || name == "condarc" || has_yaml_extension(path)
}

fn has_yaml_extension(path: &Path) -> bool {
    path.extension().is_some_and(|x| x == "yml" || x == "yaml")
}

/// Every source that exists, in order (the `CONDA_*` variables last).
pub fn sources(home: &Path, env: &dyn Fn(&str) -> Option<String>) -> Vec<Source> {
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    for entry in search_path(home, env) {
        // there, but neither a folder nor a regular file: conda passes over it; doctor says so
        let there = std::fs::symlink_metadata(&entry).is_ok();
        if there && !entry.is_dir() && !entry.is_file() {
            skipped.push(entry);
            continue;
        }
        if entry.is_dir() {
            let mut inside: Vec<PathBuf> = std::fs::read_dir(&entry)
                .map(|d| d.flatten().map(|e| e.path()).collect())
                .unwrap_or_default();
            inside.retain(|p| p.is_file() && has_yaml_extension(p));
            inside.sort();
            files.extend(inside);
        } else if entry.is_file() && is_condarc_name(&entry) {
            files.push(entry);
        }
    }
    let mut out: Vec<Source> = files.iter().map(|f| read_source(f)).collect();
    out.extend(skipped.iter().map(|path| Source {
        not_a_file: true,
        ..empty_source(path)
    }));
    let list = |name: &str| {
        env(name).filter(|v| !v.is_empty()).map(|v| {
            v.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
        })
    };
    let from_env = Source {
        name: "env".into(),
        channel_alias: env("CONDA_CHANNEL_ALIAS").filter(|v| !v.is_empty()),
        channels: list("CONDA_CHANNELS"),
        default_channels: list("CONDA_DEFAULT_CHANNELS"),
        custom_channels: Vec::new(),
        final_keys: Vec::new(),
        auth_handlers: Vec::new(),
        tokens_in_urls: Vec::new(),
        not_a_file: false,
        no_anaconda_token: env("CONDA_ADD_ANACONDA_TOKEN").is_some_and(|v| {
            matches!(
                v.to_ascii_lowercase().as_str(),
                "false" | "no" | "0" | "off"
            )
        }),
        unreadable: false,
    };
    if from_env.channel_alias.is_some()
        || from_env.channels.is_some()
        || from_env.default_channels.is_some()
        || from_env.no_anaconda_token
    {
        out.push(from_env);
    }
    out
}

/// The largest configuration file read (conda's own are a few KB).
const MAX_CONDARC: u64 = 4 * 1024 * 1024;

fn empty_source(path: &Path) -> Source {
    Source {
        name: path.display().to_string(),
        channel_alias: None,
        channels: None,
        default_channels: None,
        custom_channels: Vec::new(),
        final_keys: Vec::new(),
        auth_handlers: Vec::new(),
        no_anaconda_token: false,
        tokens_in_urls: Vec::new(),
        unreadable: false,
        not_a_file: false,
    }
}

fn read_source(path: &Path) -> Source {
    let mut source = empty_source(path);
    let too_large = std::fs::metadata(path).is_ok_and(|m| m.len() > MAX_CONDARC);
    let text = if too_large {
        None
    } else {
        std::fs::read(path)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
    };
    let Some(text) = text else {
        source.unreadable = true;
        return source;
    };
    let Ok(map) = condarc::parse_strict(&text) else {
        source.unreadable = true;
        return source;
    };
    let settings = condarc::settings(&map);
    source.channel_alias = settings.channel_alias;
    source.channels = settings.channels;
    source.default_channels = settings.default_channels;
    source.custom_channels = settings.custom_channels;
    let urls = source
        .channel_alias
        .iter()
        .chain(source.channels.iter().flatten())
        .chain(source.default_channels.iter().flatten())
        .chain(source.custom_channels.iter().map(|(_, url)| url));
    source.tokens_in_urls = urls.filter_map(|url| token_shortened(url)).collect();
    for line in text.lines() {
        if line.contains("#!final")
            && let Some((key, _)) = line.split_once(':')
        {
            source.final_keys.push(key.trim().to_string());
        }
    }
    use yaml_serde::Value;
    if let Some(Value::Sequence(entries)) = map.get(Value::String("channel_settings".into())) {
        for entry in entries {
            if let Value::Mapping(m) = entry
                && let Some(Value::String(handler)) = m.get(Value::String("auth".into()))
            {
                let channel = match m.get(Value::String("channel".into())) {
                    Some(Value::String(c)) => c.clone(),
                    _ => "?".into(),
                };
                source.auth_handlers.push(format!("{channel} → {handler}"));
            }
        }
    }
    if let Some(Value::Bool(false)) = map.get(Value::String("add_anaconda_token".into())) {
        source.no_anaconda_token = true;
    }
    source
}

/// A URL with a `/t/<token>/` segment, the token shown as its first four characters and `…`.
fn token_shortened(url: &str) -> Option<String> {
    let at = url.find("/t/")?;
    let rest = &url[at + 3..];
    let end = rest.find('/').unwrap_or(rest.len());
    let token = &rest[..end];
    (token.len() >= 8).then(|| {
        format!(
            "{}/t/{}{}",
            &url[..at],
            super::shown_token(token),
            &rest[end..]
        )
    })
}

/// What conda ends up with.
pub fn effective(sources: &[Source]) -> Effective {
    // a key marked #!final in a source: the sources after it do not count for that key
    let upto = |key: &str| -> &[Source] {
        match sources
            .iter()
            .position(|s| s.final_keys.iter().any(|k| k == key))
        {
            Some(at) => &sources[..=at],
            None => sources,
        }
    };
    let mut out = Effective::default();
    for source in upto("channel_alias") {
        if let Some(alias) = &source.channel_alias {
            out.channel_alias = Some(alias.trim_end_matches('/').to_string());
            out.alias_from = Some(source.name.clone());
        }
    }
    let merge = |key: &str, pick: &dyn Fn(&Source) -> Option<&Vec<String>>| {
        let mut values = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut from = Vec::new();
        for source in upto(key).iter().rev() {
            if let Some(list) = pick(source) {
                from.push(source.name.clone());
                for item in list {
                    if seen.insert(item.as_str()) {
                        values.push(item.clone());
                    }
                }
            }
        }
        (values, from)
    };
    (out.channels, out.channels_from) = merge("channels", &|s| s.channels.as_ref());
    (out.default_channels, out.default_channels_from) =
        merge("default_channels", &|s| s.default_channels.as_ref());
    for source in upto("custom_channels") {
        for (name, url) in &source.custom_channels {
            out.custom_channels.retain(|(n, _)| n != name);
            out.custom_channels.push((name.clone(), url.clone()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_sources_win_and_lists_merge_like_conda() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let prefix = dir.path().join("env");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(prefix.join("condarc.d")).unwrap();
        std::fs::write(
            home.join(".condarc"),
            "channel_alias: http://a/api/repo\nchannels: [x, defaults]\n",
        )
        .unwrap();
        std::fs::write(
            prefix.join(".condarc"),
            "channel_alias: http://b/api/repo\nchannels: [y, x]\n",
        )
        .unwrap();
        std::fs::write(
            prefix.join("condarc.d").join("z.yml"),
            "default_channels: [main]\n",
        )
        .unwrap();
        let env = |name: &str| match name {
            "CONDA_PREFIX" => Some(prefix.display().to_string()),
            _ => None,
        };
        let found = sources(&home, &env);
        let effective = effective(&found);
        assert_eq!(
            effective.channel_alias.as_deref(),
            Some("http://b/api/repo")
        );
        assert_eq!(
            effective.alias_from,
            Some(prefix.join(".condarc").display().to_string())
        );
        assert_eq!(effective.channels, ["y", "x", "defaults"]);
        assert_eq!(effective.default_channels, ["main"]);
        // a variable wins over every file
        let env = |name: &str| match name {
            "CONDA_PREFIX" => Some(prefix.display().to_string()),
            "CONDA_CHANNEL_ALIAS" => Some("http://c/api/repo".into()),
            _ => None,
        };
        assert_eq!(
            effective_alias(&home, &env).as_deref(),
            Some("http://c/api/repo")
        );
    }

    #[test]
    fn tokens_in_urls_are_found_and_shortened() {
        assert_eq!(
            token_shortened("https://h/api/repo/t/abcdefgh1234/main").as_deref(),
            Some("https://h/api/repo/t/abcd…/main")
        );
        assert_eq!(token_shortened("https://h/api/repo/main"), None);
    }

    fn effective_alias(home: &Path, env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
        effective(&sources(home, env)).channel_alias
    }
}
