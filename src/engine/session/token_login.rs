//! Sign-in with a token the user was given — a service account's token for a channel, one made for a team or a CI
//! job — instead of a password (docs/design.md#20-sign-in-with-a-given-token). The token is checked before any local
//! change: `/api/system`, `GET /api/account/token-info` with `X-Auth` (a refusal: "This token is not accepted by
//! <server>: it is expired, revoked or mistyped."), then the account when the token may read it — otherwise a
//! stable synthetic id derived from a hash of the token names it in Navigator's per-user snapshot key — and, with
//! channel options, the channels it can see. Then exactly the local transaction of a password sign-in: token files,
//! `.condarc`, the ini, the other clients. The token is not conda-connect's: sign-out never revokes it, token
//! management is refused, and there is no renewal.

use crate::engine::client::{Account, Auth, CreatedToken, ServerClient};
use crate::engine::error::{Error, Result};
use crate::engine::journal::Journal;
use crate::engine::secrets::SessionSecrets;

use super::{Engine, LoginOutcome, OnFailure, Selection, SignIn};

/// What the server said about a token the user was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GivenToken {
    pub account: Account,
    /// `GET /api/account` answered to the token (else the account is a synthetic one).
    pub account_readable: bool,
    /// Its expiry date, when the server says.
    pub expires: Option<String>,
}

/// The synthetic account id of a token whose account cannot be read: `token-` and the first 12 hex digits of the
/// token's SHA-256 (stable, so the same token finds its remembered channels again; the token is not in it).
pub fn synthetic_id(token: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("token-{}", &hex[..12])
}

/// A token as typed or read: trimmed, and shaped like a server's access token (letters, digits and `-`), or a
/// sentence saying it is not one.
pub fn checked_token(value: &str) -> Result<String> {
    let token = value.trim();
    if token.is_empty() {
        return Err(Error::Refused {
            reason: "No token was given.".into(),
        });
    }
    if crate::engine::server_values::access_token(token, "the given token").is_err() {
        return Err(Error::Refused {
            reason: "This is not an Anaconda Server token (a token has only letters, digits and dashes); check \
                     that you copied all of it."
                .into(),
        });
    }
    crate::engine::redact::register(token);
    Ok(token.to_string())
}

/// Check a token the user was given against its server, before anything is written.
pub async fn validate_given_token(
    client: &ServerClient,
    domain: &str,
    token: &str,
) -> Result<GivenToken> {
    let info = match client.token_info(token).await {
        Ok(info) => info,
        Err(Error::Unauthorized { .. }) => {
            return Err(Error::Refused {
                reason: format!(
                    "This token is not accepted by {domain}: it is expired, revoked or mistyped."
                ),
            });
        }
        Err(error) => return Err(error),
    };
    let (account, account_readable) = match client.account(Auth::Token(token)).await {
        Ok(account) => (account, true),
        // a service account's token may not read the account: it is named by a hash of itself
        Err(Error::Unauthorized { .. } | Error::Http { status: 404, .. }) => {
            let id = synthetic_id(token);
            (
                Account {
                    user_id: id.clone(),
                    username: id,
                    default_channel_name: None,
                    roles: Vec::new(),
                },
                false,
            )
        }
        Err(error) => return Err(error),
    };
    Ok(GivenToken {
        account,
        account_readable,
        expires: info
            .expires_at
            .map(|e| e.get(..10).unwrap_or(&e).to_string()),
    })
}

impl Engine {
    /// Sign in with a token the user was given: validated first, then the same local transaction as a password
    /// sign-in, without a server token of conda-connect's own.
    pub async fn login_with_token(&self, token: &str, request: &SignIn) -> Result<LoginOutcome> {
        if !self.policy.allows_given_token() {
            return Err(self.policy.managed("sign_in"));
        }
        let token = checked_token(token)?;
        request.check_selection()?;
        let mut crash = self.crash.clone();
        let _lock = self.lock_async().await?;
        let (domain, client) = self.prepare_login(request).await?;
        let given = validate_given_token(&client, &domain, &token).await?;
        if let Some(selection) = &request.selection {
            self.check_selection_on_server(&client, &token, selection)
                .await?;
        }
        let mut secrets = SessionSecrets {
            access_token: Some(token.clone()),
            previous_token_files: self.previous_token_files(&domain)?,
            ..Default::default()
        };
        let preferred = request
            .selection
            .as_ref()
            .map(Selection::names)
            .unwrap_or_default();
        let clients = self
            .plan_clients(
                &domain,
                &client,
                &token,
                &preferred,
                self.netrc_wanted(request.netrc),
                &mut secrets,
            )
            .await?;
        self.secrets.set(&domain, &secrets)?;
        let created = CreatedToken {
            id: String::new(),
            token: token.clone(),
        };
        let plan = super::login::LoginPlan {
            domain: &domain,
            account: &given.account,
            created: &created,
            token_name: "",
            expires: given.expires.as_deref().unwrap_or(""),
            selection: request.selection.as_ref(),
            choice: request.domain.as_ref(),
            netrc: request.netrc,
            sso_client_id: None,
            given: true,
            secondary: self.adds_server(request)?,
        };
        let journal: Journal = self.plan_login(&plan, clients.ops, clients.records)?;
        if let Err(error) = self.commit(journal, &mut crash, OnFailure::Undo).await {
            if !matches!(
                error,
                Error::Unfinished { .. } | Error::SimulatedCrash { .. }
            ) {
                let _ = self.secrets.delete(&domain);
            }
            return Err(error);
        }
        let mut notes: Vec<String> = self.condarc_link_note().into_iter().collect();
        notes.extend(clients.notes);
        if !given.account_readable {
            notes.push(
                "This token may not read its account, so conda-connect names it by a fingerprint of itself."
                    .into(),
            );
        }
        Ok(LoginOutcome {
            domain: domain.clone(),
            username: given.account.username.clone(),
            token_id: String::new(),
            remembered: self.remembered_selection(&domain, &given.account.user_id),
            applied: request.selection.clone(),
            notes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_tokens_synthetic_id_is_stable_and_reveals_nothing() {
        let id = synthetic_id("abcdef0123456789abcdef");
        assert_eq!(id, synthetic_id("abcdef0123456789abcdef"));
        assert!(id.starts_with("token-") && id.len() == 18, "{id}");
        assert!(!id.contains("abcdef0123"));
        assert_ne!(id, synthetic_id("abcdef0123456789abcdeg"));
        assert!(checked_token("  has space inside ").is_err());
        assert_eq!(
            checked_token(" 0123456789abcdef\n").unwrap(),
            "0123456789abcdef"
        );
    }
}
