//! Add Channels: the server's channel list with what to pre-check, and the selection as a journaled change of
//! `default_channels` and `channels: [defaults, …]`.

use crate::engine::client::{Auth, ServerClient};
use crate::engine::condarc;
use crate::engine::error::{Error, Result};
use crate::engine::journal::{After, Journal, Stage};
use crate::engine::snapshots::SnapshotStore;

use super::{ChannelList, Engine, OnFailure, Selection};

impl Engine {
    /// The server's channels (the user's, or all with `all`), and what to pre-check: the current `.condarc`
    /// selection, else this user's remembered one.
    pub async fn channels(&self, all: bool) -> Result<ChannelList> {
        let (record, secrets) = self.signed_in()?;
        let client = self.client(&record.domain)?;
        let token = secrets.access_token.as_deref().unwrap_or_default();
        let channels = client.channels(Auth::Token(token), all).await?;
        let mut preselected = Selection::from_settings(self.condarc_settings());
        if preselected.is_empty() {
            let store = SnapshotStore::new(&self.paths.condarc_storage);
            if let Some(settings) = store
                .read(&record.user_key)
                .and_then(|t| condarc::read_settings(&t).ok())
            {
                preselected = Selection::from_settings(settings);
            }
        }
        Ok(ChannelList {
            channels,
            preselected,
        })
    }

    /// Every name of `selection` must be one the server lists for this user.
    pub(crate) async fn check_selection_on_server(
        &self,
        client: &ServerClient,
        access_token: &str,
        selection: &Selection,
    ) -> Result<()> {
        check_selection(client, access_token, selection).await
    }

    /// The organization locked the channels: only its own selection may be applied.
    pub fn check_policy_selection(&self, selection: &Selection) -> Result<()> {
        if self.policy.lock_channels && self.policy.selection().as_ref() != Some(selection) {
            return Err(self.policy.managed("channels"));
        }
        Ok(())
    }

    /// Add Channels: `default_channels` = the chosen defaults, `channels` = [defaults, chosen…]. Names are
    /// checked against conda-connect's naming rule first, then against the server's list.
    pub async fn select_channels(&self, defaults: &[String], channels: &[String]) -> Result<()> {
        let selection = Selection {
            default_channels: defaults.to_vec(),
            channels: channels.to_vec(),
        };
        selection.check()?;
        self.check_policy_selection(&selection)?;
        let mut crash = self.crash.clone();
        let _lock = self.lock_async().await?;
        self.recover_locked().await?;
        let (mut record, secrets) = self.signed_in()?;
        self.check_writable(&[self.paths.condarc.as_path()])?;
        let client = self.client(&record.domain)?;
        let token = secrets.access_token.as_deref().unwrap_or_default();
        self.check_selection_on_server(&client, token, &selection)
            .await?;
        // read after the server round trips, so that an edit made meanwhile is kept
        let current = self.read_condarc_settled()?;
        self.check_channel_names(&record.domain, &selection.names())?;
        let mut list = self.server_list()?;
        let mut edits = condarc::channel_edits(defaults, channels);
        super::secondary::keep_secondaries(
            &mut edits,
            &list.as_ref().map(|l| l.urls()).unwrap_or_default(),
        );
        let new = condarc::apply_edits(current.as_deref().unwrap_or_default(), &edits)
            .map_err(|detail| self.invalid_condarc(detail))?;
        let store = SnapshotStore::new(&self.paths.condarc_storage);
        let mut index = store.index();
        let mut ops = store.plan_save(&mut index, &record.user_key, &new);
        ops.push(store.plan_index(&index));
        // a file the user changed since conda-connect wrote it is never put back whole at sign-out
        record.condarc_written_md5 = super::servers::written_md5(
            &record.condarc_written_md5,
            current.as_deref(),
            Some(&new),
        );
        if let Some(list) = &mut list {
            list.condarc_written_md5 = super::servers::written_md5(
                &list.condarc_written_md5,
                current.as_deref(),
                Some(&new),
            );
            ops.push(self.server_list_op(list));
        }
        ops.push(self.record_op(&record));
        ops.push(self.condarc_op(current.as_deref(), &new, &edits));
        let journal = Journal {
            operation: "channel selection".into(),
            stage: Stage::Apply,
            ops,
            after: After::default(),
        };
        self.commit(journal, &mut crash, OnFailure::Undo)
            .await
            .map(|_| ())
    }
}

/// Every name of `selection` must be one the server lists for this token (the list of every channel the server
/// shows is consulted too, for "Show hidden Anaconda Server channels").
pub async fn check_selection(
    client: &ServerClient,
    access_token: &str,
    selection: &Selection,
) -> Result<()> {
    let wanted: Vec<&String> = selection
        .default_channels
        .iter()
        .chain(&selection.channels)
        .collect();
    let mut known: Vec<String> = client
        .channels(Auth::Token(access_token), false)
        .await?
        .iter()
        .map(|c| c.full_name())
        .collect();
    if wanted.iter().any(|n| !known.contains(n)) {
        known.extend(
            client
                .channels(Auth::Token(access_token), true)
                .await?
                .iter()
                .map(|c| c.full_name()),
        );
    }
    match wanted.into_iter().find(|n| !known.contains(n)) {
        Some(unknown) => Err(Error::UnknownChannel {
            name: unknown.clone(),
        }),
        None => Ok(()),
    }
}
