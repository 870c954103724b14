//! Every sentence single sign-on shows a person. None contains a token, a code or a verifier; the client id is
//! quoted because it is the setting the person or an administrator has to change.

use std::time::Duration;

use crate::engine::error::Error;

/// Where the client id is set, in the window's words (the command line says `--sso-client-id` instead:
/// [`for_command_line`]).
pub const CLIENT_ID_SETTING: &str = "the SSO client id in Preferences";

/// A sentence of this module in the command line's words: the setting by its option.
pub fn for_command_line(sentence: &str) -> String {
    sentence.replace(CLIENT_ID_SETTING, "--sso-client-id")
}

pub const NO_SSO: &str =
    "This server has no single sign-on (SSO); sign in with a username and password.";
pub const NO_CLIENT_ID: &str = "The server does not name a single sign-on client; set the client id as the SSO client id in Preferences.";
pub const WRONG_STATE_PAGE: &str =
    "This answer does not belong to the sign-in conda-connect is waiting for; it was ignored.";
pub const SUCCESS_PAGE: &str = "Signed in to conda-connect \u{2014} you can close this tab.";
pub const NO_CODE: &str =
    "The identity provider's answer carried no sign-in code; start the sign-in again.";
pub const BAD_CALLBACK: &str =
    "The browser's answer to conda-connect was malformed; start the sign-in again.";
pub const OTHER_ISSUER: &str =
    "The browser's answer came from another identity provider than the server's; it was refused.";
pub const CODE_REFUSED: &str = "The identity provider did not accept the sign-in code (expired, already used or not issued to this sign-in); start the sign-in again.";
pub const NO_LOOPBACK: &str =
    "conda-connect could not listen on 127.0.0.1 for the browser's answer; see the log.";

pub fn refused(reason: impl Into<String>) -> Error {
    Error::Refused {
        reason: reason.into(),
    }
}

/// A client id fit to show: printable ASCII without spaces, at most 100 characters.
pub fn shown_client_id(id: &str) -> String {
    let clean: String = id
        .chars()
        .filter(|c| c.is_ascii_graphic() && *c != '"')
        .take(100)
        .collect();
    clean
}

/// An OAuth error code fit to show (they are `[a-z_]` words by the standard; anything else is cut).
fn shown_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(40)
        .collect()
}

/// The identity provider's `error=` (in the browser's answer or from the token endpoint) as a sentence.
pub fn idp_error(code: &str, client_id: &str) -> Error {
    let id = shown_client_id(client_id);
    refused(match code {
        "invalid_redirect_uri" => format!(
            "The identity provider refused conda-connect's loopback address for the client \"{id}\": an administrator must allow the redirect URI http://127.0.0.1:*/callback for this client in Keycloak, or set the client meant for conda-connect with {CLIENT_ID_SETTING}."
        ),
        "unauthorized_client" => format!(
            "The identity provider does not let the client \"{id}\" sign in through a browser: an administrator must enable the standard flow with PKCE for this client in Keycloak, or set the client meant for conda-connect with {CLIENT_ID_SETTING}."
        ),
        "invalid_client" => format!(
            "The identity provider does not know \"{id}\" as a public client: an administrator must register it in Keycloak as a public client (no secret), or set the right client id with {CLIENT_ID_SETTING}."
        ),
        "access_denied" => format!(
            "The sign-in was canceled or denied in the browser; if you did not cancel it, an administrator must give your account access to the client \"{id}\" in Keycloak, or set another client id with {CLIENT_ID_SETTING}."
        ),
        "invalid_grant" => CODE_REFUSED.to_string(),
        other => format!(
            "The identity provider refused the sign-in ({}); see the log for details.",
            shown_code(other)
        ),
    })
}

pub const NO_DEVICE_FLOW: &str = "The server's identity provider does not offer sign-in with a code on another device; sign in with a browser instead.";
pub const DEVICE_EXPIRED: &str =
    "The sign-in code expired before it was confirmed; start the sign-in again.";

/// Any other refusal of the authorization request (an error page the realm shows instead of its login form).
pub fn request_refused(client_id: &str) -> Error {
    refused(format!(
        "The identity provider refused the sign-in request for the client \"{}\": an administrator must check this client in Keycloak, or set the client meant for conda-connect with {CLIENT_ID_SETTING}.",
        shown_client_id(client_id)
    ))
}

/// An `error=` of the device flow as a sentence (the client's grant is another setting than the browser's).
pub fn device_error(code: &str, client_id: &str) -> Error {
    let id = shown_client_id(client_id);
    match code {
        "unauthorized_client" => refused(format!(
            "The identity provider does not let the client \"{id}\" sign in with a code on another device: an administrator must enable the OAuth 2.0 Device Authorization Grant for this client in Keycloak, or set the client meant for conda-connect with {CLIENT_ID_SETTING}."
        )),
        "access_denied" => refused(format!(
            "The sign-in was canceled or denied on the other device; if you did not cancel it, an administrator must give your account access to the client \"{id}\" in Keycloak, or set another client id with {CLIENT_ID_SETTING}."
        )),
        other => idp_error(other, client_id),
    }
}

/// No callback in time.
pub fn timed_out(wait: Duration) -> Error {
    let secs = wait.as_secs().max(1);
    let span = if secs.is_multiple_of(60) {
        let minutes = secs / 60;
        format!("{minutes} minute{}", if minutes == 1 { "" } else { "s" })
    } else {
        format!("{secs} second{}", if secs == 1 { "" } else { "s" })
    };
    refused(format!(
        "No sign-in arrived from the browser within {span}; start the sign-in again."
    ))
}

/// An endpoint of the identity provider's configuration on a host that is neither the server nor its realm.
pub fn foreign_endpoint(host: &str) -> Error {
    refused(format!(
        "The identity provider's configuration points to another host ({host}); conda-connect does not send credentials there."
    ))
}

/// The server's HTTPS sign-in redirect leads to plain HTTP.
pub fn leaves_https(host: &str) -> Error {
    refused(format!(
        "The server's single sign-on leads from HTTPS to plain HTTP at {host}; conda-connect does not sign in there."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_naturally() {
        assert_eq!(
            timed_out(Duration::from_secs(300)).to_string(),
            "No sign-in arrived from the browser within 5 minutes; start the sign-in again."
        );
        assert_eq!(
            timed_out(Duration::from_millis(300)).to_string(),
            "No sign-in arrived from the browser within 1 second; start the sign-in again."
        );
    }

    #[test]
    fn hostile_codes_and_ids_are_cut() {
        assert_eq!(
            idp_error("x\"<script>", "a").to_string(),
            "The identity provider refused the sign-in (xscript); see the log for details."
        );
        assert_eq!(shown_client_id("a b\"c\n"), "abc");
    }
}
