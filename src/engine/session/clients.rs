//! The other clients of a sign-in (docs/design.md#19-every-client-at-the-desk): rattler's credential for the
//! server's host (the OS keyring when it answers, else `~/.rattler/credentials.json`), and, opt in, a netrc block
//! for pip and uv. Checked before any request, planned into the sign-in's journal, taken back by sign-out — each a
//! compare-and-swap, so an entry someone else changed meanwhile is theirs and stays.

use std::path::Path;

use crate::engine::client::ServerClient;
use crate::engine::clients::{ClientRecord, netrc, probe, rattler};
use crate::engine::error::{Error, Result};
use crate::engine::files;
use crate::engine::journal::{FileOp, Keyring, Merge, md5_hex};
use crate::engine::secrets::{PreviousEntry, SessionSecrets};

use super::{Engine, SessionRecord};

/// What a sign-in writes for the other clients.
#[derive(Debug, Default)]
pub(crate) struct ClientsPlan {
    pub ops: Vec<FileOp>,
    pub records: Vec<ClientRecord>,
    /// Sentences for the user (a store rattler reads first, …).
    pub notes: Vec<String>,
}

fn keyring_key(host: &str) -> String {
    format!("keyring:{}/{host}", rattler::SERVICE)
}

/// Replace a client's credentials file with `after` (0600), remembering its before-image (content and mode) in the
/// session's secrets, so that sign-out puts it back exactly; `merge` re-applies the change over a file edited
/// meanwhile.
fn swap_private_file(
    path: &Path,
    before: Option<String>,
    after: &str,
    merge: Merge,
    secrets: &mut SessionSecrets,
) -> FileOp {
    let op = FileOp::swap(
        path,
        before.as_deref().map(str::as_bytes),
        Some(after),
        Some(0o600),
        Some(merge),
    );
    secrets.previous_clients.insert(
        file_key(path),
        PreviousEntry {
            content: before,
            mode: files::mode_of(path),
        },
    );
    op
}

fn file_key(path: &Path) -> String {
    format!("file:{}", path.display())
}

impl Engine {
    /// Whether this sign-in also writes netrc for pip and uv: as asked with it, else as remembered in the ini.
    pub(crate) fn netrc_wanted(&self, asked: Option<bool>) -> bool {
        // the organization's choice of clients wins over the user's
        if let Some(wanted) = self.policy.configures(crate::engine::policy::Client::Netrc) {
            return wanted;
        }
        asked.unwrap_or_else(|| self.ini().map(|ini| ini.netrc()).unwrap_or(false))
    }

    /// Before any request: the files the other clients' credentials go to must be readable, parse and be writable;
    /// netrc must not have an entry for the host already.
    pub(crate) fn check_clients(&self, domain: &str, netrc_wanted: bool) -> Result<()> {
        let Some(host) = rattler::host_of(domain) else {
            return Ok(());
        };
        if self.host_taken_by(domain)?.is_some() {
            return Ok(());
        }
        if !self.secrets.keyring_available() {
            let path = rattler::credentials_file(&self.paths);
            self.check_writable(&[path.as_path()])?;
            if let Some(text) = read_text(&path)? {
                rattler::parse(&path, &text)?;
            }
        }
        if netrc_wanted {
            // refused here, before the server is asked, as the commit would refuse it after a token was made
            let path = netrc::netrc_file(&self.paths);
            self.check_writable(&[path.as_path()])?;
            let text = read_text(&path)?;
            netrc::with_block(&path, text.as_deref(), &host, "")?;
        }
        Ok(())
    }

    /// Plan the other clients' credentials for `token`; the stores' before-images go to `secrets`.
    pub(crate) async fn plan_clients(
        &self,
        domain: &str,
        client: &ServerClient,
        token: &str,
        preferred_channels: &[String],
        netrc_wanted: bool,
        secrets: &mut SessionSecrets,
    ) -> Result<ClientsPlan> {
        let mut plan = ClientsPlan::default();
        let Some(host) = rattler::host_of(domain) else {
            return Ok(plan);
        };
        // rattler and netrc keep one credential per host, without the port
        if let Some(other) = self.host_taken_by(domain)? {
            plan.notes.push(format!(
                "{other} already holds the one pixi, rattler and pip credential for {host}, so those tools reach \
                 {domain} only with a credential of their own; conda reaches both."
            ));
            return Ok(plan);
        }
        // the organization may leave rattler (pixi) out of the sign-in
        if self
            .policy
            .configures(crate::engine::policy::Client::Rattler)
            != Some(false)
        {
            self.plan_rattler(&mut plan, &host, client, token, preferred_channels, secrets)
                .await?;
        }
        if netrc_wanted {
            let path = netrc::netrc_file(&self.paths);
            let block = netrc::block(&host, token);
            let before = read_text(&path)?;
            let after = netrc::with_block(&path, before.as_deref(), &host, &block)?;
            let merge = Merge::NetrcAdd {
                host: host.clone(),
                block,
            };
            plan.ops
                .push(swap_private_file(&path, before, &after, merge, secrets));
            plan.records.push(ClientRecord {
                name: "netrc".into(),
                store: "file".into(),
                path: Some(path),
                host,
                form: None,
                verified: None,
                written_md5: Some(md5_hex(after.as_bytes())),
                created_file: false,
            });
            if let Some(other) = std::env::var_os("NETRC").filter(|v| !v.is_empty()) {
                plan.notes.push(format!(
                    "NETRC names {}: pip and uv read that file instead of the one conda-connect wrote.",
                    std::path::Path::new(&other).display()
                ));
            }
        }
        Ok(plan)
    }

    /// rattler's credential for `host` (keyring, else credentials.json), in the form the probe proved.
    async fn plan_rattler(
        &self,
        plan: &mut ClientsPlan,
        host: &str,
        client: &ServerClient,
        token: &str,
        preferred_channels: &[String],
        secrets: &mut SessionSecrets,
    ) -> Result<()> {
        let host = host.to_string();
        let probed = probe::probe(client, token, preferred_channels).await;
        let entry = rattler::entry(probed.form, token);
        let entry_text = entry.to_string();
        crate::engine::redact::register(&entry_text);
        let mut record = ClientRecord {
            name: "rattler".into(),
            store: String::new(),
            path: None,
            host: host.clone(),
            form: Some(probed.form.name().into()),
            verified: Some(probed.verified),
            written_md5: None,
            created_file: false,
        };
        if self.secrets.keyring_available() {
            let previous = self.secrets.read_entry(rattler::SERVICE, &host)?;
            secrets.previous_clients.insert(
                keyring_key(&host),
                PreviousEntry {
                    content: previous.clone(),
                    mode: None,
                },
            );
            plan.ops.push(FileOp::Credential {
                service: rattler::SERVICE.into(),
                account: host.clone(),
                expect: previous.as_deref().map(|p| md5_hex(p.as_bytes())),
                content: Some(entry_text.clone()),
            });
            record.store = "keyring".into();
        } else {
            let path = rattler::credentials_file(&self.paths);
            let before = read_text(&path)?;
            let after = rattler::with_entry(&path, before.as_deref(), &host, Some(&entry))?;
            let merge = Merge::JsonEntry {
                key: host.clone(),
                value: Some(entry.clone()),
                only_if: None,
                remove_if_empty: false,
            };
            record.created_file = self.created_by_us(&path, before.as_deref())?;
            plan.ops
                .push(swap_private_file(&path, before, &after, merge, secrets));
            record.store = "file".into();
            record.path = Some(path);
            record.written_md5 = Some(md5_hex(after.as_bytes()));
        }
        plan.records.push(record);
        let env = |name: &str| std::env::var(name).ok();
        plan.notes
            .extend(rattler::shadowing(&self.paths, &host, &env));
        Ok(())
    }

    /// Whether rattler's credentials file is conda-connect's own: absent, or holding only the entries of other
    /// signed-in servers whose sign-in created it.
    fn created_by_us(&self, path: &Path, before: Option<&str>) -> Result<bool> {
        let Some(text) = before else {
            return Ok(true);
        };
        let Ok(entries) = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text)
        else {
            return Ok(false);
        };
        let mut ours: Vec<ClientRecord> = self.session()?.map(|r| r.clients).unwrap_or_default();
        if let Some(list) = self.server_list()? {
            ours.extend(list.secondaries.into_iter().flat_map(|s| s.session.clients));
        }
        Ok(entries.keys().all(|host| {
            ours.iter().any(|c| {
                c.name == "rattler"
                    && c.created_file
                    && c.path.as_deref() == Some(path)
                    && c.host == *host
            })
        }))
    }

    /// Sign-out: every client's credential back as it was before sign-in — byte for byte when the store is as
    /// sign-in left it; otherwise only conda-connect's own entry is taken out (and an earlier one put back), when
    /// it still holds conda-connect's value. Returns sentences about entries left alone.
    pub(crate) fn plan_clients_restore(
        &self,
        record: &SessionRecord,
        secrets: &SessionSecrets,
        ops: &mut Vec<FileOp>,
    ) -> Result<Vec<String>> {
        let mut notes = Vec::new();
        let token = secrets.access_token.clone().unwrap_or_default();
        for client in &record.clients {
            match (client.name.as_str(), client.store.as_str(), &client.path) {
                ("rattler", "keyring", _) => {
                    let ours = rattler_entry(client, &token).to_string();
                    let previous = secrets
                        .previous_clients
                        .get(&keyring_key(&client.host))
                        .and_then(|p| p.content.clone());
                    match self.secrets.read_entry(rattler::SERVICE, &client.host) {
                        Ok(Some(now)) if now == ours => ops.push(FileOp::Credential {
                            service: rattler::SERVICE.into(),
                            account: client.host.clone(),
                            expect: Some(md5_hex(ours.as_bytes())),
                            content: previous,
                        }),
                        Ok(None) => {}
                        Ok(Some(_)) => notes.push(format!(
                            "rattler's keyring entry for {} holds a credential conda-connect did not write; it was \
                             left as it is.",
                            client.host
                        )),
                        Err(error) => {
                            tracing::warn!(error = %error, "rattler's keyring entry could not be read");
                            notes.push(format!(
                                "rattler's keyring entry for {} could not be read, so it was left as it is.",
                                client.host
                            ));
                        }
                    }
                }
                ("rattler", _, Some(path)) => {
                    let previous = secrets.previous_clients.get(&file_key(path));
                    let Some((current, text)) = self.client_file(path, &mut notes)? else {
                        continue;
                    };
                    let ours = rattler_entry(client, &token);
                    let untouched =
                        client.written_md5.as_deref() == Some(md5_hex(&current).as_str());
                    let earlier = previous.and_then(|p| p.content.as_deref()).and_then(|t| {
                        rattler::entry_in(path, Some(t), &client.host)
                            .ok()
                            .flatten()
                    });
                    let target = if untouched {
                        previous.and_then(|p| p.content.clone())
                    } else {
                        match rattler::entry_in(path, Some(&text), &client.host) {
                            Ok(Some(now)) if now == ours => Some(rattler::with_entry(
                                path,
                                Some(&text),
                                &client.host,
                                earlier.as_ref(),
                            )?)
                            .filter(|t| !(client.created_file && rattler::is_empty(t))),
                            Ok(_) => {
                                notes.push(format!(
                                    "{} holds a credential for {} that conda-connect did not write; it was left as \
                                     it is.",
                                    self.paths.display(path),
                                    client.host
                                ));
                                continue;
                            }
                            Err(error) => return Err(error),
                        }
                    };
                    ops.push(FileOp::swap(
                        path,
                        Some(&current),
                        target.as_deref(),
                        previous.and_then(|p| p.mode).or(Some(0o600)),
                        Some(Merge::JsonEntry {
                            key: client.host.clone(),
                            value: earlier,
                            only_if: Some(ours),
                            remove_if_empty: client.created_file,
                        }),
                    ));
                }
                ("netrc", _, Some(path)) => {
                    let previous = secrets.previous_clients.get(&file_key(path));
                    let Some((current, text)) = self.client_file(path, &mut notes)? else {
                        continue;
                    };
                    let block = netrc::block(&client.host, &token);
                    let untouched =
                        client.written_md5.as_deref() == Some(md5_hex(&current).as_str());
                    let target = if untouched {
                        previous.and_then(|p| p.content.clone())
                    } else {
                        match netrc::without_block(&text, &block) {
                            Some(without) => Some(without),
                            None => {
                                notes.push(format!(
                                    "{} no longer holds conda-connect's entry for {}; it was left as it is.",
                                    self.paths.display(path),
                                    client.host
                                ));
                                continue;
                            }
                        }
                    };
                    ops.push(FileOp::swap(
                        path,
                        Some(&current),
                        target.as_deref(),
                        previous.and_then(|p| p.mode).or(Some(0o600)),
                        Some(Merge::NetrcRemove { block }),
                    ));
                }
                _ => {}
            }
        }
        Ok(notes)
    }

    /// A client's file as it is now, bytes and text, to take conda-connect's entry out of (or change it in). A file
    /// that is gone has nothing to take back; one that is no longer UTF-8 text (someone else wrote it meanwhile) is
    /// left as it is, with a note, never rewritten from a lossy reading.
    fn client_file(
        &self,
        path: &Path,
        notes: &mut Vec<String>,
    ) -> Result<Option<(Vec<u8>, String)>> {
        let Some(bytes) = files::read_optional(path)? else {
            return Ok(None);
        };
        match String::from_utf8(bytes) {
            Ok(text) => Ok(Some((text.clone().into_bytes(), text))),
            Err(_) => {
                tracing::warn!(path = %path.display(), "a client's file is no longer UTF-8 text; left as it is");
                notes.push(format!(
                    "{} is not UTF-8 text any more; it was left as it is, with conda-connect's entry in it.",
                    self.paths.display(path)
                ));
                Ok(None)
            }
        }
    }

    /// A regenerated sign-in token: every client's entry gets the new value, where it still holds the old one.
    /// The record's md5s follow, so that sign-out still recognises the files as sign-in's.
    pub(crate) fn plan_clients_new_token(
        &self,
        record: &mut SessionRecord,
        old: &str,
        new: &str,
    ) -> Result<Vec<FileOp>> {
        let mut ops = Vec::new();
        for client in record.clients.iter_mut() {
            match (client.name.as_str(), client.store.as_str(), &client.path) {
                ("rattler", "keyring", _) => {
                    let before = rattler_entry(client, old).to_string();
                    ops.push(FileOp::Credential {
                        service: rattler::SERVICE.into(),
                        account: client.host.clone(),
                        expect: Some(md5_hex(before.as_bytes())),
                        content: Some(rattler_entry(client, new).to_string()),
                    });
                }
                ("rattler", _, Some(path)) => {
                    let Some((current, text)) = self.client_file(path, &mut Vec::new())? else {
                        continue;
                    };
                    let after = rattler_entry(client, new);
                    let target = match rattler::entry_in(path, Some(&text), &client.host)? {
                        Some(now) if now == rattler_entry(client, old) => {
                            rattler::with_entry(path, Some(&text), &client.host, Some(&after))?
                        }
                        _ => continue,
                    };
                    if client.written_md5.as_deref() == Some(md5_hex(&current).as_str()) {
                        client.written_md5 = Some(md5_hex(target.as_bytes()));
                    }
                    ops.push(FileOp::swap(
                        path,
                        Some(&current),
                        Some(&target),
                        Some(0o600),
                        Some(Merge::JsonEntry {
                            key: client.host.clone(),
                            value: Some(after),
                            only_if: Some(rattler_entry(client, old)),
                            remove_if_empty: false,
                        }),
                    ));
                }
                ("netrc", _, Some(path)) => {
                    let Some((current, text)) = self.client_file(path, &mut Vec::new())? else {
                        continue;
                    };
                    let (old_block, new_block) = (
                        netrc::block(&client.host, old),
                        netrc::block(&client.host, new),
                    );
                    if !text.contains(&old_block) {
                        continue;
                    }
                    let target = text.replacen(&old_block, &new_block, 1);
                    if client.written_md5.as_deref() == Some(md5_hex(&current).as_str()) {
                        client.written_md5 = Some(md5_hex(target.as_bytes()));
                    }
                    ops.push(FileOp::swap(
                        path,
                        Some(&current),
                        Some(&target),
                        Some(0o600),
                        Some(Merge::NetrcReplace {
                            old: old_block,
                            new: new_block,
                        }),
                    ));
                }
                _ => {}
            }
        }
        Ok(ops)
    }

    /// The other clients' files a change must be able to write (checked before anything happens).
    pub(crate) fn client_files_to_check(&self, record: &SessionRecord) -> Vec<std::path::PathBuf> {
        record
            .clients
            .iter()
            .filter_map(|c| c.path.clone())
            .filter(|p| p.exists())
            .collect()
    }
}

/// The entry conda-connect wrote for a client record.
fn rattler_entry(client: &ClientRecord, token: &str) -> serde_json::Value {
    let form = match client.form.as_deref() {
        Some("CondaToken") => rattler::Form::CondaToken,
        _ => rattler::Form::BasicHttp,
    };
    rattler::entry(form, token)
}

/// A client's file as text (`None` when it is not there); one that is not UTF-8 is refused (and left as it is), never
/// read lossily: a rewrite would change bytes that are not ours.
fn read_text(path: &Path) -> Result<Option<String>> {
    files::read_optional(path)?
        .map(|bytes| {
            String::from_utf8(bytes).map_err(|_| Error::Refused {
                reason: format!(
                    "{} is not UTF-8 text; it was left unchanged.",
                    path.display()
                ),
            })
        })
        .transpose()
}
