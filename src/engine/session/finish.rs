//! `logout --finish`: a server token that outlived its sign-out because the session had ended for good is revoked
//! by signing in just long enough to do it — by password or single sign-on, as the same account — and nothing else
//! (no server token is created, no local file but the pending list changes). The short session ends right after
//! (docs/design.md#17-the-session-lifecycle).

use crate::engine::client::LoginTokens;
use crate::engine::error::{Error, Result};
use crate::engine::sso::{self, SsoOptions};

use super::{Engine, SsoMethod};

/// What `logout --finish` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishOutcome {
    pub domain: String,
    /// Tokens revoked now.
    pub revoked: usize,
    /// Tokens on that server still waiting (another account's, or the server refused).
    pub remaining: usize,
    /// Sentences about what else happened.
    pub notes: Vec<String>,
}

impl Engine {
    /// The server whose pending tokens `logout --finish` revokes: `domain` when given, else the only server
    /// with any. `Ok(None)` when nothing waits.
    pub fn finish_target(&self, domain: Option<&str>) -> Result<Option<String>> {
        let pending = self.pending_revocations()?;
        let mut domains: Vec<String> = pending
            .iter()
            .map(|p| p.domain.clone())
            .filter(|d| domain.is_none_or(|wanted| wanted.trim_end_matches('/') == d))
            .collect();
        domains.sort();
        domains.dedup();
        match domains.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(one.clone())),
            several => Err(Error::Refused {
                reason: format!(
                    "Tokens wait to be revoked on several servers ({}); name one with --domain.",
                    several.join(", ")
                ),
            }),
        }
    }

    /// Sign in to `domain` with a password just long enough to revoke its pending tokens.
    pub async fn finish_with_password(
        &self,
        domain: &str,
        username: &str,
        password: &str,
    ) -> Result<FinishOutcome> {
        crate::engine::redact::register(password);
        let client = self.client(domain)?;
        let tokens = client.login(username, password).await?;
        self.finish_with_session(domain, tokens, None).await
    }

    /// Sign in to `domain` through single sign-on just long enough to revoke its pending tokens.
    pub async fn finish_with_sso(
        &self,
        domain: &str,
        options: &SsoOptions,
        method: SsoMethod,
        show: impl FnOnce(String) + Send,
    ) -> Result<FinishOutcome> {
        let mut options = options.clone();
        self.policy_client_id(&mut options)?;
        if options.client_id.is_none() {
            options.client_id = self.ini()?.sso_client_id();
        }
        let realm = sso::discover(domain, &self.client_config(domain)?).await?;
        let client_id = realm.client_id(options.client_id.as_deref())?;
        let tokens = super::sso_login::identity_provider_sign_in(
            &realm,
            &options,
            method,
            super::sso_login::Prompt::Call(Box::new(show)),
        )
        .await?;
        self.finish_with_session(domain, tokens, Some(&client_id))
            .await
    }

    async fn finish_with_session(
        &self,
        domain: &str,
        tokens: LoginTokens,
        sso_client_id: Option<&str>,
    ) -> Result<FinishOutcome> {
        let result = self.revoke_pending_with_session(domain, &tokens).await;
        // the short session ends now, whatever happened, or the user hears that it did not
        let Some(refresh) = &tokens.refresh_token else {
            return result;
        };
        let unended = self
            .end_idp_session_or_say(domain, sso_client_id, refresh, "the short session")
            .await;
        match result {
            Ok(mut outcome) => {
                outcome.notes.extend(unended);
                Ok(outcome)
            }
            Err(error) => Err(error.also(unended)),
        }
    }

    /// With the short session: revoke what is pending on `domain` for its account, and say what is left.
    async fn revoke_pending_with_session(
        &self,
        domain: &str,
        tokens: &LoginTokens,
    ) -> Result<FinishOutcome> {
        crate::engine::server_values::session_jwt(&tokens.token, "the sign-in")?;
        crate::engine::redact::register(&tokens.token);
        let client = self.client(domain)?;
        let account = client
            .account(crate::engine::client::Auth::Jwt(&tokens.token))
            .await?;
        let _lock = self.lock_async().await?;
        let before = self.pending_on(domain)?;
        let mut notes = self
            .finish_revocations_with(domain, &account.user_id, &tokens.token)
            .await;
        let after = self.pending_on(domain)?;
        let others = self
            .pending_revocations()?
            .iter()
            .filter(|p| p.domain == domain && p.user_id.as_deref() != Some(&account.user_id))
            .count();
        if others > 0 {
            notes.push(format!(
                "{others} token(s) on {domain} belong to another account than {}; sign in as that account to \
                 revoke them.",
                crate::engine::server_values::printable(&account.username)
            ));
        }
        Ok(FinishOutcome {
            domain: domain.to_string(),
            revoked: before.saturating_sub(after),
            remaining: after,
            notes,
        })
    }

    fn pending_on(&self, domain: &str) -> Result<usize> {
        Ok(self
            .pending_revocations()?
            .iter()
            .filter(|p| p.domain == domain)
            .count())
    }
}
