//! Where a policy is read, in precedence order (the first source that sets a key wins):
//!
//! 1. Windows: Group Policy's machine key `HKLM\SOFTWARE\Policies\conda-connect`, then the user key
//!    `HKCU\SOFTWARE\Policies\conda-connect` (values: strings, DWORDs for true/false and numbers, multi-strings or
//!    comma-separated strings for lists).
//! 2. macOS: the managed preferences of the app's bundle id, `/Library/Managed Preferences/<bundle id>.plist`
//!    (written by an MDM configuration profile), then the per-user `/Library/Managed Preferences/<user>/…`.
//! 3. Every platform: the JSON file `CONDA_CONNECT_POLICY_FILE` names (images and tests), else (Linux and macOS)
//!    `/etc/conda-connect/policy.json` (Ansible, Puppet, Salt). On Unix a file other users can write is refused.
//!
//! A source that is not there is no policy; a source that is there but cannot be read or parsed is an error.

use std::path::{Path, PathBuf};

use super::{Layer, Value};
use crate::engine::error::{Error, Result};

/// The bundle id of the macOS app (Info.plist's CFBundleIdentifier).
pub const BUNDLE_ID: &str = "io.github.conda_connect.CondaConnect";
/// The policy key under `HKLM\` and `HKCU\`.
pub const REGISTRY_KEY: &str = r"SOFTWARE\Policies\conda-connect";
/// The JSON file on Linux (and macOS, for config-management tools).
pub const POLICY_FILE: &str = "/etc/conda-connect/policy.json";
/// Names another JSON policy file.
pub const POLICY_FILE_VAR: &str = "CONDA_CONNECT_POLICY_FILE";
/// The largest policy file read (a policy is a few hundred bytes).
const MAX_FILE: u64 = 256 * 1024;

/// Every source that is there, in precedence order.
pub fn read_all() -> Result<Vec<Layer>> {
    let mut layers = Vec::new();
    #[cfg(windows)]
    layers.extend(registry::read()?);
    #[cfg(target_os = "macos")]
    layers.extend(managed_preferences::read()?);
    if let Some(path) = policy_file()
        && let Some(layer) = read_file(&path)?
    {
        layers.push(layer);
    }
    Ok(layers)
}

/// The JSON file this process reads: `CONDA_CONNECT_POLICY_FILE`, else the system file — not on Windows, where
/// `/etc/…` would be a folder at the drive's root that any user may create (Windows' policy is the registry's).
pub fn policy_file() -> Option<PathBuf> {
    match std::env::var_os(POLICY_FILE_VAR) {
        Some(path) if !path.is_empty() => Some(PathBuf::from(path)),
        _ if cfg!(windows) => None,
        _ => Some(PathBuf::from(POLICY_FILE)),
    }
}

fn unreadable(path: &Path, detail: impl Into<String>) -> Error {
    Error::InvalidPolicy {
        source: path.display().to_string(),
        key: String::new(),
        detail: detail.into(),
    }
}

/// One JSON object of policy keys (`None` when the file is not there).
pub fn read_file(path: &Path) -> Result<Option<Layer>> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(unreadable(path, format!("it cannot be read ({error})"))),
    };
    if !meta.is_file() {
        return Err(unreadable(path, "it is not a file"));
    }
    if meta.len() > MAX_FILE {
        return Err(unreadable(path, "it is too large for a policy"));
    }
    // a policy another user could write would let them send everyone's sign-in to their server
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if meta.mode() & 0o022 != 0 {
            return Err(unreadable(
                path,
                format!(
                    "other users can change it (mode {:o}); make it writable by its owner only",
                    meta.mode() & 0o777
                ),
            ));
        }
    }
    let text = std::fs::read_to_string(path)
        .map_err(|error| unreadable(path, format!("it cannot be read ({error})")))?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|error| unreadable(path, format!("it is not valid JSON ({error})")))?;
    let serde_json::Value::Object(map) = json else {
        return Err(unreadable(path, "it must be one JSON object of settings"));
    };
    let source = path.display().to_string();
    let mut values = Vec::new();
    for (key, value) in map {
        let value = match value {
            serde_json::Value::String(s) => Value::Text(s),
            serde_json::Value::Bool(b) => Value::Flag(b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(n) => Value::Number(n),
                None => return Err(super::invalid(&source, &key, "it must be a whole number")),
            },
            serde_json::Value::Array(items) => {
                let mut names = Vec::new();
                for item in items {
                    match item {
                        serde_json::Value::String(s) => names.push(s),
                        _ => {
                            return Err(super::invalid(
                                &source,
                                &key,
                                "it must be a list of names",
                            ));
                        }
                    }
                }
                Value::List(names)
            }
            _ => {
                return Err(super::invalid(
                    &source,
                    &key,
                    "it has no value of a policy's kind",
                ));
            }
        };
        values.push((key, value));
    }
    Ok(Some(Layer { source, values }))
}

#[cfg(windows)]
pub mod registry {
    //! Group Policy's registry keys (written by the ADMX template, an MSI or `reg add`).

    use super::{Layer, REGISTRY_KEY, Value};
    use crate::engine::error::{Error, Result};

    /// The key under each hive; `CONDA_CONNECT_POLICY_REGISTRY_KEY` replaces it (tests: one key per test, so that
    /// tests running at once do not see each other's policy).
    pub fn key() -> String {
        std::env::var("CONDA_CONNECT_POLICY_REGISTRY_KEY")
            .ok()
            .filter(|k| !k.is_empty())
            .unwrap_or_else(|| REGISTRY_KEY.to_string())
    }

    pub fn read() -> Result<Vec<Layer>> {
        let key = key();
        let mut layers = Vec::new();
        for (hive, name) in [
            (windows_registry::LOCAL_MACHINE, "HKLM"),
            (windows_registry::CURRENT_USER, "HKCU"),
        ] {
            let source = format!(r"{name}\{key}");
            let Ok(opened) = hive.open(&key) else {
                continue;
            };
            let mut values = Vec::new();
            let names = opened.values().map_err(|e| Error::InvalidPolicy {
                source: source.clone(),
                key: String::new(),
                detail: format!("its values cannot be read ({e})"),
            })?;
            for (value_name, data) in names {
                let value = match data.ty() {
                    windows_registry::Type::String | windows_registry::Type::ExpandString => {
                        let text = opened.get_string(&value_name).unwrap_or_default();
                        // an empty string is "not configured" (an installer property left out writes one)
                        if text.trim().is_empty() {
                            continue;
                        }
                        Value::Text(text)
                    }
                    windows_registry::Type::U32 => {
                        Value::Number(i64::from(opened.get_u32(&value_name).unwrap_or_default()))
                    }
                    windows_registry::Type::U64 => {
                        Value::Number(opened.get_u64(&value_name).unwrap_or_default() as i64)
                    }
                    windows_registry::Type::MultiString => {
                        Value::List(opened.get_multi_string(&value_name).unwrap_or_default())
                    }
                    _ => {
                        return Err(Error::InvalidPolicy {
                            source,
                            key: value_name,
                            detail: "it has no value of a policy's kind".into(),
                        });
                    }
                };
                values.push((value_name, value));
            }
            layers.push(Layer { source, values });
        }
        Ok(layers)
    }
}

#[cfg(any(target_os = "macos", test))]
pub mod managed_preferences {
    //! Managed preferences: what an MDM configuration profile for the app's bundle id installs. The conversion of
    //! the property list is compiled on every platform for its tests (the example profile shipped in
    //! packaging/macos/ goes through it); reading `/Library/Managed Preferences` is macOS only.

    use super::{Layer, Value};
    use crate::engine::error::{Error, Result};

    #[cfg(target_os = "macos")]
    pub fn read() -> Result<Vec<Layer>> {
        use std::path::PathBuf;
        let base = PathBuf::from("/Library/Managed Preferences");
        let mut paths = vec![base.join(format!("{}.plist", super::BUNDLE_ID))];
        if let Ok(user) = std::env::var("USER") {
            paths.push(base.join(user).join(format!("{}.plist", super::BUNDLE_ID)));
        }
        let mut layers = Vec::new();
        for path in paths {
            if !path.is_file() {
                continue;
            }
            let source = path.display().to_string();
            let value = plist::Value::from_file(&path).map_err(|e| Error::InvalidPolicy {
                source: source.clone(),
                key: String::new(),
                detail: format!("it is not a property list ({e})"),
            })?;
            layers.push(layer(source, value)?);
        }
        Ok(layers)
    }

    /// One source's settings from its property list: a dictionary of strings, booleans, integers and arrays of
    /// strings. A profile's own bookkeeping keys (`Payload…`) are skipped whatever their kind.
    pub fn layer(source: String, value: plist::Value) -> Result<Layer> {
        let dict = value
            .into_dictionary()
            .ok_or_else(|| Error::InvalidPolicy {
                source: source.clone(),
                key: String::new(),
                detail: "it must be a dictionary of settings".into(),
            })?;
        let mut values = Vec::new();
        for (key, value) in dict {
            if key.starts_with("Payload") {
                continue;
            }
            let value = match value {
                plist::Value::String(s) => Value::Text(s),
                plist::Value::Boolean(b) => Value::Flag(b),
                plist::Value::Integer(n) => Value::Number(n.as_signed().unwrap_or(-1)),
                plist::Value::Array(items) => {
                    Value::List(items.into_iter().filter_map(|i| i.into_string()).collect())
                }
                _ => {
                    return Err(Error::InvalidPolicy {
                        source,
                        key,
                        detail: "it has no value of a policy's kind".into(),
                    });
                }
            };
            values.push((key, value));
        }
        Ok(Layer { source, values })
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use crate::engine::policy::{Policy, SignInPolicy};

        /// The settings dictionary of the example profile, as macOS installs it in Managed Preferences.
        fn example_settings() -> plist::Value {
            let path = concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/packaging/macos/conda-connect-policy.mobileconfig"
            );
            let profile =
                plist::Value::from_file(path).expect("the example profile is a property list");
            let content = profile.as_dictionary().unwrap()["PayloadContent"]
                .as_array()
                .unwrap();
            content[0].clone()
        }

        #[test]
        fn the_example_profile_is_a_valid_policy() {
            let layer = layer("managed preferences".into(), example_settings()).unwrap();
            assert!(
                layer
                    .values
                    .iter()
                    .all(|(key, _)| !key.starts_with("Payload"))
            );
            let policy = Policy::from_layers(&[layer]).unwrap();
            assert_eq!(policy.domain.as_deref(), Some("https://repo.example.com"));
            assert_eq!(policy.sign_in, Some(SignInPolicy::Sso));
            assert_eq!(policy.token_lifetime_days, Some(90));
            assert_eq!(
                policy.support_url.as_deref(),
                Some("https://help.example.com/conda")
            );
        }

        #[test]
        fn a_value_of_another_kind_is_refused_naming_its_key_payload_keys_are_not_read() {
            let mut dict = plist::Dictionary::new();
            dict.insert(
                "PayloadContent".into(),
                plist::Value::Dictionary(plist::Dictionary::new()),
            );
            dict.insert("PayloadVersion".into(), plist::Value::Real(1.0));
            dict.insert(
                "domain".into(),
                plist::Value::String("https://repo.example.com".into()),
            );
            let ok = layer("p".into(), plist::Value::Dictionary(dict.clone())).unwrap();
            assert_eq!(ok.values.len(), 1);
            dict.insert("token_lifetime_days".into(), plist::Value::Real(1.5));
            match layer("p".into(), plist::Value::Dictionary(dict)) {
                Err(Error::InvalidPolicy { key, .. }) => assert_eq!(key, "token_lifetime_days"),
                other => panic!("{other:?}"),
            }
            assert!(layer("p".into(), plist::Value::Boolean(true)).is_err());
        }
    }
}
