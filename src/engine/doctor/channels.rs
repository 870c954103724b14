//! The channels: each configured one (or each given with `--channel`) resolved as conda resolves it — to this
//! server, to another place (`custom_channels`, a full URL) or to conda's own defaults — then its `repodata.json`
//! fetched through the path conda uses (the token in the URL for this server's channels), 401, 403 and 404 told
//! apart; and one package download with the token as conda sends it.

use futures_util::StreamExt;

use crate::engine::Engine;
use crate::engine::client::ServerClient;
use crate::engine::client::redact;
use crate::engine::domain;
use crate::engine::index::{self, ChannelSource, platform_subdir, tokenized};

use super::credentials::Context;
use super::sources;
use super::{Check, Deadline, Group, Options, Status};

/// At most this many channels are checked (the rest are named as not checked), all at once.
const MAX_CHANNELS: usize = 24;
/// How much of a `repodata.json` is read: enough to see that it is one and to find a package for the download
/// check.
const PROBE_BYTES: usize = 64 * 1024;

/// Where a channel leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    ThisServer,
    CondaDefaults,
    Elsewhere,
}

/// What one channel's repodata answered, per subdirectory.
struct Probe {
    source: ChannelSource,
    place: Place,
    noarch: Answer,
    platform: Answer,
    /// A package file the repodata lists (its subdirectory and name), for the download probe.
    package: Option<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    Ok,
    Status(u16),
    Unreachable(String),
    /// A 200 whose body is not a repodata document (a sign-on page, a proxy's page), in words.
    NotRepodata(String),
}

pub(crate) async fn checks(
    engine: &Engine,
    context: &Context,
    options: &Options,
    reachable: bool,
    deadline: Deadline,
) -> Vec<Check> {
    let env = |name: &str| std::env::var(name).ok();
    let effective = sources::effective(&sources::sources(&engine.paths.home, &env));
    let settings = effective.settings();
    let mut wanted: Vec<ChannelSource> = if options.channels.is_empty() {
        index::configured_channels(&settings)
    } else {
        let mut out: Vec<ChannelSource> = Vec::new();
        for name in &options.channels {
            if name == "defaults" {
                let only = crate::engine::condarc::CondaSettings {
                    channels: Some(vec!["defaults".into()]),
                    ..settings.clone()
                };
                out.extend(index::configured_channels(&only));
            } else {
                out.push(index::resolve_channel(&settings, name));
            }
        }
        out
    };
    let mut out = Vec::new();
    if wanted.len() > MAX_CHANNELS {
        out.push(Check::new(
            "channels",
            Group::Channels,
            Status::Skipped,
            format!(
                "{} channels are {}; the first {MAX_CHANNELS} are checked.",
                wanted.len(),
                if options.channels.is_empty() {
                    "configured"
                } else {
                    "given"
                }
            ),
        ));
        wanted.truncate(MAX_CHANNELS);
    }
    let domain = context.domain.clone().unwrap_or_default();
    let place_of = |source: &ChannelSource| place(&source.url, &domain);
    let client = match engine.client(if domain.is_empty() {
        "http://127.0.0.1"
    } else {
        &domain
    }) {
        Ok(client) => client,
        Err(error) => {
            out.push(Check::new(
                "channels",
                Group::Channels,
                Status::Fail,
                error.to_string(),
            ));
            return out;
        }
    };
    let token = context.token.as_deref();
    // a secondary server's channel is probed with that server's client and token
    let secondaries: Vec<(String, String, crate::engine::client::ServerClient)> = context
        .secondaries
        .iter()
        .filter_map(|(record, token)| {
            let client = engine.client(&record.domain).ok()?;
            Some((record.domain.clone(), token.clone(), client))
        })
        .collect();
    let probes: Vec<Probe> = futures_util::stream::iter(wanted.into_iter().map(|source| {
        let other = secondaries
            .iter()
            .find(|(d, _, _)| place(&source.url, d) == Place::ThisServer);
        let place = match other {
            Some(_) => Place::ThisServer,
            None => place_of(&source),
        };
        let (client, domain, token) = match other {
            Some((d, t, c)) => (c, d.as_str(), Some(t.as_str())),
            None => (&client, domain.as_str(), token),
        };
        let reachable = reachable || other.is_some();
        async move {
            if place == Place::ThisServer && !reachable {
                return Probe {
                    source,
                    place,
                    noarch: Answer::Unreachable("see the Network checks above".into()),
                    platform: Answer::Unreachable(String::new()),
                    package: None,
                };
            }
            let name = source.clone();
            // the channel's own time limit (both directories at once, headers and beginning of the body)
            let limit = deadline.step();
            match tokio::time::timeout(limit, probe(client, source, place, domain, token)).await {
                Ok(found) => found,
                Err(_) => Probe {
                    source: name,
                    place,
                    noarch: Answer::Unreachable(format!(
                        "no complete answer within {:.1} s",
                        limit.as_secs_f32()
                    )),
                    platform: Answer::Unreachable(String::new()),
                    package: None,
                },
            }
        }
    }))
    .buffered(MAX_CHANNELS)
    .collect()
    .await;
    for found in &probes {
        out.push(channel_check(found, context, &domain));
    }
    // one download, from the first of this server's channels whose repodata names a package
    if reachable
        && let Some(found) = probes
            .iter()
            .find(|p| p.place == Place::ThisServer && p.package.is_some())
        && let Some((subdir, file)) = &found.package
    {
        out.push(
            download_check(
                &client,
                &found.source,
                subdir,
                file,
                &domain,
                token,
                deadline,
            )
            .await,
        );
    }
    out
}

fn place(url: &str, domain: &str) -> Place {
    let server_repo = format!("{}/api/repo/", domain.trim_end_matches('/'));
    if !domain.is_empty() && url.starts_with(&server_repo) {
        return Place::ThisServer;
    }
    let host = url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
        .unwrap_or_default();
    if matches!(host.as_str(), "repo.anaconda.com" | "conda.anaconda.org") {
        Place::CondaDefaults
    } else {
        Place::Elsewhere
    }
}

async fn probe(
    client: &ServerClient,
    source: ChannelSource,
    place: Place,
    domain: &str,
    token: Option<&str>,
) -> Probe {
    let token = if place == Place::ThisServer {
        token
    } else {
        None
    };
    let ((noarch, noarch_package), (platform, platform_package)) = tokio::join!(
        fetch(client, &source.url, "noarch", domain, token),
        fetch(client, &source.url, platform_subdir(), domain, token),
    );
    Probe {
        source,
        place,
        noarch,
        platform,
        package: platform_package.or(noarch_package),
    }
}

/// GET one `repodata.json` and read its beginning (the caller bounds the time): whether it is one, and the first
/// package file it lists.
async fn fetch(
    client: &ServerClient,
    base: &str,
    subdir: &str,
    domain: &str,
    token: Option<&str>,
) -> (Answer, Option<(String, String)>) {
    let url = tokenized(&format!("{base}/{subdir}/repodata.json"), domain, token);
    let response = match client.http().get(&url).send().await {
        Ok(response) => response,
        Err(error) => {
            tracing::debug!(url = %redact(&url), error = %redact(&error.to_string()), "doctor: repodata not reached");
            return (
                Answer::Unreachable(transport_words(&error, &domain::netloc(base))),
                None,
            );
        }
    };
    let status = response.status().as_u16();
    if status != 200 {
        return (Answer::Status(status), None);
    }
    let mut head = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(Ok(chunk)) = stream.next().await {
        head.extend_from_slice(&chunk);
        if head.len() >= PROBE_BYTES {
            break;
        }
    }
    match not_repodata(&head) {
        Some(what) => (Answer::NotRepodata(what), None),
        None => (
            Answer::Ok,
            first_package(&head).map(|f| (subdir.to_string(), f)),
        ),
    }
}

/// Why the beginning of a body is not a repodata document, if it is not: a JSON object naming `packages`, `info`
/// or `repodata_version`.
fn not_repodata(head: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(head);
    let text = text.trim_start_matches('\u{feff}').trim_start();
    if text.is_empty() {
        return Some("an empty answer".into());
    }
    if text.starts_with('<') {
        return Some("an HTML page (a sign-on page or a proxy in the way?)".into());
    }
    let names_a_key = ["\"packages", "\"info\"", "\"repodata_version\""]
        .iter()
        .any(|key| text.contains(key));
    (!text.starts_with('{') || !names_a_key).then(|| "not a repodata document".into())
}

/// Why a request got no answer, in words that do not assume the host is an Anaconda Server.
fn transport_words(error: &reqwest::Error, host: &str) -> String {
    use crate::engine::error::Error;
    let what = match crate::engine::client::classify_transport(error, host) {
        Error::Timeout { .. } => "it did not answer in time",
        Error::Tls { .. } => "its certificate cannot be verified",
        _ => {
            let chain =
                std::iter::successors(Some(error as &(dyn std::error::Error + 'static)), |e| {
                    e.source()
                })
                .map(|e| e.to_string().to_lowercase())
                .collect::<Vec<_>>()
                .join(" ");
            if chain.contains("dns") || chain.contains("resolve") || chain.contains("lookup") {
                "its name does not resolve"
            } else if chain.contains("refused") {
                "the connection is refused"
            } else {
                "the connection failed"
            }
        }
    };
    format!("{host}: {what}")
}

/// The first file name under `packages.conda` or `packages` in the beginning of a `repodata.json`.
fn first_package(head: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(head);
    ["\"packages.conda\"", "\"packages\""]
        .iter()
        .find_map(|key| first_key_of(&text, key))
}

/// The first key of the object that follows `key`, when it names a package file.
fn first_key_of(text: &str, key: &str) -> Option<String> {
    let at = text.find(key)?;
    let rest = text[at + key.len()..].trim_start();
    let rest = rest
        .strip_prefix(':')?
        .trim_start()
        .strip_prefix('{')?
        .trim_start();
    let rest = rest.strip_prefix('"')?;
    let name = &rest[..rest.find('"')?];
    let plausible = (name.ends_with(".conda") || name.ends_with(".tar.bz2"))
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | '!'))
        && !name.contains(['/', '\\'])
        && !name.starts_with('.');
    plausible.then(|| name.to_string())
}

fn channel_check(found: &Probe, context: &Context, domain: &str) -> Check {
    let name = &found.source.name;
    let url = &found.source.url;
    let id = format!("channel:{name}");
    let signed_in = context.token.is_some();
    let account = context
        .record
        .as_ref()
        .map(|r| r.username.clone())
        .unwrap_or_default();
    let given = context.record.as_ref().is_some_and(|r| r.given_token);
    let where_words = match found.place {
        Place::ThisServer => "on your server".to_string(),
        Place::CondaDefaults => format!("at {url} (Anaconda's public repository, not your server)"),
        Place::Elsewhere => format!("at {url} (not your server)"),
    };
    // conda: a 403 or 404 of a platform directory is an empty directory; of noarch, an invalid channel
    let answer = match (&found.noarch, &found.platform) {
        (Answer::Ok, Answer::Status(401)) => &found.platform,
        (Answer::Ok, _) => &Answer::Ok,
        (other, _) => other,
    };
    match answer {
        Answer::Ok => {
            let status = if found.place == Place::ThisServer || domain.is_empty() || !signed_in {
                Status::Ok
            } else {
                Status::Warn
            };
            let check = Check::new(&id, Group::Channels, status, format!("{name} resolves {where_words}; its repodata answers."));
            if status == Status::Warn {
                check.fix(format!(
                    "If {name} should come from your server, add it there or choose it again (conda-connect select-channels)."
                ))
            } else {
                check
            }
        }
        Answer::Status(401) if found.place == Place::ThisServer && !signed_in => Check::new(
            &id,
            Group::Channels,
            Status::Fail,
            format!("{name} needs a sign-in: the server answers 401 without a token."),
        )
        .fix("Sign in (conda-connect login, or Connect in the window)."),
        Answer::Status(401) if found.place == Place::ThisServer => Check::new(
            &id,
            Group::Channels,
            Status::Fail,
            format!("The server refuses the token for {name} (401): conda reports invalid credentials for it."),
        )
        .fix(if given {
            "Ask for a new token, then sign in with it."
        } else {
            "Sign out and sign in again."
        }),
        Answer::Status(401) => Check::new(
            &id,
            Group::Channels,
            Status::Fail,
            format!("{name} resolves {where_words}, which asks for credentials conda-connect does not hold (401)."),
        ),
        Answer::Status(403) if found.place == Place::ThisServer => {
            let who = if account.is_empty() { "your account".to_string() } else { account.clone() };
            Check::new(
                &id,
                Group::Channels,
                Status::Fail,
                if given {
                    format!("{name} is private and the token you were given does not reach it (403).")
                } else {
                    format!("{name} is private and {who} is not a member, or the token lacks the scope to read it (403).")
                },
            )
            .fix(format!("Ask the owner of {name} for access (or for a token that reads it), or remove it from your channels."))
        }
        Answer::Status(404) if found.place == Place::ThisServer => Check::new(
            &id,
            Group::Channels,
            Status::Fail,
            format!("The server has no channel {name} (404): it was removed or renamed, and conda fails on it."),
        )
        .fix("Choose your channels again (conda-connect select-channels, or Add Channels); conda-connect channels lists them."),
        Answer::Status(code) => Check::new(
            &id,
            Group::Channels,
            Status::Fail,
            format!("{name} resolves {where_words}, which answers HTTP {code} for its repodata."),
        ),
        Answer::NotRepodata(what) => Check::new(
            &id,
            Group::Channels,
            Status::Fail,
            format!("{name} resolves {where_words}, but its repodata.json is {what}."),
        )
        .fix("Check the channel's address; tell your administrator if a sign-on page or proxy answers for the server."),
        Answer::Unreachable(why) => Check::new(
            &id,
            Group::Channels,
            Status::Fail,
            format!("{name} resolves {where_words}, which cannot be reached ({why})."),
        )
        .fix(match found.place {
            Place::ThisServer => "See the Network and Server checks above.".to_string(),
            Place::CondaDefaults => {
                "If your computer may only reach your server, choose your server's default channels instead.".to_string()
            }
            Place::Elsewhere => format!("Check {url}, or remove {name} from your channels."),
        }),
    }
}

async fn download_check(
    client: &ServerClient,
    source: &ChannelSource,
    subdir: &str,
    file: &str,
    domain: &str,
    token: Option<&str>,
    deadline: Deadline,
) -> Check {
    let limit = deadline.step();
    let url = tokenized(&format!("{}/{subdir}/{file}", source.url), domain, token);
    let shown = format!("{}/{subdir}/{file}", source.name);
    // only the answer matters: the body is not read
    let answer = tokio::time::timeout(limit, client.http().get(&url).send()).await;
    match answer {
        Ok(Ok(response)) => match response.status().as_u16() {
            200 | 206 => Check::new(
                "download",
                Group::Channels,
                Status::Ok,
                format!("A package download works with the token, as conda sends it ({shown})."),
            ),
            401 | 403 => Check::new(
                "download",
                Group::Channels,
                Status::Fail,
                format!(
                    "The index of {} answers but the download of {shown} is refused ({}): installs fail after solving.",
                    source.name,
                    response.status().as_u16()
                ),
            )
            .fix("Tell your administrator: package downloads refuse tokens that read the channel's index."),
            code => Check::new(
                "download",
                Group::Channels,
                Status::Fail,
                format!("{} lists {file}, but downloading it answers HTTP {code}.", source.name),
            )
            .fix("Tell your administrator: the channel's index and its files disagree."),
        },
        Ok(Err(error)) => Check::new(
            "download",
            Group::Channels,
            Status::Fail,
            format!("The download of {shown} failed ({}).", transport_words(&error, &domain::netloc(&url))),
        ),
        Err(_) => Check::new(
            "download",
            Group::Channels,
            Status::Fail,
            format!("The download of {shown} did not start within {:.1} s.", limit.as_secs_f32()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_package_is_found_in_either_table() {
        let doc = br#"{"info":{"subdir":"noarch"},"packages":{},"packages.conda":{"a-1-0.conda":{"name":"a"}}}"#;
        assert_eq!(first_package(doc).as_deref(), Some("a-1-0.conda"));
        let doc = br#"{"packages": { "b-2-0.tar.bz2": {}}}"#;
        assert_eq!(first_package(doc).as_deref(), Some("b-2-0.tar.bz2"));
        let doc = br#"{"packages.conda": {}, "packages": {"b-2-0.tar.bz2": {}}}"#;
        assert_eq!(first_package(doc).as_deref(), Some("b-2-0.tar.bz2"));
        assert_eq!(first_package(br#"{"packages":{"../x.conda":{}}}"#), None);
        assert_eq!(first_package(b"{}"), None);
    }

    #[test]
    fn places() {
        assert_eq!(
            place("http://h/api/repo/main", "http://h"),
            Place::ThisServer
        );
        assert_eq!(
            place("https://repo.anaconda.com/pkgs/main", "http://h"),
            Place::CondaDefaults
        );
        assert_eq!(place("https://mirror/x", "http://h"), Place::Elsewhere);
        assert_eq!(place("http://h/api/repo/main", ""), Place::Elsewhere);
    }
}
