//! Token management against the emulator: create (scopes, expiry), list, regenerate (the sign-in token updates
//! conda's files in one transaction), revoke, renew.

use conda_connect::engine::Error;
use conda_connect::engine::journal::CrashPoint;
use conda_connect::engine::tokens::{Expiry, MAX_DAYS, today};

use crate::common::*;

fn date(days: i64) -> String {
    (today() + chrono::Duration::days(days))
        .format("%Y-%m-%d")
        .to_string()
}

/// Status of a repodata request made with `token` in the URL, as conda makes it.
async fn repo_status(world: &World, token: &str) -> u16 {
    let url = format!(
        "{}/api/repo/t/{token}/internal/noarch/repodata.json",
        world.emu.url
    );
    reqwest::get(url).await.unwrap().status().as_u16()
}

#[tokio::test]
async fn create_validates_scopes_and_expiry() {
    let world = World::new().await;
    world.set_domain().await;
    let sign_in = world.login().await;
    let engine = world.engine();
    let scopes = vec!["channel:view".to_string(), "artifact:download".to_string()];
    assert_eq!(
        engine
            .create_token("ci", &["channel:fly".to_string()], None)
            .await
            .unwrap_err(),
        Error::UnknownScope {
            name: "channel:fly".into()
        }
    );
    let too_late = date(MAX_DAYS + 1);
    assert_eq!(
        engine
            .create_token("ci", &scopes, Some(&too_late))
            .await
            .unwrap_err(),
        Error::InvalidExpiry { value: too_late }
    );
    assert!(matches!(
        engine.create_token("ci", &scopes, Some(&date(0))).await,
        Err(Error::InvalidExpiry { .. })
    ));
    assert!(matches!(
        engine.create_token(" ", &scopes, None).await,
        Err(Error::Refused { .. })
    ));
    assert_eq!(
        world.emu.tokens().len(),
        1,
        "nothing created by refused requests"
    );

    let created = engine
        .create_token("ci", &scopes, Some(&date(90)))
        .await
        .unwrap();
    let on_server = world
        .emu
        .tokens()
        .into_iter()
        .find(|t| t.id == created.id)
        .unwrap();
    assert_eq!(on_server.scopes, scopes);
    assert_eq!(on_server.expires_at, Some(date(90)));
    assert_eq!(on_server.token, created.token);
    let default_expiry = engine
        .create_token("one-year", &scopes, None)
        .await
        .unwrap();
    assert_eq!(
        world
            .emu
            .tokens()
            .into_iter()
            .find(|t| t.id == default_expiry.id)
            .unwrap()
            .expires_at,
        Some(date(MAX_DAYS))
    );

    let list = engine.tokens().await.unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(
        list.iter()
            .filter(|t| t.sign_in_token)
            .map(|t| t.id.clone())
            .collect::<Vec<_>>(),
        vec![sign_in.token_id]
    );
    assert_eq!(
        list.iter().find(|t| t.id == created.id).unwrap().expiry,
        Expiry::Later(90)
    );
    assert!(
        engine
            .token_scopes()
            .await
            .unwrap()
            .contains(&"subchannel:view".to_string())
    );
}

#[tokio::test]
async fn revoke_and_refusing_the_sign_in_token() {
    let world = World::new().await;
    world.set_domain().await;
    let sign_in = world.login().await;
    let engine = world.engine();
    let created = engine
        .create_token("laptop", &["artifact:download".into()], None)
        .await
        .unwrap();
    assert_eq!(repo_status(&world, &created.token).await, 200);
    engine.revoke_token(&created.id).await.unwrap();
    assert_eq!(
        repo_status(&world, &created.token).await,
        401,
        "a revoked token loses access"
    );
    assert!(
        matches!(
            engine.revoke_token(&created.id).await,
            Err(Error::Refused { .. })
        ),
        "already gone"
    );
    let err = engine.revoke_token(&sign_in.token_id).await.unwrap_err();
    assert!(err.to_string().contains("Sign out instead"), "{err}");
    assert_eq!(world.emu.tokens().len(), 1, "the sign-in token stays");
}

#[tokio::test]
async fn regenerating_the_sign_in_token_updates_conda_files() {
    let world = World::new().await;
    world.set_domain().await;
    let sign_in = world.login().await;
    let old = world.emu.tokens()[0].token.clone();
    let new = world
        .engine()
        .regenerate_token(&sign_in.token_id)
        .await
        .unwrap();
    assert_ne!(new, old);
    assert_eq!(world.emu.tokens()[0].token, new);
    for file in world.token_files() {
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            new,
            "{}",
            file.display()
        );
    }
    assert!(
        world
            .ini()
            .unwrap()
            .contains(&format!("anaconda_server_token = '{new}'"))
    );
    assert_eq!(world.engine().access_token().unwrap().unwrap().1, new);
    assert_eq!(repo_status(&world, &old).await, 401);
    assert_eq!(repo_status(&world, &new).await, 200);
    // another token: a new value, conda's files untouched
    let other = world
        .engine()
        .create_token("other", &["artifact:download".into()], None)
        .await
        .unwrap();
    let other_new = world.engine().regenerate_token(&other.id).await.unwrap();
    assert_ne!(other_new, other.token);
    for file in world.token_files() {
        assert_eq!(std::fs::read_to_string(&file).unwrap(), new);
    }
    world.engine().logout().await.unwrap();
    assert_eq!(
        world.emu.tokens().len(),
        1,
        "sign-out revokes the regenerated sign-in token"
    );
}

#[tokio::test]
async fn crash_during_sign_in_token_regeneration_is_completed() {
    let mut tried = 0;
    for step in 1..=12 {
        let world = World::new().await;
        world.set_domain().await;
        let sign_in = world.login().await;
        let mut crashing = world.engine();
        crashing.crash = Some(CrashPoint::at(step));
        match crashing.regenerate_token(&sign_in.token_id).await {
            Ok(_) => break,
            Err(Error::SimulatedCrash { .. }) => tried += 1,
            Err(error) => panic!("step {step}: {error:?}"),
        }
        world.engine().recover().await.unwrap();
        let server = world.emu.tokens()[0].token.clone();
        for file in world.token_files() {
            assert_eq!(
                std::fs::read_to_string(&file).unwrap(),
                server,
                "step {step}: {}",
                file.display()
            );
        }
        assert_eq!(repo_status(&world, &server).await, 200);
    }
    assert!(tried >= 6, "{tried}");
}

#[tokio::test]
async fn expiry_warning_and_renewal() {
    let world = World::new().await;
    world.set_domain().await;
    let sign_in = world.login().await;
    let engine = world.engine();
    assert_eq!(
        engine.sign_in_token_expiry().await.unwrap(),
        Expiry::Later(MAX_DAYS)
    );
    world.emu.state.lock().unwrap().tokens[0].expires_at = Some(date(10));
    assert_eq!(
        engine.sign_in_token_expiry().await.unwrap(),
        Expiry::Soon(10)
    );
    world.emu.state.lock().unwrap().tokens[0].expires_at = Some(date(-1));
    assert_eq!(
        engine.sign_in_token_expiry().await.unwrap(),
        Expiry::Expired,
        "an expired token is found in the list"
    );
    let value = world.emu.tokens()[0].token.clone();
    assert_eq!(engine.renew_sign_in_token().await.unwrap(), date(MAX_DAYS));
    let token = &world.emu.tokens()[0];
    assert_eq!(
        (
            token.id.as_str(),
            token.token.as_str(),
            token.expires_at.clone()
        ),
        (
            sign_in.token_id.as_str(),
            value.as_str(),
            Some(date(MAX_DAYS))
        )
    );
    assert_eq!(
        engine.sign_in_token_expiry().await.unwrap(),
        Expiry::Later(MAX_DAYS)
    );
}
