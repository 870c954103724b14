//! `~/.condarc`: reading conda's settings and making the few edits conda-connect owns (`channel_alias`,
//! `channels`, `default_channels`) without disturbing anything else.
//!
//! Why these crates: a serde round trip (serde_yaml and its forks) re-dumps the whole mapping and loses every
//! comment, the key order and the user's quoting — exactly Navigator's bug. `yaml-edit` keeps a lossless syntax
//! tree, so `set`/`remove` change only the entry they touch. Its parser is error-tolerant, so every input is first
//! parsed by a strict parser (`yaml_serde`); a file that does not parse is refused and never written. After each
//! edit the result is parsed strictly again and must equal the old mapping with exactly the intended changes;
//! otherwise the edit is refused, so a bug in the editor can never corrupt a user's file.

use std::str::FromStr;

use yaml_edit::{YamlFile, YamlValue};
use yaml_serde::{Mapping, Value};

/// A conda value conda-connect writes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum CondaValue {
    Str(String),
    List(Vec<String>),
}

/// One change to a top-level key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyEdit {
    Set(CondaValue),
    Remove,
}

/// What conda-connect reads from a `.condarc`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CondaSettings {
    pub channel_alias: Option<String>,
    pub channels: Option<Vec<String>>,
    pub default_channels: Option<Vec<String>>,
    /// `ssl_verify`: `None` when absent; `Some(Str)` for a CA bundle path.
    pub ssl_verify: Option<CondaSsl>,
    /// `proxy_servers`: scheme → proxy URL.
    pub proxy_servers: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CondaSsl {
    Bool(bool),
    CaBundle(String),
}

/// Parse strictly into the top-level mapping. Empty, whitespace-only and comment-only files are an empty mapping.
pub fn parse_strict(text: &str) -> Result<Mapping, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.contains('\t') && text.lines().any(|l| l.starts_with('\t')) {
        return Err("a line is indented with a tab".into());
    }
    let value: Value = yaml_serde::from_str(text).map_err(|e| short_yaml_error(&e.to_string()))?;
    match value {
        Value::Null => Ok(Mapping::new()),
        Value::Mapping(m) => Ok(m),
        _ => Err("the top level is not a mapping of settings".into()),
    }
}

fn short_yaml_error(detail: &str) -> String {
    detail.lines().next().unwrap_or(detail).trim().to_string()
}

fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn string_list(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::Sequence(items) => Some(items.iter().filter_map(scalar_string).collect()),
        Value::Null => Some(Vec::new()),
        Value::String(s) => Some(
            s.split(',')
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect(),
        ),
        _ => None,
    }
}

/// Read the settings conda-connect cares about.
pub fn settings(map: &Mapping) -> CondaSettings {
    let get = |k: &str| map.get(Value::String(k.into()));
    CondaSettings {
        channel_alias: get("channel_alias").and_then(scalar_string),
        channels: get("channels").and_then(string_list),
        default_channels: get("default_channels").and_then(string_list),
        ssl_verify: get("ssl_verify").and_then(|v| match v {
            Value::Bool(b) => Some(CondaSsl::Bool(*b)),
            Value::String(s) => match s.to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" => Some(CondaSsl::Bool(true)),
                "false" | "no" | "off" => Some(CondaSsl::Bool(false)),
                _ => Some(CondaSsl::CaBundle(s.clone())),
            },
            _ => None,
        }),
        proxy_servers: match get("proxy_servers") {
            Some(Value::Mapping(m)) => m
                .iter()
                .filter_map(|(k, v)| Some((scalar_string(k)?, scalar_string(v)?)))
                .collect(),
            _ => Vec::new(),
        },
    }
}

/// Read settings from text (`Err` = refuse).
pub fn read_settings(text: &str) -> Result<CondaSettings, String> {
    parse_strict(text).map(|m| settings(&m))
}

/// The current value of one of conda-connect's keys, for the journal/3-way revert.
pub fn key_value(map: &Mapping, key: &str) -> Option<CondaValue> {
    let v = map.get(Value::String(key.into()))?;
    match v {
        Value::Sequence(_) | Value::Null => string_list(v).map(CondaValue::List),
        other => scalar_string(other).map(CondaValue::Str),
    }
}

fn to_yaml_value(v: &CondaValue) -> YamlValue {
    match v {
        CondaValue::Str(s) => YamlValue::scalar(s.as_str()),
        CondaValue::List(items) => YamlValue::Sequence(
            items
                .iter()
                .map(|s| YamlValue::scalar(s.as_str()))
                .collect(),
        ),
    }
}

fn to_serde_value(v: &CondaValue) -> Value {
    match v {
        CondaValue::Str(s) => Value::String(s.clone()),
        CondaValue::List(items) => {
            Value::Sequence(items.iter().cloned().map(Value::String).collect())
        }
    }
}

/// Apply `edits` to `text`, preserving everything else. `Err` carries a reason; the caller then refuses.
pub fn apply_edits(text: &str, edits: &[(&str, KeyEdit)]) -> Result<String, String> {
    let (bom, body) = match text.strip_prefix('\u{feff}') {
        Some(rest) => ("\u{feff}", rest),
        None => ("", text),
    };
    let before = parse_strict(body)?;
    let mut expected = before.clone();
    for (key, edit) in edits {
        let k = Value::String((*key).to_string());
        match edit {
            KeyEdit::Set(v) => {
                expected.insert(k, to_serde_value(v));
            }
            KeyEdit::Remove => {
                expected.remove(&k);
            }
        }
    }
    if expected == before {
        return Ok(text.to_string());
    }
    let out = edit_tree(body, edits)?;
    let after = parse_strict(&out).map_err(|e| format!("the edited text would not parse: {e}"))?;
    if after != expected {
        tracing::error!(before = ?before, after = ?after, expected = ?expected, "condarc edit verification failed");
        return Err("the edit could not be made without changing other settings".into());
    }
    Ok(format!("{bom}{out}"))
}

fn edit_tree(body: &str, edits: &[(&str, KeyEdit)]) -> Result<String, String> {
    let newline = if body.contains("\r\n") { "\r\n" } else { "\n" };
    let normalized;
    let source = if newline == "\r\n" {
        normalized = body.replace("\r\n", "\n");
        normalized.as_str()
    } else {
        body
    };
    let file = YamlFile::from_str(source).map_err(|e| format!("{e}"))?;
    if file.documents().count() > 1 {
        return Err("the file holds more than one YAML document".into());
    }
    let mut text = source.to_string();
    let only_removals = edits.iter().all(|(_, e)| *e == KeyEdit::Remove);
    if file.document().is_none() {
        if only_removals {
            return Ok(body.to_string());
        }
        // Empty or comment-only file: keep what is there, append the keys.
        let appended = YamlFile::new();
        let doc = appended.ensure_document();
        for (key, edit) in edits {
            if let KeyEdit::Set(v) = edit {
                doc.set(*key, to_yaml_value(v));
            }
        }
        let mut block = doc.to_string();
        if !block.ends_with('\n') {
            block.push('\n');
        }
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&block);
    } else {
        let doc = file.document().expect("checked above");
        if doc.as_mapping().is_none() && doc.root_node_is_some() {
            return Err("the top level is not a mapping of settings".into());
        }
        for (key, edit) in edits {
            match edit {
                KeyEdit::Set(v) => {
                    if !doc.set(*key, to_yaml_value(v)) {
                        return Err("the top level is not a mapping of settings".into());
                    }
                }
                KeyEdit::Remove => {
                    doc.remove(*key);
                }
            }
        }
        text = file.to_string();
        if source.ends_with('\n') && !text.ends_with('\n') {
            text.push('\n');
        }
    }
    Ok(if newline == "\r\n" {
        text.replace('\n', "\r\n")
    } else {
        text
    })
}

trait RootNode {
    fn root_node_is_some(&self) -> bool;
}
impl RootNode for yaml_edit::Document {
    fn root_node_is_some(&self) -> bool {
        self.as_sequence().is_some() || self.as_scalar().is_some() || self.as_mapping().is_some()
    }
}

/// The three login edits (decision D1.1).
pub fn login_edits(channel_alias: &str) -> Vec<(&'static str, KeyEdit)> {
    vec![
        (
            "channel_alias",
            KeyEdit::Set(CondaValue::Str(channel_alias.to_string())),
        ),
        ("channels", KeyEdit::Set(CondaValue::List(Vec::new()))),
        ("default_channels", KeyEdit::Remove),
    ]
}

/// The Add Channels edits (decision D1.2).
pub fn channel_edits(
    default_channels: &[String],
    channels: &[String],
) -> Vec<(&'static str, KeyEdit)> {
    let mut list = vec!["defaults".to_string()];
    list.extend(channels.iter().filter(|c| *c != "defaults").cloned());
    vec![
        (
            "default_channels",
            KeyEdit::Set(CondaValue::List(default_channels.to_vec())),
        ),
        ("channels", KeyEdit::Set(CondaValue::List(list))),
    ]
}

/// The keys conda-connect owns in `.condarc`.
pub const OWNED_KEYS: [&str; 3] = ["channel_alias", "channels", "default_channels"];

#[cfg(test)]
mod tests {
    use super::*;

    const USER: &str = "# my settings\nchannels:\n  - conda-forge   # first\n  - defaults\nssl_verify: true\n\nenvs_dirs:\n  - ~/envs\ndefault_channels: [a, b]\n";

    #[test]
    fn login_edits_keep_everything_else() {
        let out = apply_edits(USER, &login_edits("https://repo.example.com/api/repo")).unwrap();
        assert!(out.starts_with("# my settings\n"), "{out}");
        assert!(
            out.contains("ssl_verify: true\n\nenvs_dirs:\n  - ~/envs\n"),
            "{out}"
        );
        assert!(!out.contains("default_channels"), "{out}");
        let s = read_settings(&out).unwrap();
        assert_eq!(
            s.channel_alias.as_deref(),
            Some("https://repo.example.com/api/repo")
        );
        assert_eq!(s.channels, Some(vec![]));
        assert_eq!(s.ssl_verify, Some(CondaSsl::Bool(true)));
    }

    #[test]
    fn empty_and_comment_only_files() {
        for text in ["", "\n", "# only a comment\n", "# no newline"] {
            let out = apply_edits(text, &login_edits("http://h/api/repo")).unwrap();
            assert!(out.starts_with(text.trim_end_matches('\n')), "{out:?}");
            let s = read_settings(&out).unwrap();
            assert_eq!(
                s.channel_alias.as_deref(),
                Some("http://h/api/repo"),
                "{out:?}"
            );
            assert_eq!(s.channels, Some(vec![]), "{out:?}");
        }
    }

    #[test]
    fn no_op_returns_input() {
        let text = "channel_alias: http://h/api/repo\nchannels: []\n";
        assert_eq!(
            apply_edits(text, &login_edits("http://h/api/repo")).unwrap(),
            text
        );
    }

    #[test]
    fn channel_selection() {
        let base = apply_edits(USER, &login_edits("http://h/api/repo")).unwrap();
        let out = apply_edits(
            &base,
            &channel_edits(&["main".into()], &["internal".into(), "team/sub".into()]),
        )
        .unwrap();
        let s = read_settings(&out).unwrap();
        assert_eq!(s.default_channels, Some(vec!["main".to_string()]));
        assert_eq!(
            s.channels,
            Some(vec![
                "defaults".into(),
                "internal".into(),
                "team/sub".into()
            ])
        );
    }

    #[test]
    fn crlf_and_bom_kept() {
        let text = "\u{feff}# c\r\nchannels:\r\n  - x\r\nauto_update_conda: false\r\n";
        let out = apply_edits(text, &login_edits("http://h/api/repo")).unwrap();
        assert!(out.starts_with("\u{feff}# c\r\n"), "{out:?}");
        assert!(out.contains("auto_update_conda: false\r\n"), "{out:?}");
        assert!(!out.replace("\r\n", "").contains('\n'), "{out:?}");
    }

    #[test]
    fn refuses_invalid() {
        for bad in [
            "channels: [a\n",
            "- a\n- b\n",
            "a: 1\na: 2\n",
            "key: value\n  bad indent: x\n",
            "just text",
        ] {
            assert!(
                apply_edits(bad, &login_edits("http://h/api/repo")).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn quoting_is_safe() {
        let out = apply_edits(
            "x: 1\n",
            &channel_edits(&["yes".into(), "123".into()], &["null".into()]),
        )
        .unwrap();
        let s = read_settings(&out).unwrap();
        assert_eq!(
            s.default_channels,
            Some(vec!["yes".to_string(), "123".into()]),
            "{out}"
        );
        assert_eq!(
            s.channels,
            Some(vec!["defaults".to_string(), "null".into()]),
            "{out}"
        );
    }
}
