//! The local checks: conda's configuration sources (who sets `channel_alias`, `channels`, `default_channels`, and
//! what takes conda's token handling away), the credentials (conda's token files, rattler's entry, netrc), and the
//! environment variables that point conda, rattler, pip or requests elsewhere.

use crate::engine::Engine;
use crate::engine::clients::{netrc, rattler};
use crate::engine::files;
use crate::engine::session::{SessionRecord, Status as SignIn};
use crate::engine::token_files;

use super::sources;
use super::{Check, Group, Status, shown_token};

/// What the checks work from: the sign-in (if any), its token and the domain.
pub(crate) struct Context {
    pub domain: Option<String>,
    pub record: Option<SessionRecord>,
    pub token: Option<String>,
    pub status: Option<SignIn>,
    /// The secondary servers signed in beside the primary, with their access tokens.
    pub secondaries: Vec<(SessionRecord, String)>,
}

impl Context {
    pub fn read(engine: &Engine) -> Context {
        let status = engine.status().ok();
        let record = engine.session().ok().flatten();
        let token = engine.access_token().ok().flatten().map(|(_, t)| t);
        if let Some(token) = &token {
            crate::engine::redact::register(token);
        }
        let domain = status.as_ref().and_then(|s| s.domain.clone());
        let mut secondaries = Vec::new();
        for secondary in engine
            .server_list()
            .ok()
            .flatten()
            .map(|l| l.secondaries)
            .unwrap_or_default()
        {
            let token = engine
                .secrets
                .get(&secondary.session.domain)
                .ok()
                .flatten()
                .and_then(|s| s.access_token)
                .unwrap_or_default();
            crate::engine::redact::register(&token);
            secondaries.push((secondary.session, token));
        }
        Context {
            domain,
            record,
            token,
            status,
            secondaries,
        }
    }
}

pub(crate) fn config_checks(
    engine: &Engine,
    context: &Context,
    env: &dyn Fn(&str) -> Option<String>,
) -> Vec<Check> {
    let found = sources::sources(&engine.paths.home, env);
    let effective = sources::effective(&found);
    let user = engine.paths.condarc.display().to_string();
    let signed_in = context.status.as_ref().is_some_and(|s| s.logged_in);
    let mut out = source_checks(&found);
    out.push(channel_alias_check(&effective, context, &user));
    out.extend(channel_list_checks(&effective, &user, signed_in));
    out.extend(token_handling_checks(&found));
    out
}

/// Which files conda reads, and those it cannot (not a file, not YAML).
fn source_checks(found: &[sources::Source]) -> Vec<Check> {
    let mut out = Vec::new();
    let names: Vec<String> = found
        .iter()
        .filter(|s| !s.not_a_file)
        .map(|s| s.name.clone())
        .collect();
    out.push(Check::new(
        "condarc-sources",
        Group::Config,
        Status::Ok,
        if names.is_empty() {
            "conda reads no configuration file (conda's defaults apply).".to_string()
        } else {
            format!("conda reads, in this order: {}.", names.join(", "))
        },
    ));
    for source in found.iter().filter(|s| s.not_a_file) {
        out.push(
            Check::new(
                "condarc-not-a-file",
                Group::Config,
                Status::Warn,
                format!(
                    "{} is not a regular file (a FIFO, a device or a broken link): conda skips it.",
                    source.name
                ),
            )
            .fix("Remove it, or make it the file you meant."),
        );
    }
    for source in found.iter().filter(|s| s.unreadable) {
        out.push(
            Check::new(
                "condarc-unreadable",
                Group::Config,
                Status::Fail,
                format!(
                    "{} is not valid YAML: conda cannot read its settings.",
                    source.name
                ),
            )
            .fix("Fix the file, or move it away."),
        );
    }
    out
}

/// The alias conda uses, and whether it is the one signing in wrote (`user` is ~/.condarc's path).
fn channel_alias_check(effective: &sources::Effective, context: &Context, user: &str) -> Check {
    let expected = context.domain.as_ref().map(|d| format!("{d}/api/repo"));
    let signed_in = context.status.as_ref().is_some_and(|s| s.logged_in);
    match (&effective.channel_alias, &expected) {
        (Some(alias), Some(expected))
            if signed_in && alias != expected && effective.alias_from.as_deref() == Some(user) =>
        {
            Check::new(
                "channel-alias",
                Group::Config,
                Status::Fail,
                format!("channel_alias in {user} is {alias}; signing in set {expected}."),
            )
            .fix("Sign out and sign in again, or set channel_alias back in ~/.condarc.")
        }
        (Some(alias), Some(expected)) if signed_in && alias != expected => {
            let from = effective.alias_from.clone().unwrap_or_default();
            Check::new(
                "channel-alias",
                Group::Config,
                Status::Fail,
                format!(
                    "channel_alias is {alias}, set by {}, which conda reads after {user}; signing in set {expected}.",
                    source_words(&from)
                ),
            )
            .fix(format!("Remove channel_alias from {}.", source_words(&from)))
        }
        (None, Some(expected)) if signed_in => Check::new(
            "channel-alias",
            Group::Config,
            Status::Fail,
            format!("No channel_alias is set: conda resolves channel names at conda.anaconda.org, not {expected}."),
        )
        .fix("Sign out and sign in again, or set channel_alias in ~/.condarc."),
        (Some(alias), _) => Check::new(
            "channel-alias",
            Group::Config,
            Status::Ok,
            format!(
                "channel_alias is {alias} (from {}).",
                source_words(effective.alias_from.as_deref().unwrap_or(""))
            ),
        ),
        (None, _) => Check::new(
            "channel-alias",
            Group::Config,
            Status::Ok,
            "channel_alias is conda's default (https://conda.anaconda.org).",
        ),
    }
}

/// `channels` and `default_channels` as conda sees them; signed in, other files adding to them are named.
fn channel_list_checks(effective: &sources::Effective, user: &str, signed_in: bool) -> Vec<Check> {
    let others = |from: &[String]| -> Vec<String> {
        from.iter()
            .filter(|f| **f != user)
            .map(|f| source_words(f))
            .collect()
    };
    let mut out = Vec::new();
    for (key, values, from) in [
        ("channels", &effective.channels, &effective.channels_from),
        (
            "default_channels",
            &effective.default_channels,
            &effective.default_channels_from,
        ),
    ] {
        let extra = others(from);
        let shown = match (values.is_empty(), key) {
            (false, _) if values.len() > SHOWN_CHANNELS => format!(
                "{}, … ({} in all)",
                values[..SHOWN_CHANNELS].join(", "),
                values.len()
            ),
            (false, _) => values.join(", "),
            (true, "channels") => "defaults (conda's default)".to_string(),
            (true, _) => "conda's built-in (https://repo.anaconda.com/pkgs/main, https://repo.anaconda.com/pkgs/r)".into(),
        };
        let check = if extra.is_empty() || !signed_in {
            Check::new(key, Group::Config, Status::Ok, format!("{key}: {shown}."))
        } else {
            Check::new(
                key,
                Group::Config,
                Status::Warn,
                format!(
                    "{key}: {shown} — {} add to what ~/.condarc sets.",
                    extra.join(" and ")
                ),
            )
            .fix(format!(
                "Remove {key} from {} if conda should use only your server's channels.",
                extra.join(" and ")
            ))
        };
        out.push(check);
    }
    out
}

/// What takes conda's token handling away: auth handlers, tokens written into URLs, `add_anaconda_token: false`.
fn token_handling_checks(found: &[sources::Source]) -> Vec<Check> {
    let mut out = Vec::new();
    for source in found {
        for handler in &source.auth_handlers {
            out.push(
                Check::new(
                    "channel-settings",
                    Group::Config,
                    Status::Fail,
                    format!(
                        "channel_settings in {} routes {handler} (an auth handler): for those channels conda no \
                         longer sends the token conda-connect stored.",
                        source_words(&source.name)
                    ),
                )
                .fix("Remove that channel_settings entry, or configure the handler for your server."),
            );
        }
        for url in &source.tokens_in_urls {
            out.push(
                Check::new(
                    "condarc-token",
                    Group::Config,
                    Status::Warn,
                    format!(
                        "{} holds a token inside a channel URL ({url}): it shows in conda's output and logs, and \
                         signing out does not remove it.",
                        source_words(&source.name)
                    ),
                )
                .fix("Remove the token from that URL: the token file conda-connect writes supplies it."),
            );
        }
        if source.no_anaconda_token {
            out.push(
                Check::new(
                    "add-anaconda-token",
                    Group::Config,
                    Status::Fail,
                    format!(
                        "add_anaconda_token is false (set by {}): conda will not send the token.",
                        source_words(&source.name)
                    ),
                )
                .fix("Remove add_anaconda_token, or set it to true."),
            );
        }
    }
    out
}

/// How many entries of a list a message names.
const SHOWN_CHANNELS: usize = 20;

/// The largest credential file doctor reads (token files are a few dozen bytes, rattler's store a few KB).
const MAX_CREDENTIAL_FILE: u64 = 1024 * 1024;

/// A small regular file's bytes (`None`: absent). A FIFO, a device or a file larger than
/// [`MAX_CREDENTIAL_FILE`] is refused in words instead of being read (it could block or exhaust memory).
pub(crate) fn read_small(path: &std::path::Path) -> Result<Option<Vec<u8>>, String> {
    match std::fs::metadata(path) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(format!("cannot be read ({error})")),
        Ok(meta) if !meta.is_file() => return Err("is not a regular file".into()),
        Ok(meta) if meta.len() > MAX_CREDENTIAL_FILE => {
            return Err(format!(
                "is {} bytes, too large for what it should hold",
                meta.len()
            ));
        }
        Ok(_) => {}
    }
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(format!("cannot be read ({error})")),
    }
}

/// A source in words: a file's path, or "the CONDA_* environment variables".
fn source_words(name: &str) -> String {
    if name == "env" {
        "the CONDA_* environment variables".into()
    } else {
        name.to_string()
    }
}

pub(crate) fn credential_checks(
    engine: &Engine,
    context: &Context,
    env: &dyn Fn(&str) -> Option<String>,
) -> Vec<Check> {
    let mut out = Vec::new();
    if engine.recovery_due() {
        out.push(
            Check::new(
                "interrupted-change",
                Group::Credentials,
                Status::Fail,
                "A change was interrupted and waits to be finished.",
            )
            .fix("Run any conda-connect command (status) to finish it."),
        );
    }
    let signed_in = context.status.as_ref().is_some_and(|s| s.logged_in);
    match (&context.domain, &context.token, signed_in) {
        (Some(domain), Some(token), true) => {
            out.extend(token_file_checks(engine, domain, token));
            if let Some(record) = &context.record {
                out.extend(client_checks(engine, record, token, env));
            }
        }
        _ if !context.secondaries.is_empty() => {}
        _ => out.push(Check::new(
            "sign-in",
            Group::Credentials,
            Status::Skipped,
            "Not signed in: no credential to check.",
        )),
    }
    // each secondary server's token files and clients, the same way
    for (record, token) in &context.secondaries {
        out.extend(token_file_checks(engine, &record.domain, token));
        out.extend(client_checks(engine, record, token, env));
    }
    if let Ok(pending) = engine.pending_revocations() {
        for entry in pending {
            let id = entry.token_id.clone().unwrap_or_default();
            let check = Check::new(
                "pending-revocation",
                Group::Credentials,
                Status::Warn,
                format!(
                    "The server token {id} on {} is not revoked yet.",
                    entry.domain
                ),
            );
            out.push(if entry.needs_sign_in {
                check.fix(format!(
                    "Sign in to {} once more: that revokes it.",
                    entry.domain
                ))
            } else {
                check.fix("conda-connect retries it; check that the server can be reached.")
            });
        }
    }
    out.extend(environment_checks(context, env));
    out
}

/// The variables that point conda, requests, OpenSSL or rattler elsewhere.
fn environment_checks(context: &Context, env: &dyn Fn(&str) -> Option<String>) -> Vec<Check> {
    let mut out = Vec::new();
    let set = |name: &str| env(name).filter(|v| !v.is_empty());
    for (name, who) in [
        (
            "REQUESTS_CA_BUNDLE",
            "conda (through requests) trusts only the CAs in",
        ),
        (
            "CURL_CA_BUNDLE",
            "conda (through requests) trusts only the CAs in",
        ),
        (
            "SSL_CERT_FILE",
            "tools that use OpenSSL's defaults trust the CAs in",
        ),
    ] {
        let Some(path) = set(name) else { continue };
        let path_ref = std::path::Path::new(&path);
        if path_ref.exists() && !path_ref.is_file() {
            out.push(
                Check::new(
                    "environment",
                    Group::Credentials,
                    Status::Fail,
                    format!("{name} points to {path}, which is not a regular file: certificates cannot be read from it."),
                )
                .fix(format!("Unset {name}, or point it to your CA bundle.")),
            );
            continue;
        }
        out.push(if path_ref.is_file() {
            Check::new("environment", Group::Credentials, Status::Ok, format!("{name}: {who} {path}."))
        } else {
            Check::new(
                "environment",
                Group::Credentials,
                Status::Fail,
                format!("{name} points to {path}, which does not exist: every TLS connection of conda fails."),
            )
            .fix(format!("Unset {name}, or point it to your CA bundle."))
        });
    }
    if let Some(value) = set("CONDA_SSL_VERIFY") {
        let off = matches!(
            value.to_ascii_lowercase().as_str(),
            "false" | "no" | "0" | "off"
        );
        out.push(if off {
            Check::new(
                "environment",
                Group::Credentials,
                Status::Warn,
                "CONDA_SSL_VERIFY turns certificate checks off for conda: anyone between you and the server can read \
                 the token.",
            )
            .fix("Unset CONDA_SSL_VERIFY; give conda your CA bundle instead (ssl_verify: <bundle.pem>).")
        } else {
            Check::new(
                "environment",
                Group::Credentials,
                Status::Ok,
                format!("CONDA_SSL_VERIFY is {value}: it overrides ssl_verify of every .condarc."),
            )
        });
    }
    if let Some(value) = set("CONDA_OFFLINE").filter(|v| {
        !matches!(
            v.to_ascii_lowercase().as_str(),
            "false" | "no" | "0" | "off"
        )
    }) {
        out.push(
            Check::new(
                "environment",
                Group::Credentials,
                Status::Warn,
                format!("CONDA_OFFLINE is {value}: conda uses only what it has cached and reaches no channel."),
            )
            .fix("Unset CONDA_OFFLINE."),
        );
    }
    if let Some(dir) = set("BINSTAR_CONFIG_DIR") {
        out.push(Check::new(
            "environment",
            Group::Credentials,
            Status::Ok,
            format!("BINSTAR_CONFIG_DIR is {dir}: conda reads token files from {dir}/data only."),
        ));
    }
    // with a rattler credential of this sign-in, the rattler check names the variable as a shadow
    let rattler_signed_in = context
        .record
        .as_ref()
        .is_some_and(|r| r.clients.iter().any(|c| c.name == "rattler"));
    if let Some(file) = set("RATTLER_AUTH_FILE").filter(|_| !rattler_signed_in) {
        out.push(if std::path::Path::new(&file).is_file() {
            Check::new(
                "environment",
                Group::Credentials,
                Status::Ok,
                format!("RATTLER_AUTH_FILE is {file}: pixi and rattler read credentials from it first."),
            )
        } else {
            Check::new(
                "environment",
                Group::Credentials,
                Status::Warn,
                format!("RATTLER_AUTH_FILE names {file}, which does not exist: pixi and rattler find no credential in it."),
            )
            .fix("Unset RATTLER_AUTH_FILE, or point it to your credentials file.")
        });
    }
    out
}

fn token_file_checks(engine: &Engine, domain: &str, token: &str) -> Vec<Check> {
    let mut out = Vec::new();
    // conda reads the first of the token folders (its own); the others are anaconda-client's
    let Some(conda_dir) = engine.paths.token_dirs.first() else {
        return out;
    };
    let shown = shown_token(token);
    let mut problems = Vec::new();
    for url in token_files::token_urls(domain) {
        let path = conda_dir.join(format!("{}.token", token_files::quote_plus(&url)));
        match read_small(&path) {
            Ok(Some(bytes)) if bytes == token.as_bytes() => {
                if let Some(mode) = files::mode_of(&path).filter(|m| cfg!(unix) && m & 0o077 != 0) {
                    out.push(
                        Check::new(
                            "token-file-mode",
                            Group::Credentials,
                            Status::Fail,
                            format!(
                                "{} is readable by others (mode {mode:04o}): anyone on this machine can use the token.",
                                engine.paths.display(&path)
                            ),
                        )
                        .fix(format!("chmod 600 {}", path.display())),
                    );
                }
            }
            Ok(Some(_)) => problems.push(
                Check::new(
                    "token-file",
                    Group::Credentials,
                    Status::Fail,
                    format!(
                        "{} holds a different token than the signed-in one ({shown}): conda sends that one.",
                        engine.paths.display(&path)
                    ),
                )
                .fix("Sign out and sign in again (conda-connect writes the file back)."),
            ),
            Ok(None) => problems.push(
                Check::new(
                    "token-file",
                    Group::Credentials,
                    Status::Fail,
                    format!(
                        "No token file for {url} in {} (the folder conda reads): conda cannot reach private channels.",
                        engine.paths.display(conda_dir)
                    ),
                )
                .fix("Sign out and sign in again."),
            ),
            Err(why) => problems.push(
                Check::new(
                    "token-file",
                    Group::Credentials,
                    Status::Fail,
                    format!("{} {why}: conda cannot read the token from it.", engine.paths.display(&path)),
                )
                .fix("Sign out and sign in again (conda-connect writes the file back)."),
            ),
        }
    }
    if problems.is_empty() {
        out.push(Check::new(
            "token-file",
            Group::Credentials,
            Status::Ok,
            format!(
                "conda's token files in {} hold the signed-in token ({shown}).",
                engine.paths.display(conda_dir)
            ),
        ));
    }
    out.extend(problems);
    // another file whose URL also matches this server's and holds another token: conda may pick either
    if let Ok(entries) = std::fs::read_dir(conda_dir) {
        let ours: Vec<String> = token_files::token_urls(domain)
            .iter()
            .map(|u| format!("{}.token", token_files::quote_plus(u)))
            .collect();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(stem) = name.strip_suffix(".token") else {
                continue;
            };
            let url = token_files::unquote_plus(stem);
            let related = url.starts_with(domain) || domain.starts_with(&url);
            if related && !ours.contains(&name) {
                // only a small regular file can be a token (a FIFO or a device is not read)
                let shown = engine.paths.display(&entry.path());
                let finding = match read_small(&entry.path()) {
                    Ok(Some(bytes)) if bytes == token.as_bytes() => None,
                    Ok(None) => None,
                    Ok(Some(_)) => Some(format!(
                        "{shown} also matches {domain}'s addresses and holds another token: conda may send that one."
                    )),
                    Err(why) => Some(format!(
                        "{shown} also matches {domain}'s addresses and {why}: conda may fail on it."
                    )),
                };
                if let Some(message) = finding {
                    out.push(
                        Check::new(
                            "token-file-other",
                            Group::Credentials,
                            Status::Warn,
                            message,
                        )
                        .fix("Remove that file if it belongs to an old sign-in."),
                    );
                }
            }
        }
    }
    out
}

fn client_checks(
    engine: &Engine,
    record: &SessionRecord,
    token: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Vec<Check> {
    let mut out = Vec::new();
    for client in &record.clients {
        match (client.name.as_str(), client.store.as_str(), &client.path) {
            ("rattler", "file", Some(path)) => {
                let text = match read_small(path) {
                    Ok(found) => found.map(|b| String::from_utf8_lossy(&b).into_owned()),
                    Err(why) => {
                        out.push(
                            Check::new(
                                "rattler",
                                Group::Credentials,
                                Status::Fail,
                                format!(
                                    "{} {why}: pixi and rattler cannot read it.",
                                    engine.paths.display(path)
                                ),
                            )
                            .fix("Remove it, then sign in again."),
                        );
                        continue;
                    }
                };
                let entry = rattler::entry_in(path, text.as_deref(), &client.host);
                out.push(match entry {
                    Err(_) => Check::new(
                        "rattler",
                        Group::Credentials,
                        Status::Fail,
                        format!("{} is not valid JSON: pixi and rattler fail on it.", engine.paths.display(path)),
                    )
                    .fix("Fix or remove the file, then sign in again."),
                    Ok(Some(value)) if value.to_string().contains(token) => Check::new(
                        "rattler",
                        Group::Credentials,
                        Status::Ok,
                        format!(
                            "pixi and rattler send the token for {} as {} (from {}).",
                            client.host,
                            client.form.clone().unwrap_or_default(),
                            engine.paths.display(path)
                        ),
                    ),
                    Ok(_) => Check::new(
                        "rattler",
                        Group::Credentials,
                        Status::Warn,
                        format!(
                            "{} holds no credential of this sign-in for {}: pixi and rattler get no token.",
                            engine.paths.display(path),
                            client.host
                        ),
                    )
                    .fix("Sign out and sign in again."),
                });
            }
            ("rattler", "keyring", _) => out.push(Check::new(
                "rattler",
                Group::Credentials,
                Status::Ok,
                format!(
                    "pixi and rattler read the token for {} from the OS keyring.",
                    client.host
                ),
            )),
            ("netrc", _, Some(path)) => {
                let text = read_small(path)
                    .ok()
                    .flatten()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                out.push(if text.contains(&netrc::block(&client.host, token)) {
                    Check::new(
                        "netrc",
                        Group::Credentials,
                        Status::Ok,
                        format!(
                            "pip and uv find the token for {} in {}.",
                            client.host,
                            engine.paths.display(path)
                        ),
                    )
                } else {
                    Check::new(
                        "netrc",
                        Group::Credentials,
                        Status::Warn,
                        format!(
                            "{} no longer holds the entry for {}.",
                            engine.paths.display(path),
                            client.host
                        ),
                    )
                    .fix("Sign out and sign in again with pip and uv.")
                });
            }
            _ => {}
        }
        if client.name == "rattler" {
            for note in rattler::shadowing(&engine.paths, &client.host, env) {
                out.push(Check::new(
                    "rattler-shadowed",
                    Group::Credentials,
                    Status::Warn,
                    note,
                ));
            }
        }
    }
    out
}
