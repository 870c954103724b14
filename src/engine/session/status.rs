//! What the user sees of the sign-in: status (including sign-ins made outside conda-connect), the access token
//! for Update Index, and the health check.

use crate::engine::client::ServerClient;
use crate::engine::error::Result;
use crate::engine::token_files;

use super::{Engine, LoginSource, Status};

impl Engine {
    pub fn status(&self) -> Result<Status> {
        let settings = self.condarc_settings();
        let mut status = Status {
            logged_in: false,
            domain: None,
            username: None,
            token_id: None,
            channel_alias: settings.channel_alias,
            channels: settings.channels.unwrap_or_default(),
            default_channels: settings.default_channels.unwrap_or_default(),
            source: None,
            auth: None,
            secrets_backend: self.secrets.backend_name().into(),
            pending_revocations: self
                .pending_revocations()?
                .into_iter()
                .map(|p| super::Unrevoked {
                    domain: p.domain,
                    token_id: p.token_id,
                    expires: p.expires,
                    needs_sign_in: p.needs_sign_in,
                })
                .collect(),
            consumers: Vec::new(),
            servers: Vec::new(),
            policy: (!self.policy.is_empty()).then(|| super::PolicyInForce {
                sources: self.policy.sources(),
                settings: (*self.policy).clone(),
            }),
        };
        status.servers = self.servers()?;
        if let Some(record) = self.session()? {
            status.auth = Some(super::servers::auth_of(&record).into());
            status.logged_in = true;
            status.domain = Some(record.domain);
            status.username = Some(record.username);
            status.token_id = Some(record.token_id);
            status.source = Some(LoginSource::CondaConnect);
            status.consumers = std::iter::once(crate::engine::clients::Consumer::conda())
                .chain(
                    record
                        .clients
                        .iter()
                        .map(crate::engine::clients::Consumer::of),
                )
                .collect();
            return Ok(status);
        }
        let ini = self.ini().ok();
        let api_url = ini.as_ref().and_then(|i| i.api_url());
        if let Some(domain) = &api_url
            && token_files::find_token_for(&self.paths, domain).is_some()
        {
            status.logged_in = true;
            status.domain = Some(domain.clone());
            status.source = Some(LoginSource::TokenFile);
            status.consumers = vec![crate::engine::clients::Consumer::conda()];
        } else if api_url.is_none()
            && let Some((domain, _)) = token_files::find_repo_cli_login(&self.paths)
        {
            status.logged_in = true;
            status.domain = Some(domain);
            status.source = Some(LoginSource::CondaRepoCli);
            status.consumers = vec![crate::engine::clients::Consumer::conda()];
        } else {
            // the organization's server, when none is set yet
            status.domain = api_url.or_else(|| self.policy.domain.clone());
        }
        Ok(status)
    }

    /// A cheap fingerprint of the files that say who is signed in and how conda is configured (their sizes and
    /// modification times): the window compares it every few seconds and on focus, so that a sign-in or sign-out
    /// made on the command line shows at once.
    pub fn state_stamp(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        for path in [
            self.paths.session_file(),
            self.paths.navigator_ini.clone(),
            self.paths.condarc.clone(),
            self.paths.data_dir.join("pending_revocations.json"),
        ] {
            match std::fs::metadata(&path) {
                Ok(meta) => (meta.len(), meta.modified().ok()).hash(&mut hasher),
                Err(_) => 0u8.hash(&mut hasher),
            }
        }
        hasher.finish()
    }

    /// The access token of the active sign-in (for the index fetcher).
    pub fn access_token(&self) -> Result<Option<(String, String)>> {
        if let Some(record) = self.session()? {
            let token = self
                .secrets
                .get(&record.domain)?
                .and_then(|s| s.access_token);
            return Ok(token.map(|t| (record.domain, t)));
        }
        let status = self.status()?;
        if let (true, Some(domain)) = (status.logged_in, status.domain) {
            return Ok(token_files::find_token_for(&self.paths, &domain)
                .or_else(|| token_files::find_repo_cli_login(&self.paths).map(|(_, t)| t))
                .map(|t| (domain, t)));
        }
        Ok(None)
    }

    /// Update Index over the configured channels, with the active sign-in's token: a sipper of one progress step per
    /// channel directory (see [`crate::engine::index::update_index`]). It owns what it needs, so the window can run
    /// it as a task and abort it by dropping it.
    pub fn update_index(
        &self,
    ) -> impl sipper::Straw<
        crate::engine::index::IndexReport,
        crate::engine::index::Progress,
        crate::engine::Error,
    > + Send
    + 'static {
        let engine = self.clone();
        sipper::sipper(move |progress| async move {
            let (client, settings, token) = engine.index_inputs()?;
            let others = engine.secondary_tokens()?;
            let limits = crate::engine::index::Limits::from_env();
            crate::engine::index::update_index_with(
                &client,
                &settings,
                token.as_deref(),
                &others,
                &engine.paths.repodata_cache(),
                &limits,
                progress,
            )
            .await
        })
    }

    /// What Update Index reads: the server's client (a placeholder when none is set: conda's defaults only), conda's
    /// settings and the active sign-in's token.
    fn index_inputs(
        &self,
    ) -> Result<(
        ServerClient,
        crate::engine::condarc::CondaSettings,
        Option<String>,
    )> {
        self.read_condarc()?;
        let settings = self.condarc_settings();
        let signed_in = self.access_token()?;
        let domain = signed_in
            .as_ref()
            .map(|(d, _)| d.clone())
            .or(self.status()?.domain);
        let client = match &domain {
            Some(domain) => self.client(domain)?,
            None => ServerClient::new("http://127.0.0.1", &self.client_defaults)?,
        };
        Ok((client, settings, signed_in.map(|(_, t)| t)))
    }

    /// The secondary servers' domains and access tokens (Update Index sends each its own).
    pub fn secondary_tokens(&self) -> Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        for record in self
            .server_list()?
            .map(|l| l.secondaries)
            .unwrap_or_default()
        {
            let domain = record.session.domain;
            if let Some(token) = self.secrets.get(&domain)?.and_then(|s| s.access_token) {
                out.push((domain, token));
            }
        }
        Ok(out)
    }

    /// `GET /api/system` answered with a 2xx within 5 s.
    pub async fn healthy(&self, domain: &str) -> bool {
        match self.client(domain) {
            Ok(client) => client.healthy().await,
            Err(_) => false,
        }
    }
}
