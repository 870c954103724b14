//! The session lifecycle: a session JWT lapses within minutes while the server token lives a year, so sign-out,
//! token management and later retries renew the session first (SSO and password sign-ins on a realm), a session
//! that cannot be renewed is said plainly and finished with `logout --finish`, and the identity provider's session
//! ends only after the server token is revoked. Each test runs against an emulator whose sessions live seconds.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use conda_connect::emulator::{DEMO_PASSWORD, DEMO_USER, EmulatorConfig, FaultKind};
use conda_connect::engine::Engine;
use conda_connect::engine::session::{SignIn, SsoMethod};

use crate::common::*;
use crate::sso::{Act, Seen, browse};

const LIFETIME: Duration = Duration::from_secs(3);

async fn world(sso: bool) -> World {
    let world = World::with_config(EmulatorConfig {
        sso,
        session_lifetime: Some(LIFETIME),
        ..sso_emulator()
    })
    .await;
    world.set_domain().await;
    world
}

/// `show` for the engine's single sign-on: a test browser signs in at the address it is given.
fn drive() -> impl FnOnce(String) + Send {
    move |line: String| {
        let url = line.rsplit(' ').next().unwrap_or_default().to_string();
        tokio::spawn(browse(
            url,
            Act::SignIn,
            Arc::new(Mutex::new(Seen::default())),
        ));
    }
}

async fn sso_login(engine: &Engine) {
    sso_attempt(engine).await.unwrap();
}

/// A whole single sign-on (a test browser signs in), as it ends.
async fn sso_attempt(
    engine: &Engine,
) -> conda_connect::engine::error::Result<conda_connect::engine::session::LoginOutcome> {
    engine
        .login_sso(
            &sso_options(None, 30),
            SsoMethod::Browser { open: false },
            &SignIn::default(),
            drive(),
        )
        .await
}

/// The identity provider's half of a single sign-on, up to the account question.
async fn sso_authenticated(engine: &Engine) -> conda_connect::engine::session::SsoAuthenticated {
    engine
        .sso_authenticate(
            &sso_options(None, 30),
            SsoMethod::Browser { open: false },
            &SignIn::default(),
            drive(),
        )
        .await
        .unwrap()
}

/// Wait (bounded) until the emulator no longer accepts the session JWTs it issued so far.
async fn until_lapsed() {
    tokio::time::sleep(LIFETIME + Duration::from_millis(1100)).await;
}

fn realm_sessions(world: &World) -> usize {
    world
        .emu
        .state
        .lock()
        .unwrap()
        .sso
        .as_ref()
        .map(|r| r.sessions.len())
        .unwrap_or(0)
}

/// The index in the request log of the first entry matching `path` and `status`.
fn logged_at(world: &World, method: &str, path_part: &str, status: u16) -> Option<usize> {
    world
        .emu
        .log()
        .iter()
        .position(|e| e.method == method && e.path.contains(path_part) && e.status == status)
}

#[tokio::test]
async fn a_lapsed_single_sign_on_is_renewed_to_revoke_and_its_realm_session_ends_after() {
    let world = world(true).await;
    sso_login(&world.engine()).await;
    assert_eq!(world.emu.tokens().len(), 1);
    until_lapsed().await;
    let started = Instant::now();
    let out = world.engine().logout().await.unwrap();
    assert!(out.server_token_revoked, "{out:?}");
    assert!(out.unrevoked.is_none());
    assert!(
        world.emu.tokens().is_empty(),
        "no active token is left on the server"
    );
    assert_eq!(realm_sessions(&world), 0, "the realm session ended");
    let revoked = logged_at(&world, "DELETE", "/api/account/tokens/", 204).expect("revoked");
    let renewed = world
        .emu
        .log()
        .iter()
        .rposition(|e| {
            e.method == "POST" && e.path.ends_with("/openid-connect/token") && e.status == 200
        })
        .expect("renewed");
    let ended = world
        .emu
        .log()
        .iter()
        .rposition(|e| e.method == "POST" && e.path.ends_with("/openid-connect/revoke"))
        .expect("the realm session was ended");
    assert!(renewed < revoked && revoked < ended, "renew → revoke → end");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(world.engine().pending_revocations().unwrap().is_empty());
}

#[tokio::test]
async fn a_password_session_on_a_realm_server_is_renewed_too() {
    let world = world(true).await;
    world.login().await;
    until_lapsed().await;
    // token management renews it first
    let tokens = world.engine().tokens().await.unwrap();
    assert_eq!(tokens.len(), 1);
    until_lapsed().await;
    let out = world.engine().logout().await.unwrap();
    assert!(out.server_token_revoked, "{out:?}");
    assert!(world.emu.tokens().is_empty());
    assert_eq!(
        realm_sessions(&world),
        0,
        "the server's own realm session ended"
    );
}

#[tokio::test]
async fn a_session_that_cannot_be_renewed_is_said_plainly_and_logout_finish_revokes() {
    // no realm: a password session cannot renew itself
    let world = world(false).await;
    world.login().await;
    until_lapsed().await;
    let out = world.engine().logout().await.unwrap();
    assert!(!out.server_token_revoked);
    let unrevoked = out.unrevoked.clone().expect("reported");
    assert!(unrevoked.needs_sign_in, "{unrevoked:?}");
    let sentence = unrevoked.sentence();
    assert!(
        sentence.contains("only a new sign-in can revoke it"),
        "{sentence}"
    );
    assert!(
        sentence.contains("conda-connect logout --finish"),
        "{sentence}"
    );
    assert!(!sentence.contains("retry"), "no retry promised: {sentence}");
    assert_eq!(world.emu.tokens().len(), 1, "still active on the server");
    // it stays visible in status, in the window's words and the command line's
    let status = cli(world.home.path(), &["status", "--json"], None, &[]).await;
    let json: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(json["pending_revocations"][0]["needs_sign_in"], true);
    let text = cli(world.home.path(), &["status"], None, &[]).await;
    assert!(
        output_text(&text).contains("logout --finish"),
        "{}",
        output_text(&text)
    );
    // a later command does not retry it, and does not forget it
    let again = cli(world.home.path(), &["status"], None, &[]).await;
    assert!(
        output_text(&again).contains("Not revoked"),
        "{}",
        output_text(&again)
    );
    // a wrong password changes nothing
    let wrong = cli(
        world.home.path(),
        &[
            "logout",
            "--finish",
            "--username",
            DEMO_USER,
            "--password-stdin",
        ],
        Some("nope\n"),
        &[],
    )
    .await;
    assert_eq!(wrong.status.code(), Some(1), "{}", output_text(&wrong));
    assert_eq!(world.emu.tokens().len(), 1);
    let finish = cli(
        world.home.path(),
        &[
            "logout",
            "--finish",
            "--username",
            DEMO_USER,
            "--password-stdin",
        ],
        Some(&format!("{DEMO_PASSWORD}\n")),
        &[],
    )
    .await;
    assert!(finish.status.success(), "{}", output_text(&finish));
    assert!(
        output_text(&finish).contains("1 token(s) revoked"),
        "{}",
        output_text(&finish)
    );
    assert!(world.emu.tokens().is_empty(), "revoked");
    assert!(world.engine().pending_revocations().unwrap().is_empty());
    // nothing else was created or signed in
    assert!(!world.engine().status().unwrap().logged_in);
    let nothing = cli(
        world.home.path(),
        &[
            "logout",
            "--finish",
            "--username",
            DEMO_USER,
            "--password-stdin",
        ],
        Some(&format!("{DEMO_PASSWORD}\n")),
        &[],
    )
    .await;
    assert!(nothing.status.success());
    assert!(output_text(&nothing).contains("Nothing to finish"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_out_killed_on_a_lapsed_session_never_promises_a_retry() {
    // one lapsed password session per journal step of the sign-out (they lapse together), up to the step the
    // sign-out no longer reaches: before and after its revocation is recorded
    const STEPS: usize = 24;
    let mut worlds = Vec::new();
    for _ in 0..STEPS {
        let world = world(false).await;
        world.login().await;
        worlds.push(world);
    }
    until_lapsed().await;
    let mut completed = 0;
    let mut finished = false;
    for (index, world) in worlds.iter().enumerate() {
        let step = index + 1;
        if !crate::safety::kill_at_step(world, &["logout"], None, step).await {
            finished = true;
            break;
        }
        // the next command that may change the configuration completes the sign-out first, and says what the
        // recorded revocation needs (a kill before anything was journaled leaves the user signed in: the second
        // sign-out then says it itself)
        let next = cli(world.home.path(), &["logout"], None, &[]).await;
        let text = output_text(&next);
        assert!(!text.contains("retried"), "step {step}: {text}");
        assert!(text.contains("logout --finish"), "step {step}: {text}");
        assert!(
            text.contains("only a new sign-in can revoke it"),
            "step {step}: {text}"
        );
        if text.contains("An interrupted sign-out was completed") {
            completed += 1;
        }
        let pending = world.engine().pending_revocations().unwrap();
        assert!(
            pending.len() == 1 && pending[0].needs_sign_in,
            "step {step}: {pending:?}"
        );
        assert_eq!(world.emu.tokens().len(), 1, "step {step}: still active");
    }
    eprintln!(
        "a lapsed session's sign-out: {completed} kill points completed by the next command, with the sentence"
    );
    assert!(
        finished,
        "every step up to {STEPS} was killed: the sign-out has more"
    );
    assert!(
        completed > 0,
        "no kill point fell between the file changes and the revocation"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_sign_out_killed_at_any_step_names_no_other_pending_revocation() {
    // a live session: the sign-out revokes its token; another server's revocation waits for a sign-in meanwhile
    const STEPS: usize = 24;
    let other = serde_json::json!([{
        "domain": "https://other.example",
        "token_id": "other-token-id",
        "last_attempt": 0,
        "needs_sign_in": true
    }]);
    let mut finished = false;
    for step in 1..=STEPS {
        // sessions of an hour: this sign-out can always revoke
        let world = World::with_config(EmulatorConfig {
            bulk_channels: 0,
            ..Default::default()
        })
        .await;
        world.set_domain().await;
        world.login().await;
        std::fs::write(
            world.paths.data_dir.join("pending_revocations.json"),
            other.to_string(),
        )
        .unwrap();
        if !crate::safety::kill_at_step(&world, &["logout"], None, step).await {
            finished = true;
            break;
        }
        let next = cli(world.home.path(), &["logout"], None, &[]).await;
        let text = output_text(&next);
        assert!(!text.contains("other.example"), "step {step}: {text}");
        assert!(
            !text.contains("could not be revoked"),
            "step {step}: {text}"
        );
        assert!(world.emu.tokens().is_empty(), "step {step}: revoked");
        let pending = world.engine().pending_revocations().unwrap();
        assert_eq!(pending.len(), 1, "step {step}: only the other server's");
        assert_eq!(pending[0].domain, "https://other.example");
    }
    assert!(
        finished,
        "every step up to {STEPS} was killed: the sign-out has more"
    );
}

#[tokio::test]
async fn an_ended_realm_session_is_finished_by_a_single_sign_on() {
    let world = world(true).await;
    sso_login(&world.engine()).await;
    // the identity provider ended the session (idle timeout, an administrator): no renewal possible
    world
        .emu
        .state
        .lock()
        .unwrap()
        .sso
        .as_mut()
        .unwrap()
        .sessions
        .clear();
    until_lapsed().await;
    let out = world.engine().logout().await.unwrap();
    assert!(
        out.unrevoked.as_ref().is_some_and(|u| u.needs_sign_in),
        "{out:?}"
    );
    assert_eq!(world.emu.tokens().len(), 1);
    let engine = world.engine();
    let domain = engine.finish_target(None).unwrap().unwrap();
    let done = engine
        .finish_with_sso(
            &domain,
            &sso_options(None, 30),
            SsoMethod::Browser { open: false },
            drive(),
        )
        .await
        .unwrap();
    assert_eq!((done.revoked, done.remaining), (1, 0), "{done:?}");
    assert!(world.emu.tokens().is_empty());
    assert_eq!(realm_sessions(&world), 0, "the short session ended too");
    assert_eq!(world.emu.state.lock().unwrap().tokens.len(), 0);
}

#[tokio::test]
async fn an_unreachable_server_keeps_the_session_and_a_later_retry_renews_it() {
    let world = world(true).await;
    sso_login(&world.engine()).await;
    world.fault(
        "/api/account/tokens",
        Some("DELETE"),
        FaultKind::Status { status: 503 },
    );
    let out = world.engine().logout().await.unwrap();
    let unrevoked = out.unrevoked.clone().expect("reported");
    assert!(!unrevoked.needs_sign_in, "a retry can work: {unrevoked:?}");
    assert!(unrevoked.sentence().contains("retry"));
    assert_eq!(
        realm_sessions(&world),
        1,
        "kept: the retry renews the session with it"
    );
    world.emu.clear_faults();
    until_lapsed().await;
    let mut engine = world.engine();
    engine.revoke_retry_after = Duration::ZERO;
    engine.revoke_budget = Duration::from_secs(10);
    let said = engine.recover().await.unwrap().unwrap_or_default();
    assert!(said.contains("was revoked"), "{said}");
    assert!(world.emu.tokens().is_empty());
    assert!(engine.pending_revocations().unwrap().is_empty());
    assert_eq!(realm_sessions(&world), 0, "ended after the revocation");
}

#[tokio::test]
async fn a_failed_sign_in_ends_the_realm_session_it_opened() {
    let world = world(true).await;
    // the account request fails after the identity provider signed in: no server token, no realm session
    world.fault(
        "/api/account",
        Some("GET"),
        FaultKind::Status { status: 500 },
    );
    let err = sso_attempt(&world.engine()).await.unwrap_err();
    assert!(err.to_string().contains("500"), "{err}");
    assert!(world.emu.tokens().is_empty());
    assert_eq!(realm_sessions(&world), 0);
}

#[tokio::test]
async fn a_sign_in_that_lost_the_race_ends_its_realm_session() {
    let world = world(true).await;
    let engine = world.engine();
    let authenticated = sso_authenticated(&engine).await;
    assert_eq!(authenticated.account(), DEMO_USER);
    // meanwhile another process signed in
    world.login().await;
    let sessions_before = realm_sessions(&world);
    let err = engine.sso_complete(authenticated).await.unwrap_err();
    assert!(err.to_string().contains("Already signed in"), "{err}");
    assert_eq!(
        realm_sessions(&world),
        sessions_before - 1,
        "the losing sign-in's session ended"
    );
    assert_eq!(world.emu.tokens().len(), 1, "only the winner's token");
}

/// The realm (the emulator's, named `conda`) still signs people in but cannot end a session: its revocation and
/// end-session endpoints answer 503.
fn realm_cannot_end_sessions(world: &World) {
    for tail in ["revoke", "logout"] {
        world.fault(
            &format!("/auth/realms/conda/protocol/openid-connect/{tail}"),
            Some("POST"),
            FaultKind::Status { status: 503 },
        );
    }
}

const UNENDED: &str = "The identity provider's session could not be ended (";

#[tokio::test]
async fn a_realm_session_that_cannot_be_ended_is_said_in_every_failed_sign_in() {
    // a lost race: the losing sign-in's error says both things
    let racing = world(true).await;
    let engine = racing.engine();
    let authenticated = sso_authenticated(&engine).await;
    racing.login().await;
    realm_cannot_end_sessions(&racing);
    let sessions_before = realm_sessions(&racing);
    let err = engine.sso_complete(authenticated).await.unwrap_err();
    let said = err.to_string();
    assert!(said.starts_with("Already signed in"), "{said}");
    assert!(
        said.ends_with(
            "The identity provider's session could not be ended (the identity provider answered 503); it ends \
             by itself when it expires."
        ),
        "{said}"
    );
    assert_eq!(
        realm_sessions(&racing),
        sessions_before,
        "still open, and said"
    );
    assert_eq!(racing.emu.tokens().len(), 1, "only the winner's token");

    // a sign-in declined at the account question
    let declined = world(true).await;
    realm_cannot_end_sessions(&declined);
    let authenticated = sso_authenticated(&declined.engine()).await;
    let said = declined.engine().sso_abandon(authenticated).await;
    assert!(
        said.as_deref().is_some_and(|s| s.starts_with(UNENDED)),
        "{said:?}"
    );

    // a failure before any server token (the account request)
    let no_account = world(true).await;
    realm_cannot_end_sessions(&no_account);
    no_account.fault(
        "/api/account",
        Some("GET"),
        FaultKind::Status { status: 500 },
    );
    let err = sso_attempt(&no_account.engine()).await.unwrap_err();
    let said = err.to_string();
    assert!(said.contains("500") && said.contains(UNENDED), "{said}");
    assert!(no_account.emu.tokens().is_empty());

    // a local failure after the server token exists (an anchor on `channels`): the token is revoked, and the
    // session that could not be ended is said
    let anchored = world(true).await;
    anchored.write_condarc("channels: &c [a]\nmirror_of_channels: *c\n");
    realm_cannot_end_sessions(&anchored);
    let err = sso_attempt(&anchored.engine()).await.unwrap_err();
    let said = err.to_string();
    assert!(
        said.contains("is not valid YAML") && said.contains(UNENDED),
        "{said}"
    );
    assert!(anchored.emu.tokens().is_empty(), "its token was revoked");
    assert_eq!(realm_sessions(&anchored), 1, "the session the realm kept");
    assert!(!anchored.engine().status().unwrap().logged_in);

    // logout --finish by password, whose account request fails: its short session's fate is said too
    let finishing = world(true).await;
    realm_cannot_end_sessions(&finishing);
    finishing.fault(
        "/api/account",
        Some("GET"),
        FaultKind::Status { status: 500 },
    );
    let err = finishing
        .engine()
        .finish_with_password(&finishing.emu.url, DEMO_USER, DEMO_PASSWORD)
        .await
        .unwrap_err();
    let said = err.to_string();
    assert!(said.contains("500") && said.contains(UNENDED), "{said}");
}

#[tokio::test]
async fn a_password_sign_in_does_not_hold_the_lock_while_the_server_checks_the_password() {
    let world = world(false).await;
    world.emu.inject(conda_connect::emulator::Fault {
        path_prefix: "/api/auth/login".into(),
        method: None,
        kind: FaultKind::Delay { ms: 1500 },
        times: Some(1),
    });
    let slow = tokio::spawn({
        let engine = world.engine();
        async move { engine.login(DEMO_USER, DEMO_PASSWORD).await }
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    let mut other = world.engine();
    other.lock_wait = Duration::from_millis(200);
    other
        .recover()
        .await
        .expect("the lock is free while the password is checked");
    // the slow attempt got the injected 503; nothing happened locally
    assert!(slow.await.unwrap().is_err());
    assert!(!world.engine().status().unwrap().logged_in);
}
