//! The command line: a thin front over the engine. Exit 0 on success, 1 on failure with one line on stderr,
//! 2 on usage errors; never prompts. The detail of every failure goes to the log file
//! (`<data dir>/conda-connect.log`; `CONDA_CONNECT_LOG=debug` also prints it to stderr).

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// `println!` that ignores a closed pipe (`conda-connect channels | head`).
macro_rules! out {
    ($($t:tt)*) => {{
        use std::io::Write;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

use crate::emulator::{DEMO_PASSWORD, DEMO_USER, Emulator, EmulatorConfig};
use crate::engine::client::SIGN_IN_SCOPES;
use crate::engine::error::{Error, Result};
use crate::engine::secrets::{SecretStore, SecretsMode};
use crate::engine::session::CondarcRestore;
use crate::engine::tokens::Expiry;
use crate::engine::{Engine, paths::Paths};

#[derive(Parser, Debug)]
#[command(
    name = "conda-connect",
    version,
    about = "Connect conda to an Anaconda Server (Package Security Manager on-prem)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Start the built-in emulator on 127.0.0.1 and open the app with its domain preset (in an isolated HOME).
    Demo,
    /// Run only the emulator; print its URL and demo credentials; serve until killed.
    Emulator {
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Serve real package files from DIR/<channel>/<subdir>/<file>.
        #[arg(long)]
        packages_dir: Option<PathBuf>,
        /// Serve HTTPS with a self-signed certificate (to try "Trust Server and Continue").
        #[arg(long)]
        tls: bool,
    },
    /// Validate and store the Anaconda Server domain.
    SetDomain {
        url: String,
        /// Trust this server even though its certificate cannot be verified.
        #[arg(long)]
        trust_server: bool,
    },
    /// Sign in (password on standard input) and configure conda.
    Login {
        #[arg(long)]
        username: String,
        #[arg(long)]
        password_stdin: bool,
        #[arg(long)]
        domain: Option<String>,
        #[arg(long)]
        trust_server: bool,
        #[arg(long = "default-channel")]
        default_channels: Vec<String>,
        #[arg(long = "channel")]
        channels: Vec<String>,
        #[arg(long)]
        skip_channels: bool,
    },
    /// List the server's channels.
    Channels {
        #[arg(long)]
        json: bool,
        /// Every channel the server shows ("Show hidden Anaconda Server channels").
        #[arg(long)]
        all: bool,
    },
    /// Set default_channels and channels (Add Channels).
    SelectChannels {
        #[arg(long = "default-channel", required = true)]
        default_channels: Vec<String>,
        #[arg(long = "channel")]
        channels: Vec<String>,
    },
    /// Revoke the server token and restore conda's configuration.
    Logout,
    /// Show the sign-in and conda channel configuration.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Fetch repodata for every configured channel.
    UpdateIndex {
        #[arg(long)]
        json: bool,
    },
    /// Manage access tokens.
    #[command(subcommand)]
    Tokens(TokensCommand),
}

#[derive(Subcommand, Debug)]
pub enum TokensCommand {
    List {
        #[arg(long)]
        json: bool,
    },
    Create {
        #[arg(long)]
        name: String,
        #[arg(long = "scope")]
        scopes: Vec<String>,
        #[arg(long)]
        expires: Option<String>,
    },
    /// List the scopes the server lets you grant.
    Scopes,
    Regenerate {
        id: String,
    },
    Revoke {
        id: String,
    },
    /// Extend conda's sign-in token to one year from today (same value).
    Renew,
}

/// Entry point of the binary; returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    let paths = Paths::from_env();
    init_logging(&paths);
    // The window needs the main thread (and runs its own async runtime).
    match cli.command {
        None => return exit_code(open_app(paths)),
        Some(Command::Demo) => return exit_code(run_demo()),
        _ => {}
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    exit_code(runtime.block_on(run(cli, paths)))
}

fn exit_code(result: Result<()>) -> i32 {
    match result {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!(error = ?e, "command failed");
            eprintln!("conda-connect: {e}");
            1
        }
    }
}

/// The desktop app on the user's own configuration.
fn open_app(paths: Paths) -> Result<()> {
    let engine = engine(paths);
    crate::gui::run(crate::gui::Config {
        engine,
        preset_domain: None,
        login_hint: None,
        note: None,
    })
}

/// The desktop app against the built-in emulator, in an isolated HOME (a temporary directory, or
/// `CONDA_CONNECT_DEMO_HOME`), so that the demo never points the user's real conda at a throwaway server.
fn run_demo() -> Result<()> {
    let temp;
    let home = match std::env::var_os("CONDA_CONNECT_DEMO_HOME") {
        Some(dir) => PathBuf::from(dir),
        None => {
            temp = tempfile::Builder::new()
                .prefix("conda-connect-demo-")
                .tempdir()
                .map_err(|e| Error::io(&std::env::temp_dir(), &e))?;
            temp.path().to_path_buf()
        }
    };
    crate::engine::files::create_private_dir(&home)?;
    let port: u16 = std::env::var("CONDA_CONNECT_DEMO_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            match Emulator::start(EmulatorConfig {
                port,
                ..Default::default()
            })
            .await
            {
                Ok(emu) => {
                    let _ = tx.send(Ok(emu.url.clone()));
                    std::future::pending::<()>().await;
                }
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                }
            }
        });
    });
    let url = rx
        .recv()
        .map_err(|_| Error::Refused {
            reason: "The emulator did not start.".into(),
        })?
        .map_err(|e| Error::Refused {
            reason: format!("The emulator could not listen on 127.0.0.1: {e}."),
        })?;
    eprintln!(
        "conda-connect demo: emulator at {url}; sign in as {DEMO_USER} / {DEMO_PASSWORD}; files in {}",
        home.display()
    );
    let paths = Paths::under_home(&home);
    let mut engine = Engine::new(paths.clone(), SecretStore::open(&paths, SecretsMode::File));
    engine.lock_wait = std::time::Duration::from_secs(10);
    crate::gui::run(crate::gui::Config {
        engine,
        preset_domain: Some(url),
        login_hint: Some(format!(
            "Demo server: sign in as {DEMO_USER} / {DEMO_PASSWORD}"
        )),
        note: Some(format!(
            "Demo mode: a built-in Anaconda Server emulator; your real configuration is untouched (files in {}).",
            home.display()
        )),
    })
}

fn init_logging(paths: &Paths) {
    use tracing_subscriber::EnvFilter;
    let to_stderr = std::env::var("CONDA_CONNECT_LOG").ok();
    let filter = EnvFilter::new(
        to_stderr
            .clone()
            .unwrap_or_else(|| "conda_connect=info".into()),
    );
    if to_stderr.is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .try_init();
        return;
    }
    if crate::engine::files::create_private_dir(&paths.data_dir).is_err() {
        return;
    }
    let log = paths.data_dir.join("conda-connect.log");
    if let Ok(file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
    {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(false)
            .with_writer(std::sync::Mutex::new(file))
            .try_init();
    }
}

fn engine(paths: Paths) -> Engine {
    let secrets = SecretStore::open(&paths, SecretsMode::from_env());
    let mut engine = Engine::new(paths, secrets);
    if let Some(ms) = std::env::var("CONDA_CONNECT_LOCK_WAIT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        engine.lock_wait = std::time::Duration::from_millis(ms);
    }
    let crash = crate::engine::journal::CrashPoint::from_env();
    if crash.at.is_some() {
        engine.crash = Some(crash);
    }
    engine
}

async fn run(cli: Cli, paths: Paths) -> Result<()> {
    let Some(command) = cli.command else {
        return Ok(());
    };
    if let Command::Emulator {
        port,
        packages_dir,
        tls,
    } = command
    {
        return run_emulator(port, packages_dir, tls).await;
    }
    let engine = engine(paths);
    if let Some(msg) = engine.recover().await? {
        eprintln!("conda-connect: {msg}");
    }
    match command {
        Command::Demo | Command::Emulator { .. } => unreachable!(),
        Command::SetDomain { url, trust_server } => {
            let domain = engine.set_domain(&url, trust_server).await?;
            out!("Anaconda Server domain set to {domain}");
            if let Some(w) = crate::engine::domain::plain_http_warning(&domain) {
                eprintln!("conda-connect: warning: {w}");
            }
        }
        Command::Login {
            username,
            password_stdin,
            domain,
            trust_server,
            default_channels,
            channels,
            skip_channels,
        } => {
            if !password_stdin {
                return Err(Error::Refused {
                    reason: "Pass the password on standard input with --password-stdin.".into(),
                });
            }
            let password = read_password()?;
            if let Some(d) = domain {
                let domain = engine.set_domain(&d, trust_server).await?;
                if let Some(w) = crate::engine::domain::plain_http_warning(&domain) {
                    eprintln!("conda-connect: warning: {w}");
                }
            }
            let outcome = engine.login(&username, &password).await?;
            if let Some(w) = &engine.secrets.warning {
                eprintln!("conda-connect: {w}");
            }
            out!(
                "Connected to Anaconda Server {} as {}",
                outcome.domain,
                outcome.username
            );
            if !default_channels.is_empty() {
                engine.select_channels(&default_channels, &channels).await?;
                out!("default_channels: {}", default_channels.join(", "));
                out!(
                    "channels: defaults{}",
                    channels
                        .iter()
                        .map(|c| format!(", {c}"))
                        .collect::<String>()
                );
            } else if !channels.is_empty() {
                return Err(Error::NoDefaultChannel);
            } else if !skip_channels {
                match &outcome.remembered {
                    Some(sel) => out!(
                        "Your channels from last time: default_channels {}; channels {}. Apply them with \
                         `conda-connect select-channels`.",
                        sel.default_channels.join(", "),
                        sel.channels.join(", ")
                    ),
                    None => out!(
                        "Next: pick channels with `conda-connect channels` and `conda-connect select-channels \
                         --default-channel NAME`."
                    ),
                }
            }
        }
        Command::Channels { json, all } => {
            let list = engine.channels(all).await?;
            if json {
                let items: Vec<serde_json::Value> = list
                    .channels
                    .iter()
                    .map(|c| {
                        serde_json::json!({
                            "name": c.full_name(), "mirror": c.mirror_count > 0, "privacy": c.privacy,
                            "owners": c.owners,
                            "default_channel": list.preselected.default_channels.contains(&c.full_name()),
                            "channel": list.preselected.channels.contains(&c.full_name()),
                        })
                    })
                    .collect();
                out!("{}", serde_json::to_string_pretty(&items).expect("json"));
            } else {
                out!("{:<40} {:<6} {:<14} OWNERS", "NAME", "MIRROR", "PRIVACY");
                for c in &list.channels {
                    let mirror = if c.mirror_count > 0 { "yes" } else { "" };
                    out!(
                        "{:<40} {:<6} {:<14} {}",
                        c.full_name(),
                        mirror,
                        c.privacy,
                        c.owners.join(", ")
                    );
                }
            }
        }
        Command::SelectChannels {
            default_channels,
            channels,
        } => {
            engine.select_channels(&default_channels, &channels).await?;
            out!("default_channels: {}", default_channels.join(", "));
            out!(
                "channels: defaults{}",
                channels
                    .iter()
                    .map(|c| format!(", {c}"))
                    .collect::<String>()
            );
        }
        Command::Logout => {
            let out = engine.logout().await?;
            let condarc = match out.condarc {
                CondarcRestore::Exact => "~/.condarc restored exactly as it was before sign-in",
                CondarcRestore::Removed => "~/.condarc removed (it did not exist before sign-in)",
                CondarcRestore::KeysReverted => {
                    "~/.condarc: channel_alias, channels and default_channels reverted; your other changes kept \
                     (the signed-in version is saved in ~/.anaconda/navigator/condarc_storage)"
                }
                CondarcRestore::Untouched => "~/.condarc left as it is",
            };
            out!("Signed out of {}; {condarc}.", out.domain);
            if !out.server_token_revoked {
                eprintln!(
                    "conda-connect: The server token could not be revoked now; conda-connect will retry the next time it runs."
                );
            }
        }
        Command::Status { json } => {
            let s = engine.status()?;
            if json {
                out!("{}", serde_json::to_string_pretty(&s).expect("json"));
            } else {
                match (&s.logged_in, &s.domain, &s.username) {
                    (true, Some(d), Some(u)) => out!("Connected to Anaconda Server {d} as {u}"),
                    (true, Some(d), None) => {
                        out!("Connected to Anaconda Server {d} (signed in outside conda-connect)")
                    }
                    (_, Some(d), _) => out!("Not signed in (domain {d})"),
                    _ => out!("Not signed in (no domain set)"),
                }
                out!(
                    "channel_alias: {}",
                    s.channel_alias.as_deref().unwrap_or("(conda's default)")
                );
                out!("channels: {}", s.channels.join(", "));
                out!("default_channels: {}", s.default_channels.join(", "));
            }
        }
        Command::UpdateIndex { json } => {
            let report = engine.update_index(|_| {}).await?;
            if json {
                out!("{}", serde_json::to_string_pretty(&report).expect("json"));
            } else {
                for c in &report.channels {
                    out!(
                        "{:<40} {:<14} {:>7} packages  {}",
                        c.name,
                        c.subdir,
                        c.packages,
                        c.status
                    );
                }
                out!(
                    "{} packages in {} ms",
                    report.packages_total,
                    report.elapsed_ms
                );
            }
        }
        Command::Tokens(cmd) => tokens(&engine, cmd).await?,
    }
    Ok(())
}

fn read_password() -> Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Err(Error::Refused {
            reason:
                "Pipe the password into --password-stdin; it is not read from a terminal prompt."
                    .into(),
        });
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| Error::io(std::path::Path::new("<stdin>"), &e))?;
    let password = line.trim_end_matches(['\n', '\r']).to_string();
    if password.is_empty() {
        return Err(Error::Refused {
            reason: "No password was given on standard input.".into(),
        });
    }
    Ok(password)
}

async fn tokens(engine: &Engine, cmd: TokensCommand) -> Result<()> {
    match cmd {
        TokensCommand::List { json } => {
            let list = engine.tokens().await?;
            if json {
                let items: Vec<serde_json::Value> = list
                    .iter()
                    .map(|t| {
                        serde_json::json!({"id": t.id, "name": t.name, "created": t.created, "expires": t.expires,
                            "type": t.kind, "scopes": t.scopes, "sign_in_token": t.sign_in_token})
                    })
                    .collect();
                out!("{}", serde_json::to_string_pretty(&items).expect("json"));
            } else {
                for t in &list {
                    let mark = if t.sign_in_token {
                        "  (conda's sign-in token)"
                    } else {
                        ""
                    };
                    let state = match t.expiry {
                        Expiry::Expired => "  EXPIRED",
                        Expiry::Soon(_) => "  expires soon",
                        _ => "",
                    };
                    out!(
                        "{}  {:<44}  expires {}{state}{mark}",
                        t.id,
                        t.name,
                        t.expires.as_deref().unwrap_or("never")
                    );
                }
            }
        }
        TokensCommand::Scopes => {
            for s in engine.token_scopes().await? {
                out!("{s}");
            }
        }
        TokensCommand::Create {
            name,
            scopes,
            expires,
        } => {
            let scopes = if scopes.is_empty() {
                SIGN_IN_SCOPES.iter().map(|s| s.to_string()).collect()
            } else {
                scopes
            };
            let created = engine
                .create_token(&name, &scopes, expires.as_deref())
                .await?;
            eprintln!(
                "Token {} created. It is shown only this once; store it safely:",
                created.id
            );
            out!("{}", created.token);
        }
        TokensCommand::Regenerate { id } => {
            let sign_in = engine.session()?.is_some_and(|s| s.token_id == id);
            let token = engine.regenerate_token(&id).await?;
            if sign_in {
                eprintln!("conda's sign-in token was regenerated; its token files were updated.");
            }
            eprintln!(
                "Token {id} regenerated; the old value no longer works. The new value is shown only this once:"
            );
            out!("{token}");
        }
        TokensCommand::Revoke { id } => {
            engine.revoke_token(&id).await?;
            out!("Token {id} revoked.");
        }
        TokensCommand::Renew => {
            let until = engine.renew_sign_in_token().await?;
            out!("conda's sign-in token now expires on {until}.");
        }
    }
    Ok(())
}

async fn run_emulator(port: u16, packages_dir: Option<PathBuf>, tls: bool) -> Result<()> {
    let emu = Emulator::start(EmulatorConfig {
        port,
        packages_dir,
        tls,
        ..Default::default()
    })
    .await
    .map_err(|e| Error::Refused {
        reason: format!("The emulator could not listen on 127.0.0.1:{port}: {e}."),
    })?;
    out!("Anaconda Server emulator at {}", emu.url);
    out!("Demo credentials: {DEMO_USER} / {DEMO_PASSWORD}");
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = tokio::signal::ctrl_c().await;
    Ok(())
}
