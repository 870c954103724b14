//! Is the sign-in still good? The health check asks the server about the stored token itself
//! (`/api/account/token-info`), so a revoked or expired token is told apart from a server that cannot be reached.

use crate::engine::{Engine, Error};

/// What the last check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connection {
    /// The server answers and accepts the token.
    Healthy,
    /// Nothing answers in time (offline, DNS, refused, dropped, timeout) or the server fails.
    Unreachable,
    /// The server's certificate could not be verified.
    Untrusted,
    /// The server presents another certificate than the one the user trusted (pinned) for it.
    CertificateChanged,
    /// The server answers but no longer accepts the token (revoked or expired): sign in again.
    TokenRejected,
}

impl Engine {
    /// Check the active sign-in's token against its server. Never returns the token or an error text.
    pub async fn check_connection(&self) -> Connection {
        let (domain, token) = match self.access_token() {
            Ok(Some(found)) => found,
            // signed in, but no token to send: the sign-in cannot work
            Ok(None) => return Connection::TokenRejected,
            Err(error) => {
                tracing::warn!(error = %error, "health check: the sign-in could not be read");
                return Connection::Unreachable;
            }
        };
        self.check_token(&domain, &token).await
    }

    /// Each secondary server (several servers at once) checked the same way, with its own token.
    pub async fn check_servers(&self) -> Vec<(String, Connection)> {
        let mut out = Vec::new();
        for (domain, token) in self.secondary_tokens().unwrap_or_default() {
            let found = self.check_token(&domain, &token).await;
            out.push((domain, found));
        }
        out
    }

    /// Whether `domain` answers and accepts `token`.
    async fn check_token(&self, domain: &str, token: &str) -> Connection {
        let client = match self.client(domain) {
            Ok(client) => client,
            Err(error) => {
                tracing::warn!(error = %error, "health check: no client for the domain");
                return Connection::Unreachable;
            }
        };
        match client.token_info(token).await {
            Ok(_) => Connection::Healthy,
            Err(Error::Unauthorized { .. }) => Connection::TokenRejected,
            Err(Error::Tls { .. }) => Connection::Untrusted,
            Err(Error::CertificateChanged { .. }) => Connection::CertificateChanged,
            Err(Error::Unreachable { .. } | Error::Timeout { .. } | Error::Redirected { .. }) => {
                Connection::Unreachable
            }
            // another answer (a server without this endpoint, a 5xx): the system check decides
            Err(error) => {
                tracing::debug!(error = %error, "health check: token-info did not answer; trying /api/system");
                if client.healthy().await {
                    Connection::Healthy
                } else {
                    Connection::Unreachable
                }
            }
        }
    }
}
