//! A disk that keeps failing: every durable file operation of the real binary fails from the N-th on
//! (`CONDA_CONNECT_FAIL_IO_FROM=N`, a debug-build test hook), for every N of a sign-in and of a sign-out. Each run
//! must end complete or undone once the disk works again (the next command finishes what the journal holds),
//! and the ini must never say "signed in" with a token the server no longer accepts.

use conda_connect::emulator::{DEMO_PASSWORD, DEMO_USER, EmulatorConfig};

use crate::common::*;

const LOGIN: [&str; 6] = [
    "login",
    "--username",
    DEMO_USER,
    "--password-stdin",
    "--default-channel",
    "main",
];

/// The token the ini names as signed in, if any.
fn ini_token(world: &World) -> Option<String> {
    let ini = world.ini()?;
    ini.lines()
        .find_map(|l| l.strip_prefix("anaconda_server_token = "))
        .map(|v| v.trim().trim_matches('\'').to_string())
        .filter(|v| v != "None")
}

/// The invariant after any run: the ini names no token the server has dropped, and the session record exists
/// exactly when conda-connect is signed in with a live token.
fn assert_consistent(world: &World, what: &str) {
    let live: Vec<String> = world.emu.tokens().into_iter().map(|t| t.token).collect();
    if let Some(token) = ini_token(world) {
        assert!(
            live.contains(&token),
            "{what}: the ini says signed in with a token the server does not accept"
        );
    }
    // while a journal waits for the next command, the server token it names may still be live
    if !world.paths.journal_file().exists() {
        let signed_in = world.paths.session_file().exists();
        assert_eq!(
            signed_in,
            !live.is_empty(),
            "{what}: a session record exactly when a token is live"
        );
    }
}

async fn run(world: &World, args: &[&str], stdin: Option<&str>, fail_from: Option<usize>) -> bool {
    let env: Vec<(&str, String)> = fail_from
        .map(|n| vec![("CONDA_CONNECT_FAIL_IO_FROM", n.to_string())])
        .unwrap_or_default();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    cli(world.home.path(), args, stdin, &env)
        .await
        .status
        .success()
}

async fn prepared() -> (World, Vec<(std::path::PathBuf, Vec<u8>)>) {
    let world = World::with_config(EmulatorConfig {
        bulk_channels: 0,
        ..Default::default()
    })
    .await;
    world.write_condarc(USER_CONDARC);
    world.set_domain().await;
    let before = world.user_files();
    (world, before)
}

#[cfg_attr(windows, ignore = "slow under Wine; the same code paths run on Linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_disk_leaves_sign_in_complete_or_undone_at_every_operation() {
    let password = format!("{DEMO_PASSWORD}\n");
    let mut completed = 0;
    let mut undone = 0;
    for n in 1..=400 {
        let (world, before) = prepared().await;
        let succeeded = run(&world, &LOGIN, Some(&password), Some(n)).await;
        assert_consistent(&world, &format!("sign-in failing from I/O {n}"));
        // the disk works again: the next command finishes whatever is journaled
        assert!(
            run(&world, &["status"], None, None).await,
            "status after failure {n}"
        );
        assert!(
            !world.paths.journal_file().exists(),
            "failure {n}: the journal was finished"
        );
        assert_consistent(&world, &format!("after recovery of failure {n}"));
        if world.paths.session_file().exists() {
            completed += 1;
        } else {
            undone += 1;
            assert_same_files(
                &world.user_files(),
                &before,
                &format!("failure {n}: undone means the files from before"),
            );
            assert!(world.token_files().is_empty(), "failure {n}: no token file");
        }
        if succeeded {
            eprintln!("sign-in: {n} runs, {completed} completed, {undone} undone");
            assert!(completed > 0 && undone > 0, "both outcomes were seen");
            assert!(n > 20, "every operation of the sign-in was failed once");
            return;
        }
    }
    panic!("the sign-in never got past the injected failures");
}

#[cfg_attr(windows, ignore = "slow under Wine; the same code paths run on Linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_disk_leaves_sign_out_complete_or_undone_at_every_operation() {
    let password = format!("{DEMO_PASSWORD}\n");
    for n in 1..=400 {
        let (world, before) = prepared().await;
        assert!(run(&world, &LOGIN, Some(&password), None).await);
        let signed_in = world.user_files();
        let succeeded = run(&world, &["logout"], None, Some(n)).await;
        assert_consistent(&world, &format!("sign-out failing from I/O {n}"));
        assert!(run(&world, &["status"], None, None).await);
        assert!(
            !world.paths.journal_file().exists(),
            "failure {n}: journal finished"
        );
        assert_consistent(&world, &format!("after recovery of failure {n}"));
        if world.paths.session_file().exists() {
            // undone: still signed in, exactly as before the sign-out
            assert_same_files(
                &world.user_files(),
                &signed_in,
                &format!("failure {n}: still signed in as before"),
            );
            assert!(run(&world, &["logout"], None, None).await);
        }
        assert_same_files(
            &world.user_files(),
            &before,
            &format!("failure {n}: signed out, files as before sign-in"),
        );
        assert!(world.emu.tokens().is_empty(), "failure {n}: token revoked");
        if succeeded {
            eprintln!("sign-out: {n} runs");
            assert!(n > 10, "every operation of the sign-out was failed once");
            return;
        }
    }
    panic!("the sign-out never got past the injected failures");
}
