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
    /// `custom_channels`: channel name → the base URL conda puts the token after.
    Map(std::collections::BTreeMap<String, String>),
}

/// One change to a top-level key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyEdit {
    Set(CondaValue),
    Remove,
    /// Put the key back exactly as it was: `entry` is its whole original entry text (so `default_channels:`
    /// stays null, `1.0` stays `1.0`, tags, nested values and the comment on its line survive); `None` = it was
    /// absent. When the original text cannot be spliced into the current file, `value` is set instead.
    Restore {
        entry: Option<String>,
        value: Option<CondaValue>,
    },
    /// Another server's share of a list (`channels`): append `items` not there yet; an absent key becomes
    /// `if_absent` followed by them (conda's implied `[defaults]` stays).
    AddItems {
        items: Vec<String>,
        if_absent: Vec<String>,
    },
    /// Take `items` out of a list again; when what remains is exactly `drop_if_left` (the seed an
    /// [`KeyEdit::AddItems`] created the key with), the key goes too.
    RemoveItems {
        items: Vec<String>,
        drop_if_left: Option<Vec<String>>,
    },
    /// Entries of a mapping (`custom_channels`): set each name to its URL, keeping the other entries.
    SetEntries(std::collections::BTreeMap<String, String>),
    /// Take out each entry that still maps its name to this URL (a name the user pointed elsewhere stays); the key
    /// goes too when `drop_if_empty` and nothing is left.
    RemoveEntries {
        entries: std::collections::BTreeMap<String, String>,
        drop_if_empty: bool,
    },
}

impl KeyEdit {
    /// An element edit resolved against the file's current `map` into a whole-key [`KeyEdit::Set`] or
    /// [`KeyEdit::Remove`] (so that a merge over a file changed meanwhile keeps everything else in the key); other
    /// edits as they are. `None`: nothing to change.
    pub fn resolve(&self, map: &Mapping, key: &str) -> Option<KeyEdit> {
        let current = map.get(Value::String(key.into()));
        match self {
            KeyEdit::AddItems { items, if_absent } => {
                let mut list = match current {
                    None => if_absent.clone(),
                    Some(value) => string_list(value).unwrap_or_default(),
                };
                let before = list.clone();
                for item in items {
                    if !list.contains(item) {
                        list.push(item.clone());
                    }
                }
                (current.is_none() || list != before)
                    .then_some(KeyEdit::Set(CondaValue::List(list)))
            }
            KeyEdit::RemoveItems {
                items,
                drop_if_left,
            } => {
                let before = string_list(current?)?;
                let list: Vec<String> = before
                    .iter()
                    .filter(|i| !items.contains(i))
                    .cloned()
                    .collect();
                if drop_if_left.as_ref() == Some(&list) {
                    return Some(KeyEdit::Remove);
                }
                (list != before).then_some(KeyEdit::Set(CondaValue::List(list)))
            }
            KeyEdit::SetEntries(entries) => {
                let mut out = current.map(string_map).unwrap_or_default();
                let before = out.clone();
                out.extend(entries.iter().map(|(k, v)| (k.clone(), v.clone())));
                (current.is_none() || out != before).then_some(KeyEdit::Set(CondaValue::Map(out)))
            }
            KeyEdit::RemoveEntries {
                entries,
                drop_if_empty,
            } => {
                let before = string_map(current?);
                let mut out = before.clone();
                out.retain(|name, url| entries.get(name) != Some(url));
                if out.is_empty() && *drop_if_empty {
                    return Some(KeyEdit::Remove);
                }
                (out != before).then_some(KeyEdit::Set(CondaValue::Map(out)))
            }
            // a recorded value without its text (a server's URLs were taken out of it): the value
            KeyEdit::Restore {
                entry: None,
                value: Some(value),
            } => Some(KeyEdit::Set(value.clone())),
            other => Some(other.clone()),
        }
    }
}

/// A mapping of names to strings (`custom_channels`); entries that are not strings are left out.
fn string_map(value: &Value) -> std::collections::BTreeMap<String, String> {
    match value {
        Value::Mapping(mapping) => mapping
            .iter()
            .filter_map(|(k, v)| Some((scalar_string(k)?, scalar_string(v)?)))
            .collect(),
        _ => Default::default(),
    }
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
    /// `custom_channels`: channel name → the base URL it lives under.
    pub custom_channels: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CondaSsl {
    Bool(bool),
    CaBundle(String),
}

/// Parse strictly into the top-level mapping. Empty, whitespace-only and comment-only files are an empty mapping.
pub fn parse_strict(text: &str) -> Result<Mapping, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.contains('\t') {
        if text.lines().any(|l| l.starts_with('\t')) {
            return Err("a line is indented with a tab".into());
        }
        if let Some(line) = text.lines().position(tab_outside_quotes) {
            return Err(format!(
                "line {} has a tab outside a quoted value, which conda cannot read",
                line + 1
            ));
        }
    }
    // a parser's time grows faster than the nesting: a file nested absurdly deep is refused before parsing
    if flow_depth(text) > MAX_FLOW_DEPTH {
        return Err(format!(
            "it nests more than {MAX_FLOW_DEPTH} levels of [ ] or {{ }}"
        ));
    }
    let text = null_tags_read_as_null(text);
    let value: Value = yaml_serde::from_str(&text).map_err(|e| short_yaml_error(&e.to_string()))?;
    match value {
        Value::Null => Ok(Mapping::new()),
        Value::Mapping(mapping) => Ok(mapping),
        _ => Err("the top level is not a mapping of settings".into()),
    }
}

/// Deeper flow nesting than any configuration needs.
const MAX_FLOW_DEPTH: usize = 64;

/// The deepest nesting of flow collections (`[ ]`, `{ }`) outside quotes and comments.
fn flow_depth(text: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut single, mut double, mut comment) = (false, false, false);
    let mut previous = '\n';
    for c in text.chars() {
        match c {
            '\n' => comment = false,
            _ if comment => {}
            '\'' if !double => single = !single,
            '"' if !single && previous != '\\' => double = !double,
            '#' if !single && !double && (previous.is_whitespace()) => comment = true,
            '[' | '{' if !single && !double => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            ']' | '}' if !single && !double => depth = depth.saturating_sub(1),
            _ => {}
        }
        previous = c;
    }
    deepest
}

/// `key: !!null` with nothing after the tag is null to conda (PyYAML, ruamel); the strict parser refuses the empty
/// tagged scalar, so for reading, such a tag is read as the plain `null` it stands for.
fn null_tags_read_as_null(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains("!!null") {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("!!null") {
        let after = &rest[at + 6..];
        let bare = after
            .chars()
            .next()
            .is_none_or(|c| matches!(c, ' ' | '\t' | '\r' | '\n' | '#' | ',' | ']' | '}'));
        let before = rest[..at].chars().last();
        let standalone =
            before.is_none_or(|c| matches!(c, ' ' | '\t' | ':' | '-' | '[' | ',' | '\n'));
        out.push_str(&rest[..at]);
        out.push_str(if bare && standalone { "null" } else { "!!null" });
        rest = after;
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

/// A tab in the part of a line that YAML reads as structure (before a comment, outside quotes): PyYAML's and
/// ruamel's scanners stop at it ("found character '\t' that cannot start any token"), so conda cannot read the
/// file, even where a stricter parser would accept it.
fn tab_outside_quotes(line: &str) -> bool {
    let mut quote: Option<char> = None;
    let mut previous = ' ';
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some('\''), '\'') if chars.peek() == Some(&'\'') => {
                chars.next();
            }
            (Some('"'), '\\') => {
                chars.next();
            }
            (Some(q), _) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"')
                if previous == ' '
                    || previous == ':'
                    || previous == '-'
                    || previous == '['
                    || previous == ',' =>
            {
                quote = Some(c)
            }
            (None, '#') if previous == ' ' || previous == '\t' => return false,
            (None, '\t') => return true,
            _ => {}
        }
        previous = c;
    }
    false
}

fn short_yaml_error(detail: &str) -> String {
    detail.lines().next().unwrap_or(detail).trim().to_string()
}

fn scalar_string(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

fn string_list(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::Sequence(items) => Some(items.iter().filter_map(scalar_string).collect()),
        Value::Null => Some(Vec::new()),
        Value::String(text) => Some(
            text.split(',')
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
            Value::Bool(flag) => Some(CondaSsl::Bool(*flag)),
            Value::String(text) => match text.to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" => Some(CondaSsl::Bool(true)),
                "false" | "no" | "off" => Some(CondaSsl::Bool(false)),
                _ => Some(CondaSsl::CaBundle(text.clone())),
            },
            _ => None,
        }),
        proxy_servers: match get("proxy_servers") {
            Some(Value::Mapping(mapping)) => mapping
                .iter()
                .filter_map(|(k, v)| Some((scalar_string(k)?, scalar_string(v)?)))
                .collect(),
            _ => Vec::new(),
        },
        custom_channels: match get("custom_channels") {
            Some(Value::Mapping(mapping)) => mapping
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
    let value = map.get(Value::String(key.into()))?;
    match value {
        Value::Sequence(_) | Value::Null => string_list(value).map(CondaValue::List),
        other => scalar_string(other).map(CondaValue::Str),
    }
}

/// Words that some YAML reader turns into a boolean, null or number when written plainly (YAML 1.1 readers such
/// as PyYAML take `yes`, `on`, `off`, `y`, `n` for booleans; 1.2 readers `true`, `null`, `.inf`, …).
const AMBIGUOUS_WORDS: [&str; 13] = [
    "y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf", "infinity", "none",
];

/// True when `s` reads back as exactly this string in every YAML reader conda uses (YAML 1.1 and 1.2) if written
/// without quotes: a letter or `_` first, then only URL-safe characters, and not an ambiguous word.
pub fn safe_plain(s: &str) -> bool {
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || "_./:@%+~-".contains(c))
        && !s.contains("://:")
        && !AMBIGUOUS_WORDS.contains(&s.to_ascii_lowercase().as_str())
}

/// A string scalar that every YAML reader reads back as exactly `s`: plain when that is safe, else double-quoted.
fn string_scalar(s: &str) -> YamlValue {
    if safe_plain(s) {
        YamlValue::scalar(s)
    } else {
        YamlValue::scalar(yaml_edit::ScalarValue::double_quoted(s))
    }
}

fn to_yaml_value(value: &CondaValue) -> YamlValue {
    match value {
        CondaValue::Str(s) => string_scalar(s),
        CondaValue::List(items) => {
            YamlValue::Sequence(items.iter().map(|s| string_scalar(s)).collect())
        }
        CondaValue::Map(entries) => YamlValue::Mapping(
            entries
                .iter()
                .map(|(k, v)| (k.clone(), string_scalar(v)))
                .collect(),
        ),
    }
}

fn to_serde_value(value: &CondaValue) -> Value {
    match value {
        CondaValue::Str(s) => Value::String(s.clone()),
        CondaValue::List(items) => {
            Value::Sequence(items.iter().cloned().map(Value::String).collect())
        }
        CondaValue::Map(entries) => Value::Mapping(
            entries
                .iter()
                .map(|(k, v)| (Value::String(k.clone()), Value::String(v.clone())))
                .collect(),
        ),
    }
}

/// Apply `edits` to `text`, preserving everything else. `Err` carries a reason; the caller then refuses.
pub fn apply_edits(text: &str, edits: &[(&str, KeyEdit)]) -> Result<String, String> {
    let (bom, body) = match text.strip_prefix('\u{feff}') {
        Some(rest) => ("\u{feff}", rest),
        None => ("", text),
    };
    let before = parse_strict(body)?;
    // element edits resolve in order, each against the mapping the ones before it made
    let mut working = before.clone();
    let mut resolved: Vec<(&str, KeyEdit)> = Vec::new();
    for (key, edit) in edits {
        let Some(edit) = edit.resolve(&working, key) else {
            continue;
        };
        let yaml_key = Value::String((*key).to_string());
        match &edit {
            KeyEdit::Set(value) => {
                working.insert(yaml_key, to_serde_value(value));
            }
            KeyEdit::Remove | KeyEdit::Restore { entry: None, .. } => {
                working.remove(&yaml_key);
            }
            KeyEdit::Restore {
                entry: Some(entry), ..
            } => {
                if let Some(value) = parse_strict(entry)
                    .ok()
                    .and_then(|m| m.get(&yaml_key).cloned())
                {
                    working.insert(yaml_key, value);
                }
            }
            _ => {}
        }
        resolved.push((*key, edit));
    }
    let edits = resolved.as_slice();
    let mut expected = before.clone();
    let mut tree_edits: Vec<(&str, KeyEdit)> = Vec::new();
    let mut restores: Vec<(&str, String)> = Vec::new();
    for (key, edit) in edits {
        let yaml_key = Value::String((*key).to_string());
        match edit {
            KeyEdit::Set(value) => {
                expected.insert(yaml_key, to_serde_value(value));
                tree_edits.push((key, edit.clone()));
            }
            KeyEdit::Remove | KeyEdit::Restore { entry: None, .. } => {
                expected.remove(&yaml_key);
                tree_edits.push((key, KeyEdit::Remove));
            }
            // resolved above
            KeyEdit::AddItems { .. }
            | KeyEdit::RemoveItems { .. }
            | KeyEdit::SetEntries(_)
            | KeyEdit::RemoveEntries { .. } => {}
            KeyEdit::Restore {
                entry: Some(entry), ..
            } => {
                let original = parse_strict(entry)
                    .ok()
                    .and_then(|m| m.get(&yaml_key).cloned())
                    .ok_or("a recorded setting is not readable")?;
                expected.insert(yaml_key, original);
                restores.push((key, entry.replace("\r\n", "\n")));
            }
        }
    }
    if expected == before {
        return Ok(text.to_string());
    }
    let verified = edit_tree(body, &tree_edits, &restores).and_then(|out| {
        let after =
            parse_strict(&out).map_err(|e| format!("the edited text would not parse: {e}"))?;
        if after == expected {
            Ok(out)
        } else {
            // names only: values can hold credentials (proxy passwords, tokens in URLs)
            let differing: Vec<String> = expected
                .keys()
                .chain(after.keys())
                .filter(|k| expected.get(*k) != after.get(*k))
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect();
            tracing::warn!(keys = ?differing, "condarc edit verification failed");
            Err("the edit could not be made without changing other settings".to_string())
        }
    });
    match verified {
        Ok(out) => Ok(format!("{bom}{out}")),
        // an original entry that cannot be put back verbatim (an anchor, an indented document): set its value
        Err(_) if !restores.is_empty() => {
            let fallback: Vec<(&str, KeyEdit)> = edits
                .iter()
                .map(|(key, edit)| match edit {
                    KeyEdit::Restore { value, .. } => (
                        *key,
                        value.clone().map(KeyEdit::Set).unwrap_or(KeyEdit::Remove),
                    ),
                    other => (*key, other.clone()),
                })
                .collect();
            apply_edits(text, &fallback)
        }
        Err(error) => Err(error),
    }
}

/// The whole entry text of top-level `key` in `text` (from the start of its line to the end of its last line,
/// newline included), to put back later with [`KeyEdit::Restore`]. `None` when absent or unparseable.
pub fn entry_text(text: &str, key: &str) -> Option<String> {
    let text = text
        .strip_prefix('\u{feff}')
        .unwrap_or(text)
        .replace("\r\n", "\n");
    let (start, end) = entry_range(&text, key)?;
    let mut entry = text[start..end].to_string();
    if !entry.ends_with('\n') {
        entry.push('\n');
    }
    Some(entry)
}

/// Byte range of top-level `key`'s entry in `text` (LF newlines), widened to whole lines.
fn entry_range(text: &str, key: &str) -> Option<(usize, usize)> {
    let file = YamlFile::from_str(text).ok()?;
    let doc = file.document()?;
    let mapping = doc.as_mapping()?;
    let entry = mapping.find_entry_by_key(key)?;
    let range = entry.byte_range();
    let (mut start, mut end) = (range.start as usize, range.end as usize);
    let line_start = text[..start].rfind('\n').map(|i| i + 1).unwrap_or(0);
    if text[line_start..start].trim().is_empty() {
        start = line_start;
    }
    if !text[..end].ends_with('\n') {
        end = text[end..]
            .find('\n')
            .map(|i| end + i + 1)
            .unwrap_or(text.len());
    }
    Some((start, end))
}

/// Replace top-level `key`'s entry in `text` (LF newlines) with `entry`, or append it when absent.
fn splice_entry(text: &str, key: &str, entry: &str) -> String {
    match entry_range(text, key) {
        Some((start, end)) => {
            let mut out = String::with_capacity(text.len() + entry.len());
            out.push_str(&text[..start]);
            out.push_str(entry);
            let rest = &text[end..];
            if !entry.ends_with('\n') && !rest.is_empty() {
                out.push('\n');
            }
            out.push_str(rest);
            out
        }
        None => {
            let mut out = text.to_string();
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(entry);
            out
        }
    }
}

fn edit_tree(
    body: &str,
    edits: &[(&str, KeyEdit)],
    restores: &[(&str, String)],
) -> Result<String, String> {
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
    let only_removals = edits.iter().all(|(_, e)| !matches!(e, KeyEdit::Set(_)));
    if file.document().is_none() && only_removals {
        // nothing to remove from an empty or comment-only file; only entries to put back
    } else if file.document().is_none() {
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
                _ => {
                    doc.remove(*key);
                }
            }
        }
        text = file.to_string();
        if source.ends_with('\n') && !text.ends_with('\n') {
            text.push('\n');
        }
    }
    for (key, entry) in restores {
        text = splice_entry(&text, key, entry);
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

/// The three login edits — `channel_alias` = `<domain>/api/repo`, `channels` = `[]`, no `default_channels` — and
/// nothing more (docs/design.md#41-the-login-edits).
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

/// The Add Channels edits: `default_channels` = the chosen defaults, `channels` = `[defaults, chosen…]`
/// (docs/design.md#42-the-add-channels-edits).
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

    #[test]
    fn absurd_nesting_is_refused_before_parsing() {
        let deep = format!("x: {}{}\n", "[".repeat(20_000), "]".repeat(20_000));
        let started = std::time::Instant::now();
        assert!(
            parse_strict(&deep)
                .unwrap_err()
                .contains("nests more than 64")
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        assert!(parse_strict("x: [[1, 2], {a: [3]}]\ny: '[[[[' # [[[\n").is_ok());
    }

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
        let settings = read_settings(&out).unwrap();
        assert_eq!(
            settings.channel_alias.as_deref(),
            Some("https://repo.example.com/api/repo")
        );
        assert_eq!(settings.channels, Some(vec![]));
        assert_eq!(settings.ssl_verify, Some(CondaSsl::Bool(true)));
    }

    #[test]
    fn tabs_conda_cannot_read_are_refused() {
        for bad in [
            "ssl_verify: true\t# a comment\n",
            "channels: [a]\t\n",
            "key:\tvalue\n",
        ] {
            assert!(parse_strict(bad).is_err(), "{bad:?}");
        }
        for fine in [
            "# a comment\twith a tab\nkey: v\n",
            "key: 'a\tb'\n",
            "key: \"a\tb\"\n",
            "key: v # comment\twith tab\n",
        ] {
            assert!(parse_strict(fine).is_ok(), "{fine:?}");
        }
    }

    #[test]
    fn a_null_tag_reads_as_null_and_is_edited() {
        let text = "channels: !!null\nssl_verify: true\n";
        assert_eq!(read_settings(text).unwrap().channels, Some(vec![]));
        let out = apply_edits(text, &login_edits("http://h/api/repo")).unwrap();
        let settings = read_settings(&out).unwrap();
        assert_eq!(settings.channels, Some(vec![]), "{out}");
        assert_eq!(settings.channel_alias.as_deref(), Some("http://h/api/repo"));
        assert!(out.contains("ssl_verify: true"), "{out}");
    }

    #[test]
    fn empty_and_comment_only_files() {
        for text in ["", "\n", "# only a comment\n", "# no newline"] {
            let out = apply_edits(text, &login_edits("http://h/api/repo")).unwrap();
            assert!(out.starts_with(text.trim_end_matches('\n')), "{out:?}");
            let settings = read_settings(&out).unwrap();
            assert_eq!(
                settings.channel_alias.as_deref(),
                Some("http://h/api/repo"),
                "{out:?}"
            );
            assert_eq!(settings.channels, Some(vec![]), "{out:?}");
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
        let settings = read_settings(&out).unwrap();
        assert_eq!(settings.default_channels, Some(vec!["main".to_string()]));
        assert_eq!(
            settings.channels,
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
        let settings = read_settings(&out).unwrap();
        assert_eq!(
            settings.default_channels,
            Some(vec!["yes".to_string(), "123".into()]),
            "{out}"
        );
        assert_eq!(
            settings.channels,
            Some(vec!["defaults".to_string(), "null".into()]),
            "{out}"
        );
    }

    #[test]
    fn restore_puts_back_each_entry_exactly() {
        let original = "# top\nchannels:   # mine\n  - conda-forge\ndefault_channels:\nchannel_alias: 1.0\nssl_verify: true\n";
        let signed_in = apply_edits(original, &login_edits("http://h/api/repo")).unwrap();
        let user = format!("{signed_in}auto_update_conda: false\n");
        let edits: Vec<(&str, KeyEdit)> = OWNED_KEYS
            .iter()
            .map(|k| {
                (
                    *k,
                    KeyEdit::Restore {
                        entry: entry_text(original, k),
                        value: None,
                    },
                )
            })
            .collect();
        let out = apply_edits(&user, &edits).unwrap();
        assert!(
            out.contains("channels:   # mine\n  - conda-forge\n"),
            "{out}"
        );
        assert!(out.contains("default_channels:\n"), "{out}");
        assert!(out.contains("channel_alias: 1.0\n"), "{out}");
        assert!(out.contains("auto_update_conda: false\n"), "{out}");
        let map = parse_strict(&out).unwrap();
        assert_eq!(map.get("default_channels"), Some(&Value::Null));
        assert!(matches!(map.get("channel_alias"), Some(Value::Number(_))));
        // a key absent before is removed again; CRLF files stay CRLF
        let crlf = user.replace('\n', "\r\n");
        let out = apply_edits(
            &crlf,
            &[(
                "channel_alias",
                KeyEdit::Restore {
                    entry: None,
                    value: None,
                },
            )],
        )
        .unwrap();
        assert!(!out.contains("channel_alias") && !out.replace("\r\n", "").contains('\n'));
    }

    #[test]
    fn ambiguous_names_are_quoted_for_every_yaml_reader() {
        let names: Vec<String> = [
            "yes", "on", "off", "y", "n", "null", "true", "nan", "ok-name", "a/b",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let out = apply_edits("", &channel_edits(&names, &[])).unwrap();
        for quoted in ["yes", "on", "off", "y", "n", "null", "true", "nan"] {
            assert!(out.contains(&format!("\"{quoted}\"")), "{quoted}: {out}");
        }
        assert!(
            out.contains("- ok-name\n") && out.contains("- a/b\n"),
            "{out}"
        );
        assert_eq!(read_settings(&out).unwrap().default_channels, Some(names));
        assert!(safe_plain("http://127.0.0.1:8765/api/repo"));
        assert!(!safe_plain("1.0") && !safe_plain("2024-01-01") && !safe_plain("a b"));
    }

    #[test]
    fn element_edits_touch_only_their_items_and_entries() {
        let url = "https://b.example/api/repo/ml".to_string();
        let base = "https://b.example/api/repo".to_string();
        let add = [
            (
                "channels",
                KeyEdit::AddItems {
                    items: vec![url.clone()],
                    if_absent: vec!["defaults".into()],
                },
            ),
            (
                "custom_channels",
                KeyEdit::SetEntries([("ml".to_string(), base.clone())].into()),
            ),
        ];
        // an absent `channels` keeps conda's implied `defaults` first
        let out = apply_edits("# mine\nssl_verify: true\n", &add).unwrap();
        assert_eq!(
            out,
            "# mine\nssl_verify: true\nchannels:\n- defaults\n- https://b.example/api/repo/ml\ncustom_channels:\n  ml: https://b.example/api/repo\n"
        );
        // the user's own items and entries stay; an entry the user pointed elsewhere is theirs
        let edited = "channels:\n  - conda-forge\n  - https://b.example/api/repo/ml\ncustom_channels:\n  ml: https://mirror.example\n  other: https://o.example\n";
        let remove = [
            (
                "channels",
                KeyEdit::RemoveItems {
                    items: vec![url.clone()],
                    drop_if_left: Some(vec!["defaults".into()]),
                },
            ),
            (
                "custom_channels",
                KeyEdit::RemoveEntries {
                    entries: [("ml".to_string(), base.clone())].into(),
                    drop_if_empty: true,
                },
            ),
        ];
        let out = apply_edits(edited, &remove).unwrap();
        let settings = read_settings(&out).unwrap();
        assert_eq!(settings.channels, Some(vec!["conda-forge".to_string()]));
        assert_eq!(
            settings.custom_channels,
            vec![
                ("ml".to_string(), "https://mirror.example".to_string()),
                ("other".to_string(), "https://o.example".to_string())
            ]
        );
        // what was only ours goes whole, and edits on one key apply in order
        let out = apply_edits(
            &apply_edits("a: 1\n", &add).unwrap(),
            &[remove[0].clone(), add[0].clone(), remove[0].clone()],
        )
        .unwrap();
        assert_eq!(read_settings(&out).unwrap().channels, None, "{out}");
        let out = apply_edits(&out, &remove).unwrap();
        assert_eq!(out, "a: 1\n");
    }
}
