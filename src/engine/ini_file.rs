//! A format-preserving INI document on top of `ini-roundtrip`: reading is by section and key (case-insensitive keys,
//! as Python's configparser), and an edit rewrites only the lines it changes — every other line, comment, blank
//! line and the newline style stay byte-identical. Input configparser would reject (a broken section header, a key
//! without `=`, a key before any section, a duplicate key or section) is refused, never rewritten.

use ini_roundtrip::{Item, Parser};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Line {
    Section(String),
    Property { key: String, value: String },
    Other,
}

/// One key-level change: set `key` in `section` to the raw `value`, or remove it (`None`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IniEdit {
    pub section: String,
    pub key: String,
    pub value: Option<String>,
}

/// An INI document that can be edited line by line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IniDoc {
    /// Raw lines without their newline.
    raw: Vec<String>,
    kinds: Vec<Line>,
    newline: &'static str,
    trailing_newline: bool,
    bom: bool,
}

impl IniDoc {
    /// Parse `text`; `Err` carries a short reason (with the line number) for refusal.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (bom, text) = match text.strip_prefix('\u{feff}') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        // classic Mac line endings (CR only) are read as lines too, and written back as they were
        let cr_only;
        let (newline, text) = if text.contains("\r\n") {
            ("\r\n", text)
        } else if text.contains('\r') && !text.contains('\n') {
            cr_only = text.replace('\r', "\n");
            ("\r", cr_only.as_str())
        } else {
            ("\n", text)
        };
        let trailing_newline = text.is_empty() || text.ends_with('\n');
        let mut raw = Vec::new();
        let mut kinds = Vec::new();
        let mut section: Option<String> = None;
        let mut seen_sections: Vec<String> = Vec::new();
        let mut seen_keys: Vec<String> = Vec::new();
        for item in Parser::new(text) {
            let line_no = raw.len() + 1;
            match item {
                Item::SectionEnd => continue,
                Item::Error(line) => {
                    return Err(format!("line {line_no}: malformed section header {line:?}"));
                }
                Item::Section { name, raw: r } => {
                    if seen_sections.iter().any(|s| s == name) {
                        return Err(format!("line {line_no}: section [{name}] appears twice"));
                    }
                    seen_sections.push(name.to_string());
                    seen_keys.clear();
                    section = Some(name.to_string());
                    raw.push(r.to_string());
                    kinds.push(Line::Section(name.to_string()));
                }
                Item::Property { key, val, raw: r } => {
                    if section.is_none() {
                        return Err(format!("line {line_no}: a key before the first [section]"));
                    }
                    if r.starts_with([' ', '\t']) {
                        return Err(format!(
                            "line {line_no}: continuation lines are not supported"
                        ));
                    }
                    let Some(value) = val else {
                        return Err(format!("line {line_no}: {key:?} has no value"));
                    };
                    let lower = key.to_lowercase();
                    if seen_keys.contains(&lower) {
                        return Err(format!(
                            "line {line_no}: key {key:?} appears twice in its section"
                        ));
                    }
                    seen_keys.push(lower.clone());
                    raw.push(r.to_string());
                    kinds.push(Line::Property {
                        key: lower,
                        value: value.to_string(),
                    });
                }
                Item::Comment { raw: r } | Item::Blank { raw: r } => {
                    raw.push(r.to_string());
                    kinds.push(Line::Other);
                }
            }
        }
        // The parser reports no line for the final newline; a text without one ends in its last line.
        Ok(IniDoc {
            raw,
            kinds,
            newline,
            trailing_newline,
            bom,
        })
    }

    /// The document as text.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        if self.bom {
            out.push('\u{feff}');
        }
        for (index, line) in self.raw.iter().enumerate() {
            out.push_str(line);
            if index + 1 < self.raw.len() || self.trailing_newline {
                out.push_str(self.newline);
            }
        }
        out
    }

    fn find(&self, section: &str, key: &str) -> Option<usize> {
        let key = key.to_lowercase();
        let mut current: Option<&str> = None;
        for (index, kind) in self.kinds.iter().enumerate() {
            match kind {
                Line::Section(name) => current = Some(name),
                Line::Property { key: k, .. } if current == Some(section) && *k == key => {
                    return Some(index);
                }
                _ => {}
            }
        }
        None
    }

    /// The raw (trimmed) value of `key` in `section`.
    pub fn get(&self, section: &str, key: &str) -> Option<&str> {
        self.find(section, key).and_then(|i| match &self.kinds[i] {
            Line::Property { value, .. } => Some(value.as_str()),
            _ => None,
        })
    }

    /// Every `(section, key, raw value)` of the document, in order (keys lower-cased).
    pub fn values(&self) -> Vec<(String, String, String)> {
        let mut section = String::new();
        let mut out = Vec::new();
        for kind in &self.kinds {
            match kind {
                Line::Section(name) => section = name.clone(),
                Line::Property { key, value } => {
                    out.push((section.clone(), key.clone(), value.clone()))
                }
                Line::Other => {}
            }
        }
        out
    }

    /// The key-level changes that turn `self` into `other`: `(section, key, Some(raw))` to set, `None` to remove.
    pub(crate) fn changes_to(&self, other: &IniDoc) -> Vec<IniEdit> {
        let before = self.values();
        let after = other.values();
        let mut edits = Vec::new();
        for (section, key, value) in &after {
            if self.get(section, key) != Some(value.as_str()) {
                edits.push(IniEdit {
                    section: section.clone(),
                    key: key.clone(),
                    value: Some(value.clone()),
                });
            }
        }
        for (section, key, _) in &before {
            if other.get(section, key).is_none() {
                edits.push(IniEdit {
                    section: section.clone(),
                    key: key.clone(),
                    value: None,
                });
            }
        }
        edits
    }

    /// Apply key-level changes (see [`IniDoc::changes_to`]).
    pub fn apply(&mut self, edits: &[IniEdit]) {
        for edit in edits {
            match &edit.value {
                Some(value) => self.set(&edit.section, &edit.key, value),
                None => {
                    self.remove(&edit.section, &edit.key);
                }
            }
        }
    }

    /// Set `key = value` in `section`: the existing line is replaced in place (keeping the key's spelling and the
    /// file's ` = ` style); a new key goes after the section's last key; a new section goes at the end.
    pub fn set(&mut self, section: &str, key: &str, value: &str) {
        if let Some(index) = self.find(section, key) {
            let old = &self.raw[index];
            let eq = old.find('=').unwrap_or(old.len());
            let spelled = old[..eq].trim_end();
            let sep = if old[..eq].ends_with(' ') || old[eq..].starts_with("= ") {
                " = "
            } else {
                "="
            };
            if self.get(section, key) == Some(value) {
                return;
            }
            self.raw[index] = format!("{spelled}{sep}{value}");
            self.kinds[index] = Line::Property {
                key: key.to_lowercase(),
                value: value.to_string(),
            };
            return;
        }
        let line = format!("{key} = {value}");
        let kind = Line::Property {
            key: key.to_lowercase(),
            value: value.to_string(),
        };
        match self.section_range(section) {
            Some((start, end)) => {
                // after the last non-blank line of the section (comments stay with what follows them)
                let mut at = start + 1;
                for index in start + 1..end {
                    if matches!(self.kinds[index], Line::Property { .. }) {
                        at = index + 1;
                    }
                }
                self.raw.insert(at, line);
                self.kinds.insert(at, kind);
            }
            None => {
                if !self.raw.is_empty() {
                    if !self.trailing_newline {
                        self.trailing_newline = true;
                    }
                    if !self.raw.last().is_some_and(|l| l.trim().is_empty()) {
                        self.raw.push(String::new());
                        self.kinds.push(Line::Other);
                    }
                }
                self.raw.push(format!("[{section}]"));
                self.kinds.push(Line::Section(section.to_string()));
                self.raw.push(line);
                self.kinds.push(kind);
                self.trailing_newline = true;
            }
        }
    }

    /// Remove `key` from `section`; true when it was there.
    pub fn remove(&mut self, section: &str, key: &str) -> bool {
        match self.find(section, key) {
            Some(index) => {
                self.raw.remove(index);
                self.kinds.remove(index);
                true
            }
            None => false,
        }
    }

    fn section_range(&self, section: &str) -> Option<(usize, usize)> {
        let start = self
            .kinds
            .iter()
            .position(|k| matches!(k, Line::Section(n) if n == section))?;
        let end = self.kinds[start + 1..]
            .iter()
            .position(|k| matches!(k, Line::Section(_)))
            .map(|p| p + start + 1)
            .unwrap_or(self.kinds.len());
        Some((start, end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "; written by a person\n[main]\nversion = 2.0.0\n# keep me\nlogged_brand = None\n\n[ssl]\ntrusted_servers = []\n";

    #[test]
    fn no_op_is_byte_identical() {
        for text in [
            SAMPLE,
            "",
            "[main]\nx=1",
            "[a]\r\nk = v\r\n\r\n",
            "\u{feff}[main]\nk = v\n",
            "[main]\rk = v\r",
            "[main]\rk = v",
        ] {
            assert_eq!(IniDoc::parse(text).unwrap().to_text(), text);
        }
    }

    #[test]
    fn edits_touch_only_their_lines() {
        let mut doc = IniDoc::parse(SAMPLE).unwrap();
        doc.set("main", "logged_brand", "Anaconda Server");
        doc.set("main", "anaconda_server_token", "'abc'");
        doc.set("internal", "x", "1");
        assert_eq!(
            doc.to_text(),
            "; written by a person\n[main]\nversion = 2.0.0\n# keep me\nlogged_brand = Anaconda Server\nanaconda_server_token = 'abc'\n\n[ssl]\ntrusted_servers = []\n\n[internal]\nx = 1\n"
        );
        assert_eq!(doc.get("main", "LOGGED_BRAND"), Some("Anaconda Server"));
        assert!(doc.remove("main", "anaconda_server_token"));
        assert!(!doc.remove("main", "anaconda_server_token"));
        doc.set("main", "logged_brand", "None");
        doc.remove("internal", "x");
        assert!(doc.to_text().starts_with(SAMPLE.trim_end()));
    }

    #[test]
    fn crlf_is_kept() {
        let mut doc = IniDoc::parse("[main]\r\na = 1\r\n").unwrap();
        doc.set("main", "b", "2");
        assert_eq!(doc.to_text(), "[main]\r\na = 1\r\nb = 2\r\n");
    }

    #[test]
    fn cr_only_files_keep_their_line_endings() {
        let mut doc = IniDoc::parse("[main]\ra = 1\r").unwrap();
        assert_eq!(doc.get("main", "a"), Some("1"));
        doc.set("main", "b", "2");
        assert_eq!(doc.to_text(), "[main]\ra = 1\rb = 2\r");
    }

    #[test]
    fn changes_replay_on_another_version() {
        let before = IniDoc::parse(SAMPLE).unwrap();
        let mut after = before.clone();
        after.set("main", "anaconda_server_token", "'t'");
        after.remove("main", "version");
        let edits = before.changes_to(&after);
        assert_eq!(edits.len(), 2);
        // the user added a key meanwhile: the same changes keep it
        let mut user = IniDoc::parse(&format!("{SAMPLE}[mine]\nk = 1\n")).unwrap();
        user.apply(&edits);
        let text = user.to_text();
        assert!(text.contains("anaconda_server_token = 't'") && !text.contains("version"));
        assert!(text.ends_with("[mine]\nk = 1\n"), "{text}");
    }

    #[test]
    fn refuses_what_configparser_refuses() {
        for bad in [
            "key = 1\n[main]\n",
            "[main\nx=1\n",
            "[main]\nnovalue\n",
            "[main]\na=1\na=2\n",
            "[a]\n[a]\n",
            "[main]\na=1\n  more\n",
        ] {
            assert!(IniDoc::parse(bad).is_err(), "{bad:?}");
        }
    }
}
