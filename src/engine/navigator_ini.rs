//! `~/.anaconda/navigator/anaconda-navigator.ini`, the way Navigator reads and writes it
//! (docs/design.md#6-navigators-ini): values in
//! Navigator's encoding (Python repr: `'quoted'`, `None`, `True`, `['a']`; `logged_brand` unquoted), the
//! `team_edition_*` spellings read and migrated to `anaconda_server_*`, every other line kept as it was.

use std::path::Path;

use crate::engine::error::{Error, Result};
use crate::engine::files;
use crate::engine::ini_file::{IniDoc, IniEdit};

pub(crate) const BRAND: &str = "Anaconda Server";
/// The `[main]` keys a sign-in sets and sign-out clears (the domain, `anaconda_server_api_url`, stays).
pub(crate) const LOGIN_KEYS: [&str; 4] = [
    "logged_api_url",
    "logged_brand",
    "anaconda_server_token",
    "anaconda_server_token_id",
];
const MAIN: &str = "main";
const SSL: &str = "ssl";
/// conda-connect's own section (Navigator ignores it).
const OWN: &str = "conda_connect";

/// Current key name and the older `team_edition_*` spelling.
const RENAMES: [(&str, &str); 4] = [
    ("anaconda_server_api_url", "team_edition_api_url"),
    ("anaconda_server_token", "team_edition_token"),
    ("anaconda_server_token_id", "team_edition_token_id"),
    ("anaconda_professional_url", "commercial_edition_url"),
];

/// A Python literal as Navigator stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PyValue {
    None,
    Bool(bool),
    Str(String),
    List(Vec<String>),
}

/// Navigator's reader: evaluate a Python literal when possible, else take the raw string.
pub(crate) fn parse_py(raw: &str) -> PyValue {
    let raw = raw.trim();
    match raw {
        "None" | "" => return PyValue::None,
        "True" => return PyValue::Bool(true),
        "False" => return PyValue::Bool(false),
        _ => {}
    }
    if let Some(text) = parse_py_str(raw) {
        return PyValue::Str(text);
    }
    if let Some(inner) = raw.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        let mut items = Vec::new();
        let mut rest = inner.trim();
        let mut ok = true;
        while !rest.is_empty() {
            let quote = rest.chars().next().unwrap();
            if quote != '\'' && quote != '"' {
                ok = false;
                break;
            }
            let Some((item, len)) = scan_py_str(rest) else {
                ok = false;
                break;
            };
            items.push(item);
            rest = rest[len..].trim_start();
            rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
        }
        if ok {
            return PyValue::List(items);
        }
    }
    PyValue::Str(raw.to_string())
}

fn parse_py_str(raw: &str) -> Option<String> {
    let (s, len) = scan_py_str(raw)?;
    (len == raw.len()).then_some(s)
}

/// Scan one quoted Python string at the start of `raw`; returns the value and the bytes consumed.
fn scan_py_str(raw: &str) -> Option<(String, usize)> {
    let quote = raw.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let mut out = String::new();
    let mut chars = raw.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                let (_, e) = chars.next()?;
                out.push(match e {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    'x' => {
                        let hi = chars.next()?.1.to_digit(16)?;
                        let lo = chars.next()?.1.to_digit(16)?;
                        char::from_u32(hi * 16 + lo)?
                    }
                    other => other,
                });
            }
            c if c == quote => return Some((out, i + 1)),
            c => out.push(c),
        }
    }
    None
}

/// Python's `repr()` of a string.
pub(crate) fn py_str(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for character in text.chars() {
        match character {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            // no control character ever reaches the file raw (a CR would end the line for configparser)
            character if character.is_control() && (character as u32) < 0x100 => {
                out.push_str(&format!("\\x{:02x}", character as u32))
            }
            character if character == quote => {
                out.push('\\');
                out.push(character);
            }
            character => out.push(character),
        }
    }
    out.push(quote);
    out
}

pub(crate) fn py_opt_str(text: Option<&str>) -> String {
    text.map(py_str).unwrap_or_else(|| "None".into())
}

pub(crate) fn py_list(items: &[String]) -> String {
    format!(
        "[{}]",
        items
            .iter()
            .map(|s| py_str(s))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// The Navigator ini, loaded and editable.
#[derive(Debug, Clone)]
pub(crate) struct NavigatorIni {
    doc: IniDoc,
    original: Option<String>,
}

impl NavigatorIni {
    /// Load the file; a missing file is an empty document, an unparseable one is refused.
    pub fn load(path: &Path) -> Result<Self> {
        let original = match files::read_optional(path)? {
            Some(bytes) => Some(String::from_utf8(bytes).map_err(|_| Error::InvalidIni {
                path: path.display().to_string(),
                detail: "it is not UTF-8 text".into(),
            })?),
            None => None,
        };
        Self::from_text(path, original)
    }

    pub(crate) fn from_text(path: &Path, original: Option<String>) -> Result<Self> {
        let doc = IniDoc::parse(original.as_deref().unwrap_or("")).map_err(|detail| {
            tracing::warn!(path = %path.display(), %detail, "refusing to edit the Navigator ini");
            Error::InvalidIni {
                path: path.display().to_string(),
                detail,
            }
        })?;
        Ok(NavigatorIni { doc, original })
    }

    /// The text to write, or `None` when nothing changed (the file is then left alone, even if absent).
    pub(crate) fn changed_text(&self) -> Option<String> {
        let text = self.doc.to_text();
        match &self.original {
            Some(orig) if *orig == text => None,
            None if text.is_empty() => None,
            _ => Some(text),
        }
    }

    fn get(&self, key: &str) -> PyValue {
        let old = RENAMES
            .iter()
            .find(|(new, _)| *new == key)
            .map(|(_, old)| *old);
        match self.doc.get(MAIN, key) {
            Some(raw) => parse_py(raw),
            None => old
                .and_then(|o| self.doc.get(MAIN, o))
                .map(parse_py)
                .unwrap_or(PyValue::None),
        }
    }

    fn get_str(&self, key: &str) -> Option<String> {
        match self.get(key) {
            PyValue::Str(text) if !text.is_empty() => Some(text),
            _ => None,
        }
    }

    fn set_raw(&mut self, key: &str, raw: String) {
        // migrate an older spelling: the new name wins, the old line goes
        if let Some((_, old)) = RENAMES.iter().find(|(new, _)| *new == key) {
            self.doc.remove(MAIN, old);
        }
        self.doc.set(MAIN, key, &raw);
    }

    /// Rename every `team_edition_*` key still present to its `anaconda_server_*` name (keeping the value when the
    /// new key has none).
    pub(crate) fn migrate_old_names(&mut self) {
        for (new, old) in RENAMES {
            if let Some(raw) = self.doc.get(MAIN, old).map(str::to_string) {
                if self.doc.get(MAIN, new).is_none() || self.get_new_only(new) == PyValue::None {
                    self.doc.set(MAIN, new, &raw);
                }
                self.doc.remove(MAIN, old);
            }
        }
    }

    fn get_new_only(&self, key: &str) -> PyValue {
        self.doc
            .get(MAIN, key)
            .map(parse_py)
            .unwrap_or(PyValue::None)
    }

    /// The stored domain, as a domain: surrounding blanks and trailing slashes of a hand-written value dropped.
    pub(crate) fn api_url(&self) -> Option<String> {
        self.get_str("anaconda_server_api_url")
            .map(|d| d.trim().trim_end_matches('/').to_string())
            // a value with control characters (escape sequences) is not a domain, and never reaches a terminal
            .filter(|d| !d.is_empty() && !d.chars().any(char::is_control))
    }

    /// The key-level changes made since loading (to re-apply them onto a version the user edited meanwhile).
    pub fn changes(&self) -> Vec<IniEdit> {
        IniDoc::parse(self.original.as_deref().unwrap_or(""))
            .map(|before| before.changes_to(&self.doc))
            .unwrap_or_default()
    }

    /// Apply key-level changes.
    pub fn apply(&mut self, edits: &[IniEdit]) {
        self.doc.apply(edits);
    }
    pub(crate) fn set_api_url(&mut self, domain: Option<&str>) {
        self.set_raw("anaconda_server_api_url", py_opt_str(domain));
    }
    pub fn token(&self) -> Option<String> {
        self.get_str("anaconda_server_token")
    }
    pub fn token_id(&self) -> Option<String> {
        self.get_str("anaconda_server_token_id")
    }
    pub(crate) fn logged_api_url(&self) -> Option<String> {
        self.get_str("logged_api_url")
    }

    /// The keys a successful sign-in writes.
    pub(crate) fn set_logged_in(&mut self, domain: &str, token: &str, token_id: &str) {
        self.set_raw("logged_api_url", py_str(domain));
        // Navigator writes the brand through the enum's repr: unquoted.
        self.set_raw("logged_brand", BRAND.to_string());
        self.set_raw("anaconda_server_token", py_str(token));
        // a token the user was given has no id conda-connect knows: None, as Navigator writes an unknown value
        self.set_raw(
            "anaconda_server_token_id",
            py_opt_str(Some(token_id).filter(|id| !id.is_empty())),
        );
    }

    /// Only the token (regenerated sign-in token).
    pub(crate) fn set_token(&mut self, token: &str) {
        self.set_raw("anaconda_server_token", py_str(token));
    }

    /// The keys sign-out clears: `logged_api_url`, `logged_brand`, `anaconda_server_token[_id]` become `None`;
    /// `anaconda_server_api_url` stays (docs/design.md#63-keys-a-sign-in-sets-and-sign-out-clears).
    pub(crate) fn set_logged_out(&mut self) {
        for key in LOGIN_KEYS {
            self.set_raw(key, "None".into());
        }
    }

    /// The raw text of a `[main]` key, if present.
    pub(crate) fn raw(&self, key: &str) -> Option<String> {
        self.doc.get(MAIN, key).map(str::to_string)
    }

    /// Remove a `[main]` key.
    pub(crate) fn remove_key(&mut self, key: &str) {
        self.doc.remove(MAIN, key);
    }

    /// Set a `[main]` key to `None`.
    pub(crate) fn set_none(&mut self, key: &str) {
        self.set_raw(key, "None".into());
    }

    /// The single sign-on client id set for this machine (conda-connect's own section), if any; a value that is
    /// not a usable client id (spaces, control characters, too long) is ignored, as if unset.
    pub fn sso_client_id(&self) -> Option<String> {
        match self.doc.get(OWN, "sso_client_id").map(parse_py) {
            Some(PyValue::Str(s)) if crate::engine::sso::is_valid_client_id(s.trim()) => {
                Some(s.trim().to_string())
            }
            _ => None,
        }
    }

    pub(crate) fn set_sso_client_id(&mut self, id: Option<&str>) {
        match id.map(str::trim).filter(|i| !i.is_empty()) {
            Some(id) => self.doc.set(OWN, "sso_client_id", &py_str(id)),
            None => {
                self.doc.remove(OWN, "sso_client_id");
            }
        }
    }

    /// Whether sign-ins also write netrc for pip and uv (conda-connect's own section, `netrc = True`; default off).
    pub fn netrc(&self) -> bool {
        matches!(
            self.doc.get(OWN, "netrc").map(parse_py),
            Some(PyValue::Bool(true))
        )
    }

    pub(crate) fn set_netrc(&mut self, on: bool) {
        if on != self.netrc() || self.doc.get(OWN, "netrc").is_none() {
            self.doc
                .set(OWN, "netrc", if on { "True" } else { "False" });
        }
    }

    /// Whether the window offers the password form when the server has single sign-on: an administrator turns it
    /// off with `password_sign_in = False` in conda-connect's own section (default True).
    pub fn password_sign_in(&self) -> bool {
        !matches!(
            self.doc.get(OWN, "password_sign_in").map(parse_py),
            Some(PyValue::Bool(false))
        )
    }

    pub fn trusted_servers(&self) -> Vec<String> {
        match self.doc.get(SSL, "trusted_servers").map(parse_py) {
            Some(PyValue::List(items)) => items,
            Some(PyValue::Str(s)) if !s.is_empty() => vec![s],
            _ => Vec::new(),
        }
    }

    pub(crate) fn add_trusted_server(&mut self, netloc: &str) {
        let mut list = self.trusted_servers();
        if !list.iter().any(|s| s == netloc) {
            list.push(netloc.to_string());
            self.doc.set(SSL, "trusted_servers", &py_list(&list));
        }
    }

    /// The SHA-256 fingerprint of the certificate the user trusted for `netloc` (conda-connect's own section,
    /// `pinned_certificates = ['host:port AB:CD:…', …]`): a trusted server is trusted with that certificate only
    /// (docs/design.md#9-tls-trust-per-host). Entries that are not `netloc fingerprint` are ignored.
    pub(crate) fn pinned_certificate(&self, netloc: &str) -> Option<String> {
        self.pins()
            .into_iter()
            .find(|(n, _)| n == netloc)
            .map(|(_, fingerprint)| fingerprint)
    }

    fn pins(&self) -> Vec<(String, String)> {
        let items = match self.doc.get(OWN, "pinned_certificates").map(parse_py) {
            Some(PyValue::List(items)) => items,
            Some(PyValue::Str(s)) if !s.is_empty() => vec![s],
            _ => Vec::new(),
        };
        items
            .iter()
            .filter_map(|item| {
                let (netloc, fingerprint) = item.trim().split_once(' ')?;
                let fingerprint = crate::engine::certificate::normalize_fingerprint(fingerprint)?;
                Some((netloc.to_string(), fingerprint))
            })
            .collect()
    }

    /// Trust `netloc` with the certificate of this fingerprint: Navigator's `[ssl] trusted_servers` gets the host
    /// (so Navigator trusts it too), conda-connect's section the fingerprint (replacing an earlier one).
    pub(crate) fn pin_certificate(&mut self, netloc: &str, fingerprint: &str) {
        self.add_trusted_server(netloc);
        let mut pins = self.pins();
        pins.retain(|(n, _)| n != netloc);
        pins.push((netloc.to_string(), fingerprint.to_string()));
        let list: Vec<String> = pins.iter().map(|(n, f)| format!("{n} {f}")).collect();
        self.doc.set(OWN, "pinned_certificates", &py_list(&list));
    }

    /// "Enable SSL verification" (default True).
    pub(crate) fn ssl_verification(&self) -> bool {
        !matches!(self.get("ssl_verification"), PyValue::Bool(false))
    }
    pub(crate) fn set_ssl_verification(&mut self, on: bool) {
        self.set_raw("ssl_verification", if on { "True" } else { "False" }.into());
    }
    pub fn ssl_certificate(&self) -> Option<String> {
        self.get_str("ssl_certificate")
    }
    pub(crate) fn set_ssl_certificate(&mut self, path: Option<&str>) {
        self.set_raw("ssl_certificate", py_opt_str(path));
    }
    pub(crate) fn show_hidden_channels(&self) -> bool {
        matches!(
            self.get("anaconda_server_show_hidden_channels"),
            PyValue::Bool(true)
        )
    }
    pub(crate) fn set_show_hidden_channels(&mut self, on: bool) {
        self.set_raw(
            "anaconda_server_show_hidden_channels",
            if on { "True" } else { "False" }.into(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_sign_in_is_on_unless_the_administrator_turned_it_off() {
        let policy = |text: &str| {
            NavigatorIni::from_text(Path::new("x.ini"), Some(text.into()))
                .unwrap()
                .password_sign_in()
        };
        assert!(policy(""));
        assert!(policy("[conda_connect]\npassword_sign_in = True\n"));
        assert!(policy("[conda_connect]\npassword_sign_in = maybe\n"));
        assert!(
            policy("[main]\npassword_sign_in = False\n"),
            "only our own section"
        );
        assert!(!policy("[conda_connect]\npassword_sign_in = False\n"));
    }

    #[test]
    fn an_unusable_client_id_in_the_ini_is_ignored() {
        let client_id = |text: &str| {
            NavigatorIni::from_text(Path::new("x.ini"), Some(text.into()))
                .unwrap()
                .sso_client_id()
        };
        assert_eq!(
            client_id("[conda_connect]\nsso_client_id = ' cli '\n").as_deref(),
            Some("cli")
        );
        assert_eq!(client_id("[conda_connect]\nsso_client_id = 'a b'\n"), None);
        assert_eq!(
            client_id("[conda_connect]\nsso_client_id = 'a\\x1bb'\n"),
            None
        );
        assert_eq!(
            client_id(&format!(
                "[conda_connect]\nsso_client_id = '{}'\n",
                "x".repeat(256)
            )),
            None
        );
    }

    #[test]
    fn python_literals() {
        assert_eq!(parse_py("None"), PyValue::None);
        assert_eq!(parse_py("'https://x'"), PyValue::Str("https://x".into()));
        assert_eq!(
            parse_py("Anaconda Server"),
            PyValue::Str("Anaconda Server".into())
        );
        assert_eq!(
            parse_py("['a:1', \"b\"]"),
            PyValue::List(vec!["a:1".into(), "b".into()])
        );
        assert_eq!(parse_py("[]"), PyValue::List(vec![]));
        assert_eq!(parse_py("True"), PyValue::Bool(true));
        for sample in [
            "plain",
            "it's",
            "both ' and \"",
            "back\\slash",
            "cr\rlf\n",
            "esc\u{1b}[31m",
            "nul\0",
        ] {
            assert_eq!(
                parse_py(&py_str(sample)),
                PyValue::Str(sample.into()),
                "{sample}"
            );
        }
        assert_eq!(py_str("it's"), "\"it's\"");
        assert!(!py_str("a\rb\u{1b}").chars().any(char::is_control));
    }

    #[test]
    fn login_logout_keys_and_migration() {
        let path = Path::new("/x.ini");
        let text = "[main]\nteam_edition_api_url = 'https://old.example.com'\nteam_edition_token = None\n# c\n";
        let mut ini = NavigatorIni::from_text(path, Some(text.into())).unwrap();
        assert_eq!(ini.api_url().as_deref(), Some("https://old.example.com"));
        ini.migrate_old_names();
        ini.set_logged_in("https://old.example.com", "abc", "id-1");
        let out = ini.changed_text().unwrap();
        assert_eq!(
            out,
            "[main]\nanaconda_server_api_url = 'https://old.example.com'\nanaconda_server_token = 'abc'\nlogged_api_url = 'https://old.example.com'\nlogged_brand = Anaconda Server\nanaconda_server_token_id = 'id-1'\n# c\n"
        );
        let mut ini = NavigatorIni::from_text(path, Some(out)).unwrap();
        assert_eq!(ini.get_str("logged_brand").as_deref(), Some(BRAND));
        ini.set_logged_out();
        assert_eq!(ini.token(), None);
        assert_eq!(ini.api_url().as_deref(), Some("https://old.example.com"));
        ini.add_trusted_server("h:1");
        ini.add_trusted_server("h:1");
        assert_eq!(ini.trusted_servers(), vec!["h:1".to_string()]);
    }
}
