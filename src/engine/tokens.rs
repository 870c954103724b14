//! Token management (docs/server-api.md, "Access tokens"): list, create with scopes and expiry, regenerate,
//! revoke, renew — and how to use a token. Regenerating the sign-in token rewrites conda's token files, the ini and
//! the secrets in one journaled transaction that rolls forward once the server has issued the new value, so conda
//! keeps working with it. Token ids are UUIDs, compared by value (`{…}`, upper case and hyphen-less spellings of
//! the sign-in token's id are the sign-in token).

use chrono::{Duration, NaiveDate};
use serde::Serialize;

use crate::engine::client::{CreatedToken, NewToken, TokenItem};
use crate::engine::error::{Error, Result};
use crate::engine::journal::{After, FileOp, Journal, Stage, StoreToken};
use crate::engine::navigator_ini::NavigatorIni;
use crate::engine::server_values;
use crate::engine::session::{Engine, OnFailure};
use crate::engine::{files, token_files};

/// Tokens may live at most this long (the documented default is one year).
pub const MAX_DAYS: i64 = 365;
/// Expiring within this many days is highlighted, and the sign-in token offers renewal.
pub const WARN_DAYS: i64 = 30;

/// How close a token is to its expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "state", content = "days")]
pub enum Expiry {
    Never,
    Expired,
    /// Expires within [`WARN_DAYS`]: days left.
    Soon(i64),
    Later(i64),
}

impl Expiry {
    pub fn of(expires_at: Option<&str>, today: NaiveDate) -> Expiry {
        let Some(date) = expires_at.and_then(parse_date) else {
            return Expiry::Never;
        };
        let days = (date - today).num_days();
        if days < 0 {
            Expiry::Expired
        } else if days <= WARN_DAYS {
            Expiry::Soon(days)
        } else {
            Expiry::Later(days)
        }
    }
}

fn parse_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text.get(..10).unwrap_or(text), "%Y-%m-%d").ok()
}

/// One token, as the app shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenView {
    pub id: String,
    pub name: String,
    pub created: Option<String>,
    pub expires: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub scopes: Vec<String>,
    /// The token conda uses (created at sign-in).
    pub sign_in_token: bool,
    pub expiry: Expiry,
}

/// The ways to use a token (shown with copy buttons).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    pub channel_url: String,
    pub conda_config: String,
    pub pip: String,
    /// uv's per-index variables (`UV_INDEX_<NAME>_USERNAME` / `_PASSWORD`).
    pub uv: String,
}

/// How to use `token` for `channel` on `domain` (Anaconda's documented forms).
pub fn usage(domain: &str, token: &str, channel: &str) -> Usage {
    let channel_url = format!("{domain}/api/repo/t/{token}/{channel}");
    let (scheme, rest) = domain.split_once("://").unwrap_or(("https", domain));
    Usage {
        conda_config: format!("conda config --add channels {channel_url}"),
        pip: format!(
            "pip install --index-url {scheme}://{token}:x-auth-token@{rest}/api/repo/{channel}/simple <package>"
        ),
        uv: crate::engine::clients::snippets::for_channel(domain, token, channel)
            .into_iter()
            .find(|(label, _)| label == "uv")
            .map(|(_, text)| text)
            .unwrap_or_default(),
        channel_url,
    }
}

pub use crate::engine::session::today;

/// A token id as typed: a UUID in any spelling, or a sentence saying what an id looks like.
pub fn parse_token_id(id: &str) -> Result<String> {
    server_values::token_id(id).ok_or_else(|| Error::Refused {
        reason: format!(
            "\"{}\" is not a token id (token ids look like 3f1c2a9e-1111-2222-3333-444455556666).",
            server_values::printable(id)
        ),
    })
}

/// Check an expiry date: after today and at most [`MAX_DAYS`] ahead.
pub fn validate_expiry(value: &str) -> Result<NaiveDate> {
    let date =
        NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d").map_err(|_| Error::InvalidExpiry {
            value: value.to_string(),
        })?;
    let today = today();
    if date <= today || date > today + Duration::days(MAX_DAYS) {
        return Err(Error::InvalidExpiry {
            value: value.to_string(),
        });
    }
    Ok(date)
}

impl Engine {
    /// What token management works with: the sign-in, its session (renewed when it has lapsed) and a client.
    fn token_management(
        &self,
    ) -> Result<(
        crate::engine::session::SessionRecord,
        crate::engine::session::StoredSession,
        crate::engine::client::ServerClient,
    )> {
        let (record, session) = self.active_session()?;
        if record.given_token {
            return Err(Error::Refused {
                reason: "Token management needs a password or single sign-on sign-in; you are signed in with a \
                         token you were given."
                    .into(),
            });
        }
        let client = self.client(&record.domain)?;
        Ok((record, session, client))
    }

    /// The user's tokens, newest first, the sign-in token marked.
    pub async fn tokens(&self) -> Result<Vec<TokenView>> {
        let (record, session, client) = self.token_management()?;
        let items = self
            .with_session(&session, |jwt| {
                let client = client.clone();
                async move { client.list_tokens(&jwt).await }
            })
            .await?;
        let today = today();
        let mut out: Vec<TokenView> = items
            .into_iter()
            .map(|t| view(t, &record.token_id, today))
            .collect();
        out.sort_by(|a, b| b.created.cmp(&a.created));
        Ok(out)
    }

    /// The scopes the server lets this user grant.
    pub async fn token_scopes(&self) -> Result<Vec<String>> {
        let (_, session, client) = self.token_management()?;
        self.with_session(&session, |jwt| {
            let client = client.clone();
            async move { client.scopes(&jwt).await }
        })
        .await
    }

    /// Create a token: scopes checked against the server's list, expiry after today and within a year
    /// (default: one year).
    pub async fn create_token(
        &self,
        name: &str,
        scopes: &[String],
        expires: Option<&str>,
    ) -> Result<CreatedToken> {
        let name = name.trim();
        if name.is_empty() {
            return Err(Error::Refused {
                reason: "Give the token a name.".into(),
            });
        }
        if name.chars().any(server_values::is_hidden_or_control) {
            return Err(Error::Refused {
                reason: "A token name cannot contain control, direction-changing or invisible characters.".into(),
            });
        }
        if scopes.is_empty() {
            return Err(Error::Refused {
                reason: "Choose at least one scope.".into(),
            });
        }
        let longest = i64::from(self.policy.token_days());
        let expires_at = match expires.map(str::trim).filter(|e| !e.is_empty()) {
            Some(expiry) => validate_expiry(expiry)?,
            None => today() + Duration::days(longest),
        };
        // the organization's token lifetime is the longest a new token may live
        if expires_at > today() + Duration::days(longest) {
            return Err(self.policy.managed("token_lifetime_days"));
        }
        let offered = self.token_scopes().await?;
        if let Some(bad) = scopes.iter().find(|s| !offered.contains(s)) {
            return Err(Error::UnknownScope { name: bad.clone() });
        }
        let new = NewToken {
            name: name.to_string(),
            scopes: scopes.to_vec(),
            expires_at: Some(expires_at.format("%Y-%m-%d").to_string()),
        };
        let (_, session, client) = self.token_management()?;
        self.with_session(&session, |jwt| {
            let (client, new) = (client.clone(), new.clone());
            async move { client.create_token(&jwt, &new).await }
        })
        .await
    }

    /// A new value for token `id`. For the sign-in token, conda's token files, the ini and the stored secrets get
    /// the new value in one transaction.
    pub async fn regenerate_token(&self, id: &str) -> Result<String> {
        let id = parse_token_id(id)?;
        let _lock = self.lock_async().await?;
        self.recover_locked().await?;
        let (record, session, client) = self.token_management()?;
        let secrets = self.secrets.get(&session.account)?.unwrap_or_default();
        let sign_in = server_values::token_id(&record.token_id).as_deref() == Some(id.as_str());
        if sign_in {
            // every local file is checked before the server is asked: afterwards the old value is dead
            self.preflight_sign_in_token_files(&record.domain)?;
        }
        let reissued = self
            .with_session(&session, |jwt| {
                let (client, id) = (client.clone(), id.clone());
                async move { client.reissue_token(&jwt, &id).await }
            })
            .await;
        let token = match reissued {
            Ok(token) => token,
            Err(error) if sign_in => {
                return Err(self.after_lost_regeneration(&client, &secrets, error).await);
            }
            Err(error) => return Err(error),
        };
        if sign_in {
            self.roll_forward_sign_in_token(&record.domain, &token)
                .await?;
        }
        Ok(token)
    }

    fn preflight_sign_in_token_files(&self, domain: &str) -> Result<()> {
        let token_paths = token_files::token_file_paths(&self.paths, domain);
        let client_paths = match self.session()? {
            Some(record) => self.client_files_to_check(&record),
            None => Vec::new(),
        };
        let mut targets = vec![self.paths.navigator_ini.as_path()];
        targets.extend(token_paths.iter().map(|p| p.as_path()));
        targets.extend(client_paths.iter().map(|p| p.as_path()));
        self.check_writable(&targets)?;
        NavigatorIni::load(&self.paths.navigator_ini).map(|_| ())
    }

    /// A regeneration of the sign-in token failed: when the server may have acted but its answer was lost, the old
    /// value is dead and conda is cut off — say so instead of leaving "Connected" unexplained.
    async fn after_lost_regeneration(
        &self,
        client: &crate::engine::client::ServerClient,
        secrets: &crate::engine::secrets::SessionSecrets,
        error: Error,
    ) -> Error {
        let Some(old) = secrets.access_token.as_deref() else {
            return error;
        };
        match client.token_info(old).await {
            Err(Error::Unauthorized { .. }) => {
                tracing::error!(error = %error, "the regeneration's answer was lost and the old value is dead");
                Error::Refused {
                    reason: "The server regenerated conda's sign-in token but its answer was lost, so conda can no \
                             longer reach the server; sign out and sign in again."
                        .into(),
                }
            }
            _ => error,
        }
    }

    /// The server issued a new value for the sign-in token: conda's token files, the ini and the secret store get
    /// it in one journaled change that rolls forward (it is completed by the next command if this one fails).
    async fn roll_forward_sign_in_token(&self, domain: &str, token: &str) -> Result<()> {
        let mut crash = self.crash.clone();
        let mut ops: Vec<FileOp> = token_files::token_file_paths(&self.paths, domain)
            .iter()
            .map(|p| FileOp::write(p, token, Some(0o600)))
            .collect();
        // the other clients' credentials (rattler, netrc) carry the token too
        if let Some(mut record) = self.session()?
            && let Some(old) = self.secrets.get(domain)?.and_then(|s| s.access_token)
            && !record.clients.is_empty()
        {
            ops.extend(self.plan_clients_new_token(&mut record, &old, token)?);
            ops.push(self.record_op(&record));
        }
        let ini_bytes = files::read_optional(&self.paths.navigator_ini)?;
        let mut ini = NavigatorIni::load(&self.paths.navigator_ini)?;
        ini.set_token(token);
        ops.extend(self.ini_op(ini_bytes.as_deref(), &ini, Some(0o600)));
        let journal = Journal {
            operation: "token regeneration".into(),
            stage: Stage::Apply,
            ops,
            after: After {
                store_access_token: Some(StoreToken {
                    account: domain.to_string(),
                    token: token.to_string(),
                }),
                ..After::default()
            },
        };
        self.commit(journal, &mut crash, OnFailure::Complete)
            .await
            .map(|_| ())
    }

    /// Revoke token `id`. The sign-in token is refused: conda would lose access; sign out instead (which revokes
    /// it and restores the configuration).
    pub async fn revoke_token(&self, id: &str) -> Result<()> {
        let id = parse_token_id(id)?;
        let (record, session, client) = self.token_management()?;
        if server_values::token_id(&record.token_id).as_deref() == Some(id.as_str()) {
            return Err(Error::Refused {
                reason: "This is the token conda uses to reach the server; revoking it would cut conda off. Sign out \
                         instead (conda-connect logout): it revokes the token and restores your configuration."
                    .into(),
            });
        }
        let deleted = self
            .with_session(&session, |jwt| {
                let (client, id) = (client.clone(), id.clone());
                async move { client.delete_token(&jwt, &id).await }
            })
            .await?;
        if !deleted {
            return Err(Error::Refused {
                reason: format!("The server has no token with id {id}."),
            });
        }
        Ok(())
    }

    /// The sign-in token's expiry (from `/api/account/token-info`).
    pub async fn sign_in_token_expiry(&self) -> Result<Expiry> {
        let (record, secrets) = self.signed_in()?;
        let token = secrets.access_token.clone().ok_or(Error::NotLoggedIn)?;
        let client = self.client(&record.domain)?;
        match client.token_info(&token).await {
            Ok(info) => Ok(Expiry::of(info.expires_at.as_deref(), today())),
            // a token the user was given: the server refusing it is all there is to know
            Err(Error::Unauthorized { .. }) if record.given_token => Ok(Expiry::Expired),
            // an expired token cannot ask about itself: look it up in the list (with the session JWT)
            Err(Error::Unauthorized { .. }) => {
                let list = self.tokens().await?;
                Ok(list
                    .iter()
                    .find(|t| t.sign_in_token)
                    .map(|t| Expiry::of(t.expires.as_deref(), today()))
                    .unwrap_or(Expiry::Expired))
            }
            Err(error) => Err(error),
        }
    }

    /// Extend the sign-in token to one year from today, keeping its value (nothing local changes).
    pub async fn renew_sign_in_token(&self) -> Result<String> {
        let _lock = self.lock_async().await?;
        let (record, session, client) = self.token_management()?;
        let secrets = self.secrets.get(&session.account)?.unwrap_or_default();
        self.preflight_sign_in_token_files(&record.domain)?;
        let expires = (today() + Duration::days(MAX_DAYS))
            .format("%Y-%m-%d")
            .to_string();
        let reissued = self
            .with_session(&session, |jwt| {
                let (client, id, expires) =
                    (client.clone(), record.token_id.clone(), expires.clone());
                async move { client.update_token_expiry(&jwt, &id, &expires).await }
            })
            .await?;
        // a server that ignored `reissue_token=false` issued a new value: conda must get it
        if let Some(token) = reissued
            && secrets.access_token.as_deref() != Some(token.as_str())
        {
            tracing::warn!("the server issued a new value at renewal; conda's files get it");
            self.roll_forward_sign_in_token(&record.domain, &token)
                .await?;
        }
        Ok(expires)
    }
}

fn view(item: TokenItem, sign_in_id: &str, today: NaiveDate) -> TokenView {
    TokenView {
        expiry: Expiry::of(item.expires_at.as_deref(), today),
        sign_in_token: server_values::token_id(&item.id) == server_values::token_id(sign_in_id),
        id: item.id,
        name: item.name,
        created: item.created_at,
        expires: item.expires_at,
        kind: item.kind,
        scopes: item.scopes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_states() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        assert_eq!(Expiry::of(None, today), Expiry::Never);
        assert_eq!(Expiry::of(Some("2026-11-21"), today), Expiry::Expired);
        assert_eq!(Expiry::of(Some("2026-12-01"), today), Expiry::Soon(9));
        assert_eq!(
            Expiry::of(Some("2027-11-22T00:00:00Z"), today),
            Expiry::Later(365)
        );
    }

    #[test]
    fn usage_snippets() {
        let snippets = usage("https://repo.example.com", "abc123", "internal");
        assert_eq!(
            snippets.channel_url,
            "https://repo.example.com/api/repo/t/abc123/internal"
        );
        assert_eq!(
            snippets.conda_config,
            "conda config --add channels https://repo.example.com/api/repo/t/abc123/internal"
        );
        assert_eq!(
            snippets.pip,
            "pip install --index-url https://abc123:x-auth-token@repo.example.com/api/repo/internal/simple <package>"
        );
    }

    #[test]
    fn expiry_limits() {
        let date = today();
        assert!(
            validate_expiry(&(date + Duration::days(365)).format("%Y-%m-%d").to_string()).is_ok()
        );
        for bad in [date + Duration::days(366), date, date - Duration::days(1)] {
            assert!(validate_expiry(&bad.format("%Y-%m-%d").to_string()).is_err());
        }
        assert!(validate_expiry("next year").is_err());
    }
}
