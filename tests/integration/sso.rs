//! Single sign-on against the emulator's Keycloak-like realm, with reqwest as the browser: it fetches the
//! authorization URL, posts the demo credentials to the login form and follows the redirect to the loopback
//! callback. Every refusal is checked for its exact sentence and for the absence of any token or code.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use conda_connect::emulator::oidc::{CLI_CLIENT, SERVICE_CLIENT, WEB_CLIENT};
use conda_connect::emulator::{DEMO_PASSWORD, DEMO_USER, Emulator, EmulatorConfig, FaultKind};
use conda_connect::engine::Error;
use conda_connect::engine::client::{Auth, ClientConfig, NewToken, ServerClient};
use conda_connect::engine::sso::{self, PendingSignIn, messages};

use crate::common::*;

// the window's suites reach it here
pub(crate) use crate::common::sso_world;

fn config() -> ClientConfig {
    ClientConfig {
        timeout: Some(Duration::from_secs(5)),
        ..Default::default()
    }
}

/// What the test browser does on the realm's login form.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Act {
    SignIn,
    Cancel,
    /// Sign in, but hand the code to the token endpoint first with a wrong verifier (an attacker who saw the
    /// code), then deliver the callback.
    StealCode,
    /// First a callback with a wrong state and one with the state twice, then the real sign-in.
    WrongStateFirst,
    /// Hold an idle connection to the listener open (as browsers' spare connections are), then sign in.
    IdleConnectionFirst,
    /// Sign in, but replace the `iss` of the answer with another issuer.
    ForgeIssuer,
}

/// What the browser saw.
#[derive(Debug, Default, Clone)]
pub(crate) struct Seen {
    /// Status and text of the loopback callback's page.
    pub(crate) page: Option<(u16, String)>,
    wrong_state_page: Option<(u16, String)>,
    stolen_exchange: Option<(u16, String)>,
    redirect_uri: String,
    code: Option<String>,
}

fn no_redirects() -> reqwest::Client {
    conda_connect::engine::client::ensure_crypto_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap()
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// `name=value` of every `<input type="hidden">` of a page.
fn hidden_fields(html: &str) -> Vec<(String, String)> {
    html.split("<input type=\"hidden\" ")
        .skip(1)
        .filter_map(|rest| {
            let name = rest.strip_prefix("name=\"")?.split('"').next()?;
            let value = rest.split("value=\"").nth(1)?.split('"').next()?;
            Some((name.to_string(), unescape(value)))
        })
        .collect()
}

fn form(fields: &[(String, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}

pub(crate) async fn browse(url: String, act: Act, seen: Arc<Mutex<Seen>>) {
    let http = no_redirects();
    let parsed = url::Url::parse(&url).unwrap();
    let redirect_uri = parsed
        .query_pairs()
        .find(|(k, _)| k == "redirect_uri")
        .unwrap()
        .1
        .into_owned();
    seen.lock().unwrap().redirect_uri = redirect_uri.clone();
    let state = parsed
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    if act == Act::WrongStateFirst {
        let response = http
            .get(format!("{redirect_uri}?code=forged&state=not-the-state"))
            .send()
            .await
            .unwrap();
        seen.lock().unwrap().wrong_state_page =
            Some((response.status().as_u16(), response.text().await.unwrap()));
        let twice = http
            .get(format!(
                "{redirect_uri}?code=forged&state={state}&state={state}"
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(twice.status().as_u16(), 400);
        assert!(
            twice
                .text()
                .await
                .unwrap()
                .contains(messages::WRONG_STATE_PAGE)
        );
    }
    let _idle = if act == Act::IdleConnectionFirst {
        let addr = url::Url::parse(&redirect_uri)
            .unwrap()
            .socket_addrs(|| None)
            .unwrap()[0];
        Some(tokio::net::TcpStream::connect(addr).await.unwrap())
    } else {
        None
    };
    let page = http.get(&url).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let mut fields = hidden_fields(&page.text().await.unwrap());
    fields.push(("username".into(), DEMO_USER.into()));
    fields.push(("password".into(), DEMO_PASSWORD.into()));
    if act == Act::Cancel {
        fields.push(("cancel".into(), "1".into()));
    }
    let posted = http
        .post(&url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form(&fields))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status().as_u16(), 302);
    let location = posted.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with(&format!("{redirect_uri}?")),
        "{location}"
    );
    let code = url::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned());
    seen.lock().unwrap().code = code.clone();
    if act == Act::StealCode {
        let token_endpoint = url.replace("/auth?", "/token?");
        let token_endpoint = token_endpoint.split('?').next().unwrap();
        let response = http
            .post(token_endpoint)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form(&[
                ("grant_type".into(), "authorization_code".into()),
                ("code".into(), code.clone().unwrap()),
                ("client_id".into(), CLI_CLIENT.into()),
                ("redirect_uri".into(), redirect_uri.clone()),
                (
                    "code_verifier".into(),
                    "a-guessed-verifier-that-is-long-enough-for-pkce-rules".into(),
                ),
            ]))
            .send()
            .await
            .unwrap();
        seen.lock().unwrap().stolen_exchange =
            Some((response.status().as_u16(), response.text().await.unwrap()));
    }
    let location = if act == Act::ForgeIssuer {
        let mut url = url::Url::parse(&location).unwrap();
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .into_owned()
            .map(|(k, v)| {
                let v = if k == "iss" {
                    "https://idp.example/auth/realms/conda".to_string()
                } else {
                    v
                };
                (k, v)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
        url.to_string()
    } else {
        location
    };
    let back = http.get(&location).send().await.unwrap();
    seen.lock().unwrap().page = Some((back.status().as_u16(), back.text().await.unwrap()));
}

/// A browser function for `sso::sign_in`: browse in the background, report what was seen.
fn browser(act: Act) -> (impl FnOnce(&str), Arc<Mutex<Seen>>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let shared = seen.clone();
    (
        move |url: &str| {
            tokio::spawn(browse(url.to_string(), act, shared));
        },
        seen,
    )
}

/// Every secret the emulator ever issued, and the codes the browser saw.
fn secrets(world: &World, seen: &Seen) -> Vec<String> {
    let st = world.emu.state.lock().unwrap();
    let mut out: Vec<String> = st.sessions.keys().cloned().collect();
    out.extend(st.refresh_tokens.iter().cloned());
    out.extend(st.tokens.iter().map(|t| t.token.clone()));
    out.extend(seen.code.iter().cloned());
    out
}

#[track_caller]
fn assert_sentence(world: &World, seen: &Seen, err: &Error, sentence: &str) {
    let text = err.to_string();
    assert_eq!(text, sentence);
    for secret in secrets(world, seen) {
        assert!(!text.contains(&secret), "a secret leaked into: {text}");
    }
}

/// Wait (bounded) for the background browser to record the callback page.
async fn page_of(seen: &Arc<Mutex<Seen>>) -> (u16, String) {
    for _ in 0..100 {
        if let Some(page) = seen.lock().unwrap().page.clone() {
            return page;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the browser saw no callback page");
}

#[tokio::test]
async fn full_flow_gives_a_session_jwt_the_api_accepts() {
    let world = sso_world().await;
    let (open, seen) = browser(Act::SignIn);
    let tokens = sso::sign_in(&world.emu.url, &config(), &sso_options(None, 30), open)
        .await
        .unwrap();
    assert!(tokens.refresh_token.is_some());
    let client = ServerClient::new(&world.emu.url, &config()).unwrap();
    let account = client.account(Auth::Jwt(&tokens.token)).await.unwrap();
    assert_eq!(account.username, DEMO_USER);
    let created = client
        .create_token(
            &tokens.token,
            &NewToken {
                name: "sso".into(),
                scopes: vec!["artifact:download".into()],
                expires_at: None,
            },
        )
        .await
        .unwrap();
    assert!(!created.token.is_empty());
    let (status, page) = page_of(&seen).await;
    assert_eq!(status, 200);
    assert!(page.contains(messages::SUCCESS_PAGE), "{page}");
    // exactly one callback: the listener is gone
    let redirect_uri = seen.lock().unwrap().redirect_uri.clone();
    let again = no_redirects()
        .get(format!("{redirect_uri}?code=x&state=y"))
        .send()
        .await;
    assert!(again.is_err(), "a second callback reached a listener");
    // the code and the verifier went to the realm's token endpoint, over the emulator's origin only
    let log = world.emu.log();
    assert!(
        log.iter().any(
            |e| e.path == "/auth/realms/conda/protocol/openid-connect/token" && e.status == 200
        )
    );
}

#[tokio::test]
async fn start_then_finish_reports_the_url_and_the_client() {
    let world = sso_world().await;
    let realm = sso::discover(&world.emu.url, &config()).await.unwrap();
    assert_eq!(realm.name, "conda");
    assert_eq!(realm.server_client_id.as_deref(), Some(CLI_CLIENT));
    assert_eq!(
        realm.base.as_str(),
        format!("{}/auth/realms/conda", world.emu.url)
    );
    assert!(realm.endpoints.revocation.is_some());
    let pending = PendingSignIn::start(&realm, &sso_options(None, 30))
        .await
        .unwrap();
    let url = url::Url::parse(pending.authorization_url()).unwrap();
    let q: std::collections::BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q["client_id"], CLI_CLIENT);
    assert_eq!(q["scope"], "openid");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["code_challenge"].len(), 43);
    assert!(q["state"].len() >= 43 && q["nonce"].len() >= 43 && q["state"] != q["nonce"]);
    assert!(pending.redirect_uri().starts_with("http://127.0.0.1:"));
    assert!(pending.redirect_uri().ends_with("/callback"));
    assert_eq!(q["redirect_uri"], pending.redirect_uri());
    assert!(!format!("{pending:?}").contains(&q["state"]));
    assert_eq!(
        pending.prompt(),
        format!("Open this URL to sign in: {}", pending.authorization_url())
    );
    let seen = Arc::new(Mutex::new(Seen::default()));
    tokio::spawn(browse(
        pending.authorization_url().to_string(),
        Act::SignIn,
        seen.clone(),
    ));
    let tokens = pending.finish().await.unwrap();
    assert!(!tokens.token.is_empty());
}

#[tokio::test]
async fn a_wrong_state_is_answered_and_ignored_the_right_one_signs_in() {
    let world = sso_world().await;
    let (open, seen) = browser(Act::WrongStateFirst);
    let tokens = sso::sign_in(&world.emu.url, &config(), &sso_options(None, 30), open)
        .await
        .unwrap();
    let recorded = seen.lock().unwrap().clone();
    let (status, page) = recorded.wrong_state_page.clone().unwrap();
    assert_eq!(status, 400);
    assert!(page.contains(messages::WRONG_STATE_PAGE), "{page}");
    assert!(!page.contains(&tokens.token));
    assert_eq!(
        messages::WRONG_STATE_PAGE,
        "This answer does not belong to the sign-in conda-connect is waiting for; it was ignored."
    );
}

#[tokio::test]
async fn no_callback_times_out() {
    let world = sso_world().await;
    let started = std::time::Instant::now();
    let err = sso::sign_in(&world.emu.url, &config(), &sso_options(None, 1), |_| {})
        .await
        .unwrap_err();
    assert_sentence(
        &world,
        &Seen::default(),
        &err,
        "No sign-in arrived from the browser within 1 second; start the sign-in again.",
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_server_without_sso_says_so() {
    let world = World::with_config(EmulatorConfig {
        bulk_channels: 0,
        ..Default::default()
    })
    .await;
    let opened = Arc::new(Mutex::new(false));
    let opened_flag = opened.clone();
    let err = sso::sign_in(
        &world.emu.url,
        &config(),
        &sso_options(None, 5),
        move |_| *opened_flag.lock().unwrap() = true,
    )
    .await
    .unwrap_err();
    let no_sso = "This server has no single sign-on (SSO); sign in with a username and password.";
    assert_sentence(&world, &Seen::default(), &err, no_sso);
    assert!(!*opened.lock().unwrap());
    // a redirect somewhere else than a realm is no SSO either
    world.fault(
        "/api/auth/authorize",
        None,
        FaultKind::Redirect {
            location: "/login?next=/".into(),
        },
    );
    let err = sso::discover(&world.emu.url, &config()).await.unwrap_err();
    assert_sentence(&world, &Seen::default(), &err, no_sso);
}

#[tokio::test]
async fn a_redirect_uri_the_realm_refuses_names_the_setting() {
    let world = sso_world().await;
    let err = sso::sign_in(
        &world.emu.url,
        &config(),
        &sso_options(Some(WEB_CLIENT), 5),
        |_| panic!("the browser must not be opened for a refused client"),
    )
    .await
    .unwrap_err();
    assert_sentence(
        &world,
        &Seen::default(),
        &err,
        "The identity provider refused conda-connect's loopback address for the client \"repo-service\": an \
         administrator must allow the redirect URI http://127.0.0.1:*/callback for this client in Keycloak, or set \
         the client meant for conda-connect with the SSO client id in Preferences.",
    );
}

#[tokio::test]
async fn a_client_without_the_browser_flow_names_the_setting() {
    let world = sso_world().await;
    // the server's own redirect names the client: the default is refused, the setting names another
    world
        .emu
        .state
        .lock()
        .unwrap()
        .sso
        .as_mut()
        .unwrap()
        .redirect_client_id = SERVICE_CLIENT.into();
    let err = sso::sign_in(&world.emu.url, &config(), &sso_options(None, 5), |_| {
        panic!("the browser must not be opened for a refused client")
    })
    .await
    .unwrap_err();
    assert_sentence(
        &world,
        &Seen::default(),
        &err,
        "The identity provider does not let the client \"repo-service-sync\" sign in through a browser: an \
         administrator must enable the standard flow with PKCE for this client in Keycloak, or set the client \
         meant for conda-connect with the SSO client id in Preferences.",
    );
    let (open, _) = browser(Act::SignIn);
    sso::sign_in(
        &world.emu.url,
        &config(),
        &sso_options(Some(CLI_CLIENT), 30),
        open,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn an_unknown_client_names_the_setting() {
    let world = sso_world().await;
    let err = sso::sign_in(
        &world.emu.url,
        &config(),
        &sso_options(Some("no-such-client"), 5),
        |_| {},
    )
    .await
    .unwrap_err();
    assert_sentence(
        &world,
        &Seen::default(),
        &err,
        "The identity provider does not know \"no-such-client\" as a public client: an administrator must \
         register it in Keycloak as a public client (no secret), or set the right client id with \
         the SSO client id in Preferences.",
    );
}

#[tokio::test]
async fn any_other_error_page_of_the_realm_names_the_setting() {
    let world = sso_world().await;
    world.fault(
        "/auth/realms/conda/protocol/openid-connect/auth",
        Some("GET"),
        FaultKind::Body {
            status: 400,
            content_type: "text/html".into(),
            body: "<html><body>Ung\u{fc}ltige Anfrage.</body></html>".into(),
        },
    );
    let err = sso::sign_in(&world.emu.url, &config(), &sso_options(None, 5), |_| {
        panic!("no browser for a refused request")
    })
    .await
    .unwrap_err();
    assert_sentence(
        &world,
        &Seen::default(),
        &err,
        "The identity provider refused the sign-in request for the client \"repo-service-cli\": an administrator \
         must check this client in Keycloak, or set the client meant for conda-connect with the \
         SSO client id in Preferences.",
    );
}

#[tokio::test]
async fn cancelling_in_the_browser_is_access_denied() {
    let world = sso_world().await;
    let (open, seen) = browser(Act::Cancel);
    let err = sso::sign_in(&world.emu.url, &config(), &sso_options(None, 30), open)
        .await
        .unwrap_err();
    let sentence = "The sign-in was canceled or denied in the browser; if you did not cancel it, an \
                    administrator must give your account access to the client \"repo-service-cli\" in Keycloak, \
                    or set another client id with the SSO client id in Preferences.";
    let (status, page) = page_of(&seen).await;
    assert_sentence(&world, &seen.lock().unwrap().clone(), &err, sentence);
    assert_eq!(status, 400);
    assert!(page.contains(&sentence.replace('"', "&quot;")), "{page}");
    assert!(world.emu.state.lock().unwrap().sessions.is_empty());
}

#[tokio::test]
async fn a_stolen_code_without_the_verifier_is_useless() {
    let world = sso_world().await;
    let (open, seen) = browser(Act::StealCode);
    let err = sso::sign_in(&world.emu.url, &config(), &sso_options(None, 30), open)
        .await
        .unwrap_err();
    page_of(&seen).await;
    let recorded = seen.lock().unwrap().clone();
    let (status, body) = recorded.stolen_exchange.clone().unwrap();
    assert_eq!(status, 400);
    assert!(body.contains("PKCE verification failed"), "{body}");
    assert!(!body.contains("access_token"));
    // the code was spent by the attempt: conda-connect's own exchange is refused in words
    assert_sentence(
        &world,
        &recorded,
        &err,
        "The identity provider did not accept the sign-in code (expired, already used or not issued to this \
         sign-in); start the sign-in again.",
    );
    assert!(world.emu.state.lock().unwrap().sessions.is_empty());
}

/// A second server standing for a foreign host: it must never see a request.
async fn foreign() -> Emulator {
    Emulator::start(EmulatorConfig {
        bulk_channels: 0,
        ..Default::default()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn a_token_endpoint_on_a_foreign_host_is_never_used() {
    let world = sso_world().await;
    let evil = foreign().await;
    let base = format!(
        "{}/auth/realms/conda/protocol/openid-connect",
        world.emu.url
    );
    let doc = serde_json::json!({
        "issuer": format!("{}/auth/realms/conda", world.emu.url),
        "authorization_endpoint": format!("{base}/auth"),
        "token_endpoint": format!("{}/steal", evil.url),
    });
    world.fault(
        "/auth/realms/conda/.well-known",
        None,
        FaultKind::Body {
            status: 200,
            content_type: "application/json".into(),
            body: doc.to_string(),
        },
    );
    let err = sso::sign_in(&world.emu.url, &config(), &sso_options(None, 5), |_| {
        panic!("no browser for a foreign configuration")
    })
    .await
    .unwrap_err();
    assert_sentence(
        &world,
        &Seen::default(),
        &err,
        &format!(
            "The identity provider's configuration points to another host ({}); conda-connect does not send \
             credentials there.",
            evil.addr
        ),
    );
    assert!(evil.log().is_empty());
}

#[tokio::test]
async fn a_token_endpoint_redirect_is_not_followed() {
    let world = sso_world().await;
    let evil = foreign().await;
    world.fault(
        "/auth/realms/conda/protocol/openid-connect/token",
        Some("POST"),
        FaultKind::Redirect {
            location: format!("{}/steal", evil.url),
        },
    );
    let (open, seen) = browser(Act::SignIn);
    let err = sso::sign_in(&world.emu.url, &config(), &sso_options(None, 30), open)
        .await
        .unwrap_err();
    let (status, page) = page_of(&seen).await;
    let sentence = format!(
        "The server redirected to another host ({}); conda-connect does not send credentials there.",
        evil.addr
    );
    assert_sentence(&world, &seen.lock().unwrap().clone(), &err, &sentence);
    assert_eq!(status, 400);
    assert!(page.contains(&sentence), "{page}");
    assert!(
        evil.log().is_empty(),
        "the foreign host got {:?}",
        evil.log()
    );
}

#[tokio::test]
async fn refresh_and_end_session() {
    let world = sso_world().await;
    let (open, _) = browser(Act::SignIn);
    let first = sso::sign_in(&world.emu.url, &config(), &sso_options(None, 30), open)
        .await
        .unwrap();
    let realm = sso::discover(&world.emu.url, &config()).await.unwrap();
    let client = ServerClient::new(&world.emu.url, &config()).unwrap();
    let second = sso::refresh(&realm, CLI_CLIENT, first.refresh_token.as_deref().unwrap())
        .await
        .unwrap();
    assert_ne!(second.token, first.token);
    assert_eq!(
        client
            .account(Auth::Jwt(&second.token))
            .await
            .unwrap()
            .username,
        DEMO_USER
    );
    // the used refresh token is spent
    let err = sso::refresh(&realm, CLI_CLIENT, first.refresh_token.as_deref().unwrap())
        .await
        .unwrap_err();
    assert_sentence(
        &world,
        &Seen::default(),
        &err,
        &format!(
            "Your session with {} has ended; sign in again.",
            world.emu.url
        ),
    );
    let refresh = second.refresh_token.clone().unwrap();
    assert!(
        sso::end_session(&realm, CLI_CLIENT, &refresh)
            .await
            .unwrap()
    );
    assert!(matches!(
        client.account(Auth::Jwt(&second.token)).await,
        Err(Error::Unauthorized { .. })
    ));
    let err = sso::refresh(&realm, CLI_CLIENT, &refresh)
        .await
        .unwrap_err();
    assert_sentence(
        &world,
        &Seen::default(),
        &err,
        &format!(
            "Your session with {} has ended; sign in again.",
            world.emu.url
        ),
    );
}

#[tokio::test]
async fn an_idle_connection_does_not_hold_up_the_callback() {
    let world = sso_world().await;
    let (open, _) = browser(Act::IdleConnectionFirst);
    let started = std::time::Instant::now();
    sso::sign_in(&world.emu.url, &config(), &sso_options(None, 30), open)
        .await
        .unwrap();
    // the idle connection stays open for the whole sign-in; its read limit is 10 s
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_answer_from_another_issuer_is_refused_before_the_exchange() {
    let world = sso_world().await;
    let (open, seen) = browser(Act::ForgeIssuer);
    let err = sso::sign_in(&world.emu.url, &config(), &sso_options(None, 30), open)
        .await
        .unwrap_err();
    page_of(&seen).await;
    assert_sentence(
        &world,
        &seen.lock().unwrap().clone(),
        &err,
        "The browser's answer came from another identity provider than the server's; it was refused.",
    );
    assert!(
        !world
            .emu
            .log()
            .iter()
            .any(|e| e.path.ends_with("/openid-connect/token"))
    );
}

#[tokio::test]
async fn an_id_token_for_another_sign_in_is_refused() {
    let world = sso_world().await;
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let id_token = format!("e30.{}.sig", b64.encode(r#"{"nonce":"someone-elses"}"#));
    world.fault(
        "/auth/realms/conda/protocol/openid-connect/token",
        Some("POST"),
        FaultKind::Body {
            status: 200,
            content_type: "application/json".into(),
            body:
                serde_json::json!({"access_token": "replayed-access-token", "token_type": "Bearer",
                                     "id_token": id_token})
                .to_string(),
        },
    );
    let (open, seen) = browser(Act::SignIn);
    let err = sso::sign_in(&world.emu.url, &config(), &sso_options(None, 30), open)
        .await
        .unwrap_err();
    assert_sentence(
        &world,
        &seen.lock().unwrap().clone(),
        &err,
        sso::id_token::UNVERIFIED,
    );
    assert!(!err.to_string().contains("replayed-access-token"));
}

/// OpenID Connect Core 3.1.3.7: every way an ID token can be wrong is refused in one sentence, before any server
/// token exists, and the realm session the answer opened is ended again.
#[tokio::test]
async fn every_spoiled_id_token_is_refused_and_its_session_ended() {
    use conda_connect::emulator::oidc::IdTokenFault;
    for fault in [
        IdTokenFault::Unsigned,
        IdTokenFault::WrongKey,
        IdTokenFault::UnlistedAlgorithm,
        IdTokenFault::WrongIssuer,
        IdTokenFault::WrongAudience,
        IdTokenFault::NoAuthorizedParty,
        IdTokenFault::Expired,
        IdTokenFault::IssuedInTheFuture,
        IdTokenFault::WrongNonce,
        IdTokenFault::Missing,
    ] {
        let world = sso_world().await;
        world
            .emu
            .state
            .lock()
            .unwrap()
            .sso
            .as_mut()
            .unwrap()
            .id_token_fault = fault;
        let (open, seen) = browser(Act::SignIn);
        let err = sso::sign_in(&world.emu.url, &config(), &sso_options(None, 30), open)
            .await
            .unwrap_err();
        assert_sentence(
            &world,
            &seen.lock().unwrap().clone(),
            &err,
            sso::id_token::UNVERIFIED,
        );
        let st = world.emu.state.lock().unwrap();
        assert!(st.tokens.is_empty(), "{fault:?}: no server token");
        assert!(
            st.sso.as_ref().unwrap().sessions.is_empty(),
            "{fault:?}: the realm session it opened was ended"
        );
    }
    // and a correct one passes, naming the account
    let world = sso_world().await;
    let (open, _) = browser(Act::SignIn);
    let tokens = sso::sign_in(&world.emu.url, &config(), &sso_options(None, 30), open)
        .await
        .unwrap();
    assert_eq!(tokens.identity.as_deref(), Some(DEMO_USER));
}

#[tokio::test]
async fn an_oversized_token_answer_is_refused() {
    let world = sso_world().await;
    world.fault(
        "/auth/realms/conda/protocol/openid-connect/token",
        Some("POST"),
        FaultKind::Huge {
            bytes: 2 * 1024 * 1024,
        },
    );
    let (open, seen) = browser(Act::SignIn);
    let err = sso::sign_in(&world.emu.url, &config(), &sso_options(None, 30), open)
        .await
        .unwrap_err();
    assert_sentence(
        &world,
        &seen.lock().unwrap().clone(),
        &err,
        "The server sent an answer to the single sign-on token request that is not what an Anaconda Server \
         sends; see the log for details.",
    );
}

#[tokio::test]
async fn a_json_redirect_url_is_discovered_too() {
    let world = sso_world().await;
    world.fault(
        "/api/auth/authorize",
        None,
        FaultKind::Body {
            status: 200,
            content_type: "application/json".into(),
            body: serde_json::json!({"redirect_url": format!(
                "{}/auth/realms/conda/protocol/openid-connect/auth?client_id=web-ui&response_type=code",
                world.emu.url
            )})
            .to_string(),
        },
    );
    let realm = sso::discover(&world.emu.url, &config()).await.unwrap();
    assert_eq!(realm.name, "conda");
    assert_eq!(realm.server_client_id.as_deref(), Some("web-ui"));
}

#[tokio::test]
async fn sso_never_leaves_https_for_plain_http() {
    let world = sso_world().await;
    // an HTTPS front whose realm redirect (the emulator's own) points to plain HTTP
    let front = self_signed_https_front(world.emu.addr).await;
    let pinned = world
        .engine()
        .server_certificate(&front)
        .await
        .unwrap()
        .sha256;
    let trusted = ClientConfig {
        pinned: Some(pinned),
        ..config()
    };
    let err = sso::discover(&front, &trusted).await.unwrap_err();
    assert_sentence(
        &world,
        &Seen::default(),
        &err,
        &format!(
            "The server's single sign-on leads from HTTPS to plain HTTP at {}; conda-connect does not sign in \
             there.",
            world.emu.addr
        ),
    );
    // without trust the certificate is refused first, as for every other request
    let err = sso::discover(&front, &config()).await.unwrap_err();
    assert!(err.is_tls(), "{err}");
}

#[tokio::test]
async fn cancelling_closes_the_listener() {
    let world = sso_world().await;
    let realm = sso::discover(&world.emu.url, &config()).await.unwrap();
    let pending = PendingSignIn::start(&realm, &sso_options(None, 30))
        .await
        .unwrap();
    let redirect_uri = pending.redirect_uri().to_string();
    let waiting = tokio::spawn(pending.finish());
    tokio::time::sleep(Duration::from_millis(100)).await;
    // the listener answers while waiting…
    let response = no_redirects()
        .get(format!("{redirect_uri}?state=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    waiting.abort();
    let _ = waiting.await;
    // …and is gone once the sign-in is dropped (Cancel)
    assert!(
        no_redirects()
            .get(format!("{redirect_uri}?state=x"))
            .send()
            .await
            .is_err()
    );
}

// ---------------------------------------------------------------- device flow (RFC 8628)

use conda_connect::engine::sso::DeviceSignIn;

/// A realm with a 1 s polling interval (the engine honours at least 1 s).
async fn device_world() -> World {
    let world = sso_world().await;
    world
        .emu
        .state
        .lock()
        .unwrap()
        .sso
        .as_mut()
        .unwrap()
        .device_interval = 1;
    world
}

/// The person on the other device: open the complete address, sign in (or say no).
async fn confirm_on_other_device(url: String, approve: bool) -> (u16, String) {
    let http = no_redirects();
    let page = http.get(&url).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let user_code = url::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "user_code")
        .unwrap()
        .1
        .into_owned();
    let mut fields = vec![
        ("user_code".to_string(), user_code),
        ("username".to_string(), DEMO_USER.to_string()),
        ("password".to_string(), DEMO_PASSWORD.to_string()),
    ];
    if !approve {
        fields.push(("cancel".into(), "1".into()));
    }
    let posted = http
        .post(url.split('?').next().unwrap())
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form(&fields))
        .send()
        .await
        .unwrap();
    (posted.status().as_u16(), posted.text().await.unwrap())
}

#[tokio::test]
async fn device_flow_signs_in_after_pending_polls() {
    let world = device_world().await;
    let realm = sso::discover(&world.emu.url, &config()).await.unwrap();
    assert!(realm.endpoints.device_authorization.is_some());
    let device = DeviceSignIn::start(&realm, &sso_options(None, 30))
        .await
        .unwrap();
    assert_eq!(
        device.verification_uri(),
        format!("{}/auth/realms/conda/device", world.emu.url)
    );
    let complete = device.verification_uri_complete().unwrap().to_string();
    assert!(complete.ends_with(&format!("?user_code={}", device.user_code())));
    assert!(!format!("{device:?}").contains("device_code: \""));
    assert_eq!(
        device.prompt(),
        format!(
            "Go to {}/auth/realms/conda/device and enter the code {} (or open {complete})",
            world.emu.url,
            device.user_code()
        )
    );
    let person = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        confirm_on_other_device(complete, true).await
    });
    let tokens = device.finish().await.unwrap();
    assert_eq!(person.await.unwrap().0, 200);
    let account = ServerClient::new(&world.emu.url, &config())
        .unwrap()
        .account(Auth::Jwt(&tokens.token))
        .await
        .unwrap();
    assert_eq!(account.username, DEMO_USER);
    let polls = world
        .emu
        .state
        .lock()
        .unwrap()
        .sso
        .as_ref()
        .unwrap()
        .device_polls
        .clone();
    assert!(polls.len() >= 2, "{} polls", polls.len());
    for pair in polls.windows(2) {
        assert!(pair[1] - pair[0] >= Duration::from_millis(950));
    }
}

#[tokio::test]
async fn device_flow_honours_slow_down() {
    let world = device_world().await;
    world
        .emu
        .state
        .lock()
        .unwrap()
        .sso
        .as_mut()
        .unwrap()
        .slow_down_polls = 1;
    let realm = sso::discover(&world.emu.url, &config()).await.unwrap();
    let device = DeviceSignIn::start(&realm, &sso_options(None, 30))
        .await
        .unwrap();
    confirm_on_other_device(
        device.verification_uri_complete().unwrap().to_string(),
        true,
    )
    .await;
    device.finish().await.unwrap();
    let polls = world
        .emu
        .state
        .lock()
        .unwrap()
        .sso
        .as_ref()
        .unwrap()
        .device_polls
        .clone();
    assert_eq!(polls.len(), 2);
    // 1 s interval + 5 s after slow_down
    assert!(
        polls[1] - polls[0] >= Duration::from_millis(5900),
        "{:?}",
        polls[1] - polls[0]
    );
}

#[tokio::test]
async fn device_flow_expired_denied_and_refused() {
    let world = device_world().await;
    let realm = sso::discover(&world.emu.url, &config()).await.unwrap();
    // expired: the realm's code lives 0.5 s and nobody confirms it; the realm says `expired_token`
    world
        .emu
        .state
        .lock()
        .unwrap()
        .sso
        .as_mut()
        .unwrap()
        .device_lifetime = Duration::from_millis(500);
    let device = DeviceSignIn::start(&realm, &sso_options(None, 30))
        .await
        .unwrap();
    let err = device.finish().await.unwrap_err();
    let log = world.emu.log();
    assert!(
        log.iter()
            .any(|e| e.path.ends_with("/openid-connect/token") && e.status == 400)
    );
    assert_sentence(
        &world,
        &Seen::default(),
        &err,
        "The sign-in code expired before it was confirmed; start the sign-in again.",
    );
    // denied on the other device
    world
        .emu
        .state
        .lock()
        .unwrap()
        .sso
        .as_mut()
        .unwrap()
        .device_lifetime = Duration::from_secs(60);
    let device = DeviceSignIn::start(&realm, &sso_options(None, 30))
        .await
        .unwrap();
    let (_, page) = confirm_on_other_device(
        device.verification_uri_complete().unwrap().to_string(),
        false,
    )
    .await;
    assert!(page.contains("Consent denied."), "{page}");
    let err = device.finish().await.unwrap_err();
    assert_sentence(
        &world,
        &Seen::default(),
        &err,
        "The sign-in was canceled or denied on the other device; if you did not cancel it, an administrator \
         must give your account access to the client \"repo-service-cli\" in Keycloak, or set another client id \
         with the SSO client id in Preferences.",
    );
    // a client without the device grant
    let err = DeviceSignIn::start(&realm, &sso_options(Some(SERVICE_CLIENT), 30))
        .await
        .unwrap_err();
    assert_sentence(
        &world,
        &Seen::default(),
        &err,
        "The identity provider does not let the client \"repo-service-sync\" sign in with a code on another \
         device: an administrator must enable the OAuth 2.0 Device Authorization Grant for this client in \
         Keycloak, or set the client meant for conda-connect with the SSO client id in \
         Preferences.",
    );
    // a realm without the device flow
    world
        .emu
        .state
        .lock()
        .unwrap()
        .sso
        .as_mut()
        .unwrap()
        .device_flow = false;
    let realm = sso::discover(&world.emu.url, &config()).await.unwrap();
    assert!(realm.endpoints.device_authorization.is_none());
    let err = DeviceSignIn::start(&realm, &sso_options(None, 30))
        .await
        .unwrap_err();
    assert_sentence(
        &world,
        &Seen::default(),
        &err,
        "The server's identity provider does not offer sign-in with a code on another device; sign in with a \
         browser instead.",
    );
    assert!(world.emu.state.lock().unwrap().sessions.is_empty());
}

#[tokio::test]
async fn sign_out_through_the_end_session_endpoint() {
    let world = sso_world().await;
    let (open, _) = browser(Act::SignIn);
    let tokens = sso::sign_in(&world.emu.url, &config(), &sso_options(None, 30), open)
        .await
        .unwrap();
    // a realm that offers no revocation endpoint: Keycloak's end-session endpoint is used
    let base = format!("{}/auth/realms/conda", world.emu.url);
    let doc = serde_json::json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/protocol/openid-connect/auth"),
        "token_endpoint": format!("{base}/protocol/openid-connect/token"),
        "end_session_endpoint": format!("{base}/protocol/openid-connect/logout"),
    });
    world.fault(
        "/auth/realms/conda/.well-known",
        None,
        FaultKind::Body {
            status: 200,
            content_type: "application/json".into(),
            body: doc.to_string(),
        },
    );
    let realm = sso::discover(&world.emu.url, &config()).await.unwrap();
    assert!(realm.endpoints.revocation.is_none());
    let refresh = tokens.refresh_token.clone().unwrap();
    assert!(
        sso::end_session(&realm, CLI_CLIENT, &refresh)
            .await
            .unwrap()
    );
    assert!(
        world
            .emu
            .log()
            .iter()
            .any(|e| e.path.ends_with("/openid-connect/logout") && e.status == 204)
    );
    let client = ServerClient::new(&world.emu.url, &config()).unwrap();
    assert!(matches!(
        client.account(Auth::Jwt(&tokens.token)).await,
        Err(Error::Unauthorized { .. })
    ));
    // ending it again is not an error: the session is gone either way
    assert!(
        sso::end_session(&realm, CLI_CLIENT, &refresh)
            .await
            .unwrap()
    );
}

/// An HTTPS front on another loopback address (another host to the client), with a self-signed certificate.
async fn https_front_on(ip: &str, backend: std::net::SocketAddr) -> Option<String> {
    let acceptor = conda_connect::emulator::tls::self_signed_acceptor();
    let listener = tokio::net::TcpListener::bind((ip, 0)).await.ok()?;
    let addr = listener.local_addr().ok()?;
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut plain) = tokio::net::TcpStream::connect(backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    Some(format!("https://{addr}"))
}

#[tokio::test]
async fn trusting_the_server_does_not_trust_another_realm_host() {
    let world = sso_world().await;
    let front = self_signed_https_front(world.emu.addr).await;
    let Some(other) = https_front_on("127.0.0.2", world.emu.addr).await else {
        eprintln!("127.0.0.2 is not available here; skipping");
        return;
    };
    world.fault(
        "/api/auth/authorize",
        None,
        FaultKind::Redirect {
            location: format!(
                "{other}/auth/realms/conda/protocol/openid-connect/auth?client_id={CLI_CLIENT}"
            ),
        },
    );
    let pinned = world
        .engine()
        .server_certificate(&front)
        .await
        .unwrap()
        .sha256;
    let trusted = ClientConfig {
        pinned: Some(pinned),
        ..config()
    };
    // the server's own certificate is trusted (the redirect was read), the realm host's is checked — and the
    // sentence names the identity provider, not the server
    let err = sso::discover(&front, &trusted)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("The identity provider's certificate at 127.0.0.2:"),
        "{err}"
    );
    assert!(
        world
            .emu
            .log()
            .iter()
            .any(|e| e.path == "/api/auth/authorize")
    );
    assert!(
        !world
            .emu
            .log()
            .iter()
            .any(|e| e.path.contains(".well-known"))
    );
}

/// The SSO sign-in feeds the same transaction as the password: `.condarc`, ini, token files, channels, rollback.
#[tokio::test]
async fn an_sso_sign_in_is_the_same_transaction_as_a_password_sign_in() {
    use conda_connect::engine::session::{CondarcRestore, Selection, SignIn, SsoMethod};
    let world = sso_world().await;
    world.write_condarc(USER_CONDARC);
    world.set_domain().await;
    let before = world.user_files();
    let drive = |seen: Arc<Mutex<Seen>>| {
        move |line: String| {
            let url = line.rsplit(' ').next().unwrap_or_default().to_string();
            tokio::spawn(browse(url, Act::SignIn, seen));
        }
    };
    // a local failure after the token exists (an anchor on `channels`): nothing remains, the token is revoked
    world.write_condarc("channels: &c [a]\nmirror_of_channels: *c\n");
    let anchored = world.user_files();
    let err = world
        .engine()
        .login_sso(
            &sso_options(None, 30),
            SsoMethod::Browser { open: false },
            &SignIn::default(),
            drive(Arc::new(Mutex::new(Seen::default()))),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidCondarc { .. }), "{err:?}");
    assert_same_files(
        &world.user_files(),
        &anchored,
        "a failed SSO sign-in leaves nothing",
    );
    assert!(world.emu.tokens().is_empty(), "its token was revoked");
    // the real thing, with channels in the same transaction
    world.write_condarc(USER_CONDARC);
    let selection = Selection {
        default_channels: vec!["main".into()],
        channels: vec!["internal".into()],
    };
    let outcome = world
        .engine()
        .login_sso(
            &sso_options(None, 30),
            SsoMethod::Browser { open: false },
            &SignIn {
                selection: Some(selection.clone()),
                ..SignIn::default()
            },
            drive(Arc::new(Mutex::new(Seen::default()))),
        )
        .await
        .unwrap();
    assert_eq!(outcome.username, DEMO_USER);
    assert_eq!(outcome.applied, Some(selection));
    let status = world.engine().status().unwrap();
    assert!(status.logged_in);
    assert_eq!(status.auth.as_deref(), Some("sso"));
    assert_eq!(status.default_channels, vec!["main".to_string()]);
    assert_eq!(world.emu.tokens().len(), 1);
    assert_eq!(world.token_files().len(), if cfg!(windows) { 4 } else { 6 });
    let out = world.engine().logout().await.unwrap();
    assert_eq!(out.condarc, CondarcRestore::Exact);
    assert_same_files(&world.user_files(), &before, "signed out: files as before");
    assert!(world.emu.tokens().is_empty());
    let realm_sessions = world
        .emu
        .state
        .lock()
        .unwrap()
        .sso
        .as_ref()
        .unwrap()
        .sessions
        .len();
    assert_eq!(
        realm_sessions, 0,
        "the identity provider's session was ended too"
    );
}

#[tokio::test]
async fn sso_command_line_options_are_checked_before_anything_happens() {
    let world = sso_world().await;
    world.set_domain().await;
    for args in [
        vec!["login", "--sso", "--username", "alice"],
        vec!["login", "--sso", "--password-stdin"],
        vec!["login", "--no-browser"],
        vec!["login", "--sso", "--device", "--no-browser"],
        vec!["login", "--sso-client-id", "x"],
        vec!["login", "--sso", "--sso-client-id", "conda cli"],
        vec!["login", "--sso", "--sso-client-id", "conda\u{7}cli"],
        vec!["login", "--sso", "--sso-client-id", " "],
    ] {
        let out = cli(world.home.path(), &args, Some("alice-password\n"), &[]).await;
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            output_text(&out)
        );
    }
    assert_eq!(world.emu.tokens().len(), 0);
    assert!(!world.ini().unwrap_or_default().contains("sso_client_id"));
}
