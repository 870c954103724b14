//! Promoting a secondary server to primary (docs/design.md §24): one journaled transaction in which it takes
//! `channel_alias`, Navigator's ini keys and the snapshot, and a primary signed in at that moment becomes a secondary
//! that keeps its channels.

use crate::engine::condarc::{self, KeyEdit};
use crate::engine::error::{Error, Result};
use crate::engine::files;
use crate::engine::journal::{After, Journal, Stage};
use crate::engine::navigator_ini::BRAND;
use crate::engine::snapshots::{self, MAIN_KEY, SnapshotStore};

use super::login::INI_LOGIN_KEYS;
use super::secondary::pre_login_without;
use super::servers::{ServerList, add_channel_edits, remove_channel_edits};
use super::{Engine, OnFailure, SecondaryRecord, SessionRecord};

impl Engine {
    /// Make a secondary server the primary one: it takes `channel_alias` (its channels become names under it, its
    /// full URLs and `custom_channels` entries go), Navigator's ini keys and the per-user snapshot. A primary signed
    /// in now becomes a secondary in the same transaction: its default channels and channels stay in conda's list,
    /// as full URLs with their `custom_channels` entries, and what its sign-out would have put back (the keys before
    /// any primary, the ini's keys) passes to the new primary.
    pub async fn promote(&self, domain: &str) -> Result<()> {
        let domain = crate::engine::domain::normalize_domain(domain).unwrap_or(domain.to_string());
        let mut crash = self.crash.clone();
        let _lock = self.lock_async().await?;
        self.recover_locked().await?;
        let primary = self.session()?;
        if primary.as_ref().is_some_and(|p| p.domain == domain) {
            return Err(Error::Refused {
                reason: format!("{domain} is the primary server already."),
            });
        }
        self.policy.check_domain(&domain)?;
        let (list, secondary) = self.signed_in_secondary(&domain)?;
        let secrets = self.secrets.get(&domain)?.unwrap_or_default();
        let token = secrets.access_token.clone().unwrap_or_default();
        self.check_writable(&[
            self.paths.condarc.as_path(),
            self.paths.navigator_ini.as_path(),
        ])?;
        let current = self.read_condarc_settled()?;
        let text = current.clone().unwrap_or_default();
        let map = condarc::parse_strict(&text).map_err(|d| self.invalid_condarc(d))?;
        let own = secondary.urls();
        // the primary signed in now, demoted: every channel it gives conda stays, by full address
        let demoted = primary.as_ref().map(|record| {
            let selection = super::Selection::from_settings(condarc::settings(&map));
            let mut names: Vec<String> = selection
                .names()
                .into_iter()
                .filter(|n| !n.contains("://"))
                .collect();
            names.dedup();
            SecondaryRecord {
                session: record.clone(),
                channels: names,
            }
        });
        let mut others = list.urls_except(&domain);
        if let Some(demoted) = &demoted {
            others.extend(demoted.urls());
        }
        // what the primary's sign-out puts back: the keys as they were before the demoted primary, or as they are
        // now without any server's URLs
        let mut urls = others.clone();
        urls.extend(own.iter().cloned());
        let (pre_login, pre_login_entries) = match &primary {
            Some(record) => (record.pre_login.clone(), record.pre_login_entries.clone()),
            None => pre_login_without(&text, &map, &urls),
        };
        let journal = self.plan_promotion(Promotion {
            domain: &domain,
            secondary: &secondary,
            demoted: demoted.as_ref(),
            primary: primary.as_ref(),
            others,
            token: &token,
            current: current.as_deref(),
            pre_login,
            pre_login_entries,
            list,
        })?;
        self.commit(journal, &mut crash, OnFailure::Undo)
            .await
            .map(|_| ())
    }

    /// The promotion's changes: `.condarc` (the alias, the channels, the `custom_channels` entries), the snapshot
    /// index, the ini's sign-in keys, the new primary's record and the server list.
    fn plan_promotion(&self, promotion: Promotion<'_>) -> Result<Journal> {
        let Promotion {
            domain,
            secondary,
            demoted,
            primary,
            others,
            token,
            current,
            pre_login,
            pre_login_entries,
            mut list,
        } = promotion;
        let domain = domain.to_string();
        let text = current.unwrap_or_default().to_string();
        let mut channels = secondary.channels.clone();
        channels.extend(others.iter().cloned());
        let mut edits = condarc::login_edits(&super::repo_base(&domain));
        edits.retain(|(k, _)| *k != "channels");
        edits.push((
            "channels",
            KeyEdit::Set(condarc::CondaValue::List(channels)),
        ));
        let mut ops = Vec::new();
        list.secondaries.retain(|s| s.session.domain != domain);
        // the channels that were this server's as full URLs become names under its alias
        let mut all = remove_channel_edits(
            &domain,
            &secondary.channels,
            false,
            !list.base_has("custom_channels") && demoted.is_none(),
        );
        all.retain(|(k, _)| *k == "custom_channels");
        if let Some(demoted) = &demoted {
            let mut entries = add_channel_edits(&demoted.session.domain, &demoted.channels);
            entries.retain(|(k, _)| *k == "custom_channels");
            all.extend(entries);
            list.secondaries.push((*demoted).clone());
        }
        all.extend(edits);
        let new = condarc::apply_edits(&text, &all).map_err(|d| self.invalid_condarc(d))?;
        let md5 = super::servers::written_md5(&list.condarc_written_md5, current, Some(&new));
        list.condarc_written_md5 = md5.clone();
        // the snapshot of `.condarc` before any server: the base
        let store = SnapshotStore::new(&self.paths.condarc_storage);
        let mut index = store.index();
        match &list.base {
            Some(base) => ops.extend(store.plan_save(&mut index, MAIN_KEY, base)),
            None => ops.extend(store.plan_forget(&mut index, MAIN_KEY)),
        }
        let user_key = snapshots::user_key(BRAND, &domain, &secondary.session.user_id);
        index.current = Some(user_key.clone());
        ops.push(store.plan_index(&index));
        let ini_bytes = files::read_optional(&self.paths.navigator_ini)?;
        let mut ini = self.ini()?;
        let (ini_before, ini_mode_before) = match &primary {
            Some(record) => (record.ini_before.clone(), record.ini_mode_before),
            None => (
                INI_LOGIN_KEYS
                    .iter()
                    .map(|k| (k.to_string(), ini.raw(k)))
                    .collect(),
                files::mode_of(&self.paths.navigator_ini),
            ),
        };
        ini.migrate_old_names();
        ini.set_api_url(Some(&domain));
        ini.set_logged_in(&domain, token, &secondary.session.token_id);
        ops.extend(self.ini_op(ini_bytes.as_deref(), &ini, Some(0o600)));
        let record = SessionRecord {
            condarc_existed: primary
                .as_ref()
                .map_or(list.base.is_some(), |p| p.condarc_existed),
            pre_login,
            pre_login_entries,
            condarc_written_md5: md5,
            ini_before,
            ini_mode_before,
            user_key,
            logged_in_at: chrono::Utc::now().to_rfc3339(),
            ..secondary.session.clone()
        };
        ops.push(self.record_op(&record));
        ops.push(self.server_list_op(&list));
        ops.push(self.condarc_op(current, &new, &all));
        Ok(Journal {
            operation: "promotion".into(),
            stage: Stage::Apply,
            ops,
            after: After::default(),
        })
    }
}

/// What a promotion is planned from.
struct Promotion<'a> {
    domain: &'a str,
    secondary: &'a SecondaryRecord,
    /// The primary signed in now, as the secondary it becomes.
    demoted: Option<&'a SecondaryRecord>,
    primary: Option<&'a SessionRecord>,
    /// The other servers' channel URLs (the demoted primary's among them).
    others: Vec<String>,
    token: &'a str,
    current: Option<&'a str>,
    pre_login: std::collections::BTreeMap<String, Option<condarc::CondaValue>>,
    pre_login_entries: std::collections::BTreeMap<String, String>,
    list: ServerList,
}
