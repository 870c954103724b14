//! The command line: a thin front over the engine, one function per command. Exit 0 on success, 1 on failure with
//! one line on stderr, 2 on usage errors (found before anything is touched); it never prompts. The detail of every
//! failure goes to the log file (`<data dir>/conda-connect.log`, 0600; `CONDA_CONNECT_LOG=debug` prints it to
//! stderr instead). Every value a server sent is printed through [`printable`], so no control character or escape
//! sequence reaches the terminal.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

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
use crate::engine::server_values::printable;
use crate::engine::session::{CondarcRestore, Selection, SignIn, SsoMethod};
use crate::engine::tokens::Expiry;
use crate::engine::{Engine, paths::Paths};

#[derive(Parser, Debug)]
#[command(
    name = "conda-connect",
    version,
    about = "Connect conda to an Anaconda Server (Package Security Manager on-prem).",
    long_about = "Connect conda to an Anaconda Server (Package Security Manager on-prem): sign in, pick channels, \
                  update the index, sign out — every change to your files exact and reversible.\n\nWithout a \
                  command, the desktop app opens."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Start the built-in emulator on 127.0.0.1 and open the app against it (in an isolated temporary HOME).
    #[command(after_help = "Examples:\n  conda-connect demo\n  conda-connect demo --sso")]
    Demo(DemoArgs),
    /// Run only the emulator; print its URL and demo credentials; serve until interrupted.
    #[command(after_help = "Example:\n  conda-connect emulator --port 8765")]
    Emulator(EmulatorArgs),
    /// Validate and store the Anaconda Server domain.
    #[command(after_help = "Example:\n  conda-connect set-domain https://repo.example.com")]
    SetDomain(SetDomainArgs),
    /// Sign in (password on standard input) and configure conda.
    #[command(
        after_help = "Example:\n  echo \"$PASSWORD\" | conda-connect login --username alice --password-stdin \\\n      \
                            --default-channel main --channel internal"
    )]
    Login(LoginArgs),
    /// List the server's channels.
    #[command(after_help = "Example:\n  conda-connect channels --json")]
    Channels(ChannelsArgs),
    /// Set default_channels and channels (Add Channels).
    #[command(
        after_help = "Example:\n  conda-connect select-channels --default-channel main --channel internal"
    )]
    SelectChannels(SelectChannelsArgs),
    /// Revoke the server token and restore conda's configuration.
    #[command(
        after_help = "Examples:\n  conda-connect logout\n  conda-connect logout --domain https://staging.example.com\n  \
                      conda-connect logout --all\n  echo \"$PASSWORD\" | conda-connect logout --finish --username alice \
                      --password-stdin\n  conda-connect logout --finish --sso"
    )]
    Logout(LogoutArgs),
    /// Make a secondary server the primary one (its channels move under channel_alias; Navigator sees it). A
    /// primary signed in becomes a secondary server and keeps its channels.
    #[command(
        after_help = "Example:\n  conda-connect promote --domain https://staging.example.com"
    )]
    Promote(PromoteArgs),
    /// Show the sign-in, the clients signed in and conda's channel configuration.
    #[command(
        after_help = "Examples:\n  conda-connect status --json\n  conda-connect status --snippets internal"
    )]
    Status(StatusArgs),
    /// Fetch repodata for every configured channel.
    #[command(after_help = "Example:\n  conda-connect update-index")]
    UpdateIndex(JsonArgs),
    /// Manage access tokens.
    #[command(subcommand)]
    Tokens(TokensCommand),
    /// Check the whole chain from conda's configuration to a package download, read-only, and name what is broken
    /// and how to fix it. Exits 1 when a check fails.
    #[command(
        after_help = "Examples:\n  conda-connect doctor\n  conda-connect doctor --channel internal --json"
    )]
    Doctor(DoctorArgs),
    /// For CI: check a token you were given and write conda's, rattler's (and pip/uv's) settings into a private
    /// folder, then print the variables that point at it. Nothing is written in your home directory.
    #[command(
        after_help = "Examples:\n  eval \"$(echo \"$TOKEN\" | conda-connect env --token-stdin --domain https://repo.example.com \\\n                            --default-channel main --channel internal)\"\n  conda-connect env --token-stdin --domain URL --shell github                       < token.txt\n  conda-connect env --clean \"$BINSTAR_CONFIG_DIR\""
    )]
    Env(EnvArgs),
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Also serve a single sign-on realm (Keycloak-like), to try "Sign in with SSO".
    #[arg(long)]
    sso: bool,
}

#[derive(Args, Debug)]
pub struct EmulatorArgs {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Serve real package files from DIR/<channel>/<subdir>/<file>.
    #[arg(long, value_name = "DIR")]
    packages_dir: Option<PathBuf>,
    /// Serve HTTPS with a self-signed certificate (to try "Trust Server and Continue").
    #[arg(long)]
    tls: bool,
    /// Also serve a single sign-on realm (Keycloak-like; sign in with the demo credentials in its page).
    #[arg(long)]
    sso: bool,
}

#[derive(Args, Debug)]
pub struct SetDomainArgs {
    /// The server's address, e.g. https://repo.example.com (a trailing /api is fine).
    url: String,
    /// Trust this server even though its certificate cannot be verified (recorded for this host only).
    #[arg(long)]
    trust_server: bool,
}

#[derive(Args, Debug)]
pub struct LoginArgs {
    /// Your user name on the server.
    #[arg(
        long,
        required_unless_present_any = ["sso", "token_stdin", "token_file"],
        conflicts_with_all = ["sso", "token_stdin", "token_file"]
    )]
    username: Option<String>,
    /// Read the password from standard input (required for a password sign-in: conda-connect never prompts).
    #[arg(
        long,
        required_unless_present_any = ["sso", "token_stdin", "token_file"],
        conflicts_with_all = ["sso", "token_stdin", "token_file"]
    )]
    password_stdin: bool,
    /// Sign in with a token you were given, read from standard input (never from the command line).
    #[arg(long, conflicts_with_all = ["sso", "token_file"])]
    token_stdin: bool,
    /// Sign in with a token you were given, read from this file.
    #[arg(long, value_name = "PATH", conflicts_with = "sso")]
    token_file: Option<PathBuf>,
    /// Refused: a token or password in the command line is visible to every user of the machine.
    #[arg(long, hide = true, value_parser = SecretInArgv)]
    token: Option<String>,
    /// Refused: see --password-stdin.
    #[arg(long, hide = true, value_parser = SecretInArgv)]
    password: Option<String>,
    /// Sign in through the organization's identity provider (single sign-on) in the system browser.
    #[arg(long)]
    sso: bool,
    /// With --sso: do not open the browser, only print the address to open.
    #[arg(long, requires = "sso")]
    no_browser: bool,
    /// With --sso: sign in with a code entered on another device (for machines without a browser).
    #[arg(long, requires = "sso", conflicts_with = "no_browser")]
    device: bool,
    /// With --sso: the client id registered for command-line clients at your site (remembered for next time).
    #[arg(long, requires = "sso", value_name = "ID", value_parser = client_id_arg)]
    sso_client_id: Option<String>,
    /// Set the domain first (as set-domain does).
    #[arg(long, value_name = "URL")]
    domain: Option<String>,
    /// Sign in to the server named by --domain beside the one signed in already (a secondary server: its
    /// channels go into .condarc as full URLs, and only with --channel).
    #[arg(long, requires = "domain")]
    add_server: bool,
    /// With --domain: trust a server whose certificate cannot be verified.
    #[arg(long, requires = "domain")]
    trust_server: bool,
    /// A channel for default_channels (repeatable); applied in the same transaction as the sign-in.
    #[arg(long = "default-channel", value_name = "NAME")]
    default_channels: Vec<String>,
    /// A channel for channels, after `defaults` (repeatable; needs at least one --default-channel, except with
    /// --add-server).
    #[arg(long = "channel", value_name = "NAME")]
    channels: Vec<String>,
    /// Do not suggest choosing channels afterwards.
    #[arg(long, conflicts_with_all = ["default_channels", "channels"])]
    skip_channels: bool,
    /// Also sign in pip and uv: add an entry for the server to ~/.netrc (taken out again at sign-out; remembered
    /// for later sign-ins).
    #[arg(long)]
    netrc: bool,
}

#[derive(Args, Debug)]
pub struct LogoutArgs {
    /// Revoke server tokens an earlier sign-out could not revoke because the session had ended: signs in (password
    /// or --sso) just long enough to revoke them, and changes nothing else.
    #[arg(long)]
    finish: bool,
    /// With --finish: your user name on the server.
    #[arg(
        long,
        requires = "finish",
        conflicts_with = "sso",
        requires = "password_stdin"
    )]
    username: Option<String>,
    /// With --finish: read the password from standard input.
    #[arg(long, requires = "username")]
    password_stdin: bool,
    /// With --finish: sign in through single sign-on.
    #[arg(long, requires = "finish")]
    sso: bool,
    /// With --finish --sso: do not open the browser, only print the address to open.
    #[arg(long, requires = "sso")]
    no_browser: bool,
    /// With --finish --sso: sign in with a code entered on another device.
    #[arg(long, requires = "sso", conflicts_with = "no_browser")]
    device: bool,
    /// With --finish --sso: the client id registered for command-line clients at your site.
    #[arg(long, requires = "sso", value_name = "ID", value_parser = client_id_arg)]
    sso_client_id: Option<String>,
    /// The server to sign out of (needed when several are signed in); with --finish: the server whose tokens to
    /// revoke (when tokens wait on several).
    #[arg(long, value_name = "URL")]
    domain: Option<String>,
    /// Sign out of every server.
    #[arg(long, conflicts_with_all = ["finish", "domain"])]
    all: bool,
}

#[derive(Args, Debug)]
pub struct PromoteArgs {
    /// The secondary server to make the primary one.
    #[arg(long, value_name = "URL")]
    domain: String,
}

#[derive(Args, Debug)]
pub struct EnvArgs {
    /// Read the token from standard input (never from the command line).
    #[arg(long, conflicts_with = "token_file", required_unless_present_any = ["token_file", "clean"])]
    token_stdin: bool,
    /// Read the token from this file.
    #[arg(long, value_name = "PATH")]
    token_file: Option<PathBuf>,
    /// The Anaconda Server (required).
    #[arg(long, value_name = "URL", required_unless_present = "clean")]
    domain: Option<String>,
    /// A channel for default_channels (repeatable).
    #[arg(long = "default-channel", value_name = "NAME")]
    default_channels: Vec<String>,
    /// A channel for channels, after `defaults` (repeatable; needs at least one --default-channel).
    #[arg(long = "channel", value_name = "NAME", requires = "default_channels")]
    channels: Vec<String>,
    /// How to print the variables.
    #[arg(long, value_enum, default_value_t = ShellArg::Sh)]
    shell: ShellArg,
    /// Write into this folder (new or empty, or one `env` made before) instead of a new temporary one.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Build on your own ~/.condarc (read, never changed) instead of an empty one.
    #[arg(long)]
    inherit_condarc: bool,
    /// Also set pip and uv up for this channel's PyPI form.
    #[arg(long, value_name = "NAME")]
    pypi_channel: Option<String>,
    /// Remove a folder `env` made, and nothing else.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["token_stdin", "token_file", "domain", "dir"])]
    clean: Option<PathBuf>,
    /// Refused: a token in the command line is visible to other users.
    #[arg(long, hide = true, value_parser = SecretInArgv)]
    token: Option<String>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShellArg {
    Sh,
    Fish,
    Pwsh,
    Github,
}

#[derive(Args, Debug)]
pub struct ChannelsArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Every channel the server shows ("Show hidden Anaconda Server channels").
    #[arg(long)]
    all: bool,
}

#[derive(Args, Debug)]
pub struct SelectChannelsArgs {
    /// A channel for default_channels (repeatable; at least one for the primary server).
    #[arg(
        long = "default-channel",
        value_name = "NAME",
        required_unless_present = "domain"
    )]
    default_channels: Vec<String>,
    /// The server to choose channels on (a secondary server takes --channel only).
    #[arg(long, value_name = "URL")]
    domain: Option<String>,
    /// A channel for channels, after `defaults` (repeatable).
    #[arg(long = "channel", value_name = "NAME")]
    channels: Vec<String>,
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Print the pip and uv settings for this channel's PyPI form (they hold the token: keep them private).
    #[arg(long, value_name = "CHANNEL")]
    snippets: Option<String>,
}

#[derive(Args, Debug)]
pub struct DoctorArgs {
    /// Print JSON: {"ok": bool, "checks": [{"id", "group", "status", "message", "fix"?}]}.
    #[arg(long)]
    json: bool,
    /// Check this channel (a name or a URL) instead of the configured ones; repeat for more.
    #[arg(long = "channel", value_name = "NAME", value_parser = doctor_channel_arg)]
    channels: Vec<String>,
}

#[derive(Args, Debug)]
pub struct JsonArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// A single sign-on client id: no spaces or control characters (a usage error before any request).
fn client_id_arg(value: &str) -> std::result::Result<String, String> {
    match crate::engine::session::checked_client_id(Some(value)) {
        Ok(Some(id)) => Ok(id),
        Ok(None) => Err("the client id is empty".to_string()),
        Err(error) => Err(error.to_string()),
    }
}

/// A secret given in the command line: always a usage error (other users see the process's arguments, and the
/// shell keeps them in its history). The refusal never repeats the value (clap's own message would).
#[derive(Clone)]
struct SecretInArgv;

impl clap::builder::TypedValueParser for SecretInArgv {
    type Value = String;

    fn parse_ref(
        &self,
        _cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        _value: &std::ffi::OsStr,
    ) -> std::result::Result<String, clap::Error> {
        let flag = arg
            .map(|a| a.get_id().as_str().replace('_', "-"))
            .unwrap_or_default();
        Err(clap::Error::raw(
            clap::error::ErrorKind::ValueValidation,
            format!(
                "--{flag}: a token or password in the command line is visible to other users and kept in the \
                 shell's history; pipe it into --token-stdin / --password-stdin, or name a file with --token-file\n"
            ),
        ))
    }
}

/// A channel for doctor: a name or an http(s) URL, without `.` or `..` segments (a usage error).
fn doctor_channel_arg(value: &str) -> std::result::Result<String, String> {
    let options = crate::engine::doctor::Options {
        channels: vec![value.to_string()],
    };
    options
        .check()
        .map(|()| value.to_string())
        .map_err(|e| e.to_string())
}

/// A token id: a UUID (any spelling); anything else is a usage error before any request.
fn token_id_arg(value: &str) -> std::result::Result<String, String> {
    crate::engine::server_values::token_id(value).ok_or_else(|| {
        "a token id is a UUID, e.g. 3f1c2a9e-1111-2222-3333-444455556666".to_string()
    })
}

#[derive(Subcommand, Debug)]
pub enum TokensCommand {
    /// List your tokens (conda's sign-in token is marked).
    #[command(after_help = "Example:\n  conda-connect tokens list")]
    List(JsonArgs),
    /// Create a token; its value is printed once.
    #[command(
        after_help = "Example:\n  conda-connect tokens create --name ci --scope channel:view --expires 2027-06-30"
    )]
    Create {
        /// A name for the token.
        #[arg(long)]
        name: String,
        /// A scope (repeatable; see `tokens scopes`); default: the sign-in token's scopes.
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        /// Expiry date (YYYY-MM-DD, UTC): after today and at most a year ahead; default one year.
        #[arg(long, value_name = "DATE")]
        expires: Option<String>,
    },
    /// List the scopes the server lets you grant.
    #[command(after_help = "Example:\n  conda-connect tokens scopes")]
    Scopes,
    /// Give a token a new value (the old one stops working); printed once.
    #[command(
        after_help = "Example:\n  conda-connect tokens regenerate 3f1c2a9e-1111-2222-3333-444455556666"
    )]
    Regenerate {
        /// The token's id (see `tokens list`).
        #[arg(value_parser = token_id_arg)]
        id: String,
    },
    /// Revoke a token (not conda's sign-in token: sign out instead).
    #[command(
        after_help = "Example:\n  conda-connect tokens revoke 3f1c2a9e-1111-2222-3333-444455556666"
    )]
    Revoke {
        /// The token's id (see `tokens list`).
        #[arg(value_parser = token_id_arg)]
        id: String,
    },
    /// Extend conda's sign-in token to one year from today (same value).
    #[command(after_help = "Example:\n  conda-connect tokens renew")]
    Renew,
}

/// Entry point of the binary; returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let code = if error.use_stderr() { 2 } else { 0 };
            let _ = error.print();
            return code;
        }
    };
    // a way of signing in the organization does not allow is a usage error, before anything is touched
    if let Some(Command::Login(args)) = &cli.command
        && let Ok(policy) = crate::engine::policy::Policy::load()
        && let Some(problem) = login_usage_error(args, &policy)
    {
        eprintln!("conda-connect: error: {problem}");
        return 2;
    }
    if let Some(problem) = cli.command.as_ref().and_then(several_servers_usage_error) {
        eprintln!("conda-connect: error: {problem}");
        return 2;
    }
    match cli.command {
        // the emulator touches no user file: it needs no home directory
        Some(Command::Emulator(args)) => exit_code(runtime().block_on(run_emulator(args))),
        // CI: nothing is written in the home directory (no log either, unless CONDA_CONNECT_LOG asks for stderr)
        Some(Command::Env(args)) => exit_code(runtime().block_on(run_env(args))),
        // read-only: no recovery, no log file (CONDA_CONNECT_LOG logs to stderr)
        Some(Command::Doctor(args)) => match Paths::from_env() {
            Ok(paths) => {
                stderr_logging();
                // a broken policy is one of doctor's findings, not a reason to check nothing
                runtime().block_on(run_doctor(engine_without_policy(paths), args))
            }
            Err(error) => exit_code(Err(error)),
        },
        // the window needs the main thread (and runs its own async runtime)
        Some(Command::Demo(args)) => exit_code(needs_display().and_then(|()| run_demo(args.sso))),
        None => exit_code(needs_display().and_then(|()| open_app())),
        Some(command) => exit_code(
            user_paths().and_then(|paths| runtime().block_on(run_command(command, paths))),
        ),
    }
}

/// A command that needs a server named while several are signed in (or that mixes a secondary's options up): a
/// usage error before anything happens.
fn several_servers_usage_error(command: &Command) -> Option<String> {
    match command {
        Command::Login(args) if args.add_server && !args.default_channels.is_empty() => Some(
            "default channels come from the primary server: give another server --channel only."
                .into(),
        ),
        Command::Login(args)
            if !args.add_server
                && !args.channels.is_empty()
                && args.default_channels.is_empty() =>
        {
            Some("--channel needs at least one --default-channel.".into())
        }
        Command::Logout(args) if !args.finish && !args.all && args.domain.is_none() => {
            let engine = engine(user_paths().ok()?).ok()?;
            let servers = engine.servers().ok()?;
            (servers.len() > 1).then(|| {
                let names: Vec<&str> = servers.iter().map(|s| s.domain.as_str()).collect();
                format!(
                    "you are signed in to {}: name one with --domain URL, or sign out of all with --all.",
                    names.join(" and ")
                )
            })
        }
        _ => None,
    }
}

/// `login` with a way of signing in the organization's `sign_in` policy rules out.
fn login_usage_error(args: &LoginArgs, policy: &crate::engine::policy::Policy) -> Option<String> {
    let by_token = args.token_stdin || args.token_file.is_some();
    if by_token && !policy.allows_given_token() {
        return Some("your organization does not allow signing in with a token here.".into());
    }
    if args.sso && !policy.allows_sso() {
        return Some(
            "your organization signs in with a password: use --username and --password-stdin."
                .into(),
        );
    }
    if !args.sso && !by_token && !policy.allows_password() {
        return Some(
            "your organization signs in with single sign-on: use `conda-connect login --sso`."
                .into(),
        );
    }
    None
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn exit_code(result: Result<()>) -> i32 {
    match result {
        Ok(()) => 0,
        Err(error) => {
            tracing::error!(error = ?error, "command failed");
            match &error {
                // the window asks the question again; the command line says how
                Error::CertificateChanged { .. } => eprintln!(
                    "conda-connect: {error} (conda-connect set-domain URL --trust-server)"
                ),
                _ => eprintln!(
                    "conda-connect: {}",
                    crate::engine::sso::messages::for_command_line(&error.to_string())
                ),
            }
            1
        }
    }
}

/// The user's paths (refusing an unusable HOME before anything is written, the log included), with logging set up.
fn user_paths() -> Result<Paths> {
    let paths = Paths::from_env()?;
    init_logging(&paths);
    Ok(paths)
}

/// The window needs a graphical session; say so in one sentence instead of failing deep inside the toolkit.
fn needs_display() -> Result<()> {
    let unix_desktop = cfg!(all(unix, not(target_os = "macos")));
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    if unix_desktop && !set("DISPLAY") && !set("WAYLAND_DISPLAY") {
        return Err(Error::Refused {
            reason: "The window needs a graphical session (neither DISPLAY nor WAYLAND_DISPLAY is set); every action \
                     is also available on the command line: conda-connect --help."
                .into(),
        });
    }
    Ok(())
}

/// The desktop app on the user's own configuration.
fn open_app() -> Result<()> {
    let engine = match engine(user_paths()?) {
        // started from a menu, nobody reads stderr: the sentence gets a window of its own (and stderr, and exit 1)
        Err(error @ Error::InvalidPolicy { .. }) => {
            if let Err(window) = crate::gui::refused::run(&error.to_string()) {
                tracing::warn!(error = %window, "the window for the policy error could not be opened");
            }
            return Err(error);
        }
        other => other?,
    };
    crate::gui::run(crate::gui::Config {
        engine,
        preset_domain: None,
        login_hint: None,
        note: None,
    })
}

/// The desktop app against the built-in emulator, in an isolated HOME (a temporary directory, or
/// `CONDA_CONNECT_DEMO_HOME`), so that the demo never points the user's real conda at a throwaway server. The
/// temporary HOME is removed when the window closes, and on Ctrl+C / SIGTERM too.
fn run_demo(sso: bool) -> Result<()> {
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
    let remove_on_signal = std::env::var_os("CONDA_CONNECT_DEMO_HOME")
        .is_none()
        .then(|| home.clone());
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
                sso,
                ..Default::default()
            })
            .await
            {
                Ok(emu) => {
                    let given = emu.state.lock().unwrap().give_token(&demo_given_token());
                    let _ = tx.send(Ok((emu.url.clone(), given)));
                    wait_for_termination().await;
                    if let Some(home) = remove_on_signal {
                        let _ = std::fs::remove_dir_all(home);
                    }
                    std::process::exit(130);
                }
                Err(error) => {
                    let _ = tx.send(Err(error.to_string()));
                }
            }
        });
    });
    let (url, given) = rx
        .recv()
        .map_err(|_| Error::Refused {
            reason: "The emulator did not start.".into(),
        })?
        .map_err(|e| Error::Refused {
            reason: format!("The emulator could not listen on 127.0.0.1: {e}."),
        })?;
    eprintln!(
        "conda-connect demo: emulator at {url}; sign in as {DEMO_USER} / {DEMO_PASSWORD}, or with the token you \
         were given for channel internal ({given}) under \"Use a token instead\"; files in {}",
        home.display()
    );
    eprintln!(
        "conda-connect demo: a private Python package, after ticking \"Also sign in pip and uv\" in Preferences \
         and signing in: HOME={} pip install --index-url {url}/api/repo/internal/simple corp-pyutils",
        home.display()
    );
    let paths = Paths::under_home(&home);
    init_logging(&paths);
    let mut engine = Engine::new(paths.clone(), SecretStore::open(&paths, SecretsMode::File));
    engine.lock_wait = std::time::Duration::from_secs(10);
    crate::gui::run(crate::gui::Config {
        engine,
        preset_domain: Some(url),
        login_hint: Some(format!(
            "Demo server: sign in as {DEMO_USER} / {DEMO_PASSWORD}, or use the token {given} (it reads channel \
             internal)"
        )),
        note: Some(format!(
            "Demo mode: a built-in Anaconda Server emulator; your real configuration is untouched (files in {}).",
            home.display()
        )),
    })
}

/// The token `demo` and `emulator` hand out, to try a token sign-in: a service account's for channel `internal`.
fn demo_given_token() -> crate::emulator::state::GivenToken {
    crate::emulator::state::GivenToken {
        channel: Some("internal".into()),
        ..Default::default()
    }
}

/// Ctrl+C, or SIGTERM on Unix.
async fn wait_for_termination() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(stream) => stream,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
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
            // colours only for a person at a terminal: a captured log carries no escape sequence
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(crate::engine::redact::ScrubbingWriter::new(
                std::io::stderr(),
            ))
            .try_init();
        return;
    }
    if crate::engine::files::create_private_dir(&paths.data_dir).is_err() {
        return;
    }
    let log = paths.data_dir.join("conda-connect.log");
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    if let Ok(file) = options.open(&log) {
        // an older log may have been created 0644
        let _ = crate::engine::files::set_mode(&log, 0o600);
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(false)
            .with_writer(crate::engine::redact::ScrubbingWriter::new(file))
            .try_init();
    }
}

/// The engine for the user's configuration, under the organization's policy (a broken policy stops here: nothing
/// proceeds without the policy that is meant to apply).
fn engine(paths: Paths) -> Result<Engine> {
    let mut engine = engine_without_policy(paths);
    engine.policy = std::sync::Arc::new(crate::engine::policy::Policy::load()?);
    Ok(engine)
}

fn engine_without_policy(paths: Paths) -> Engine {
    let secrets = SecretStore::open(&paths, SecretsMode::from_env());
    let mut engine = Engine::new(paths, secrets);
    // test hooks (debug builds only, like the crash points): how long to wait for the lock, and for a retry
    #[cfg(debug_assertions)]
    {
        use crate::engine::hooks::var;
        if let Some(ms) = var("CONDA_CONNECT_LOCK_WAIT_MS").and_then(|v| v.parse().ok()) {
            engine.lock_wait = std::time::Duration::from_millis(ms);
        }
        if let Some(secs) = var("CONDA_CONNECT_REVOKE_RETRY_SECS").and_then(|v| v.parse().ok()) {
            engine.revoke_retry_after = std::time::Duration::from_secs(secs);
        }
    }
    let crash = crate::engine::journal::CrashPoint::from_env();
    if crash.at.is_some() {
        engine.crash = Some(crash);
    }
    engine
}

/// Every command that works on the user's configuration: recovery first, then the command.
async fn run_command(command: Command, paths: Paths) -> Result<()> {
    let engine = engine(paths)?;
    let read_only = matches!(command, Command::Status(_));
    match engine.recover().await {
        Ok(Some(msg)) => eprintln!("conda-connect: {msg}"),
        Ok(None) => {}
        // a command that only reads works on a read-only home too, as long as nothing waits to be recovered
        Err(error @ Error::Io { .. }) if read_only && !engine.recovery_due() => {
            tracing::info!(error = %error, "recovery skipped: the data folder cannot be written");
        }
        Err(error) => return Err(error),
    }
    match command {
        Command::SetDomain(args) => set_domain(&engine, args).await,
        Command::Login(args) => login(&engine, args).await,
        Command::Channels(args) => channels(&engine, args).await,
        Command::SelectChannels(args) => select_channels(&engine, args).await,
        Command::Logout(args) if args.finish => finish_logout(&engine, args).await,
        Command::Logout(args) => logout(&engine, args).await,
        Command::Promote(args) => promote(&engine, args).await,
        Command::Status(args) => status(&engine, args),
        Command::UpdateIndex(args) => update_index(&engine, args).await,
        Command::Tokens(cmd) => tokens(&engine, cmd).await,
        Command::Demo(_) | Command::Emulator(_) | Command::Env(_) | Command::Doctor(_) => {
            Err(Error::Refused {
                reason: "This command does not use your configuration.".into(),
            })
        }
    }
}

fn print_plain_http_warning(domain: &str) {
    if let Some(warning) = crate::engine::domain::plain_http_warning(domain) {
        eprintln!("conda-connect: warning: {warning}");
    }
}

fn print_selection(selection: &Selection) {
    out!(
        "default_channels: {}",
        selection.default_channels.join(", ")
    );
    out!(
        "channels: defaults{}",
        selection
            .channels
            .iter()
            .map(|c| format!(", {c}"))
            .collect::<String>()
    );
}

fn print_notes(notes: &[String]) {
    for note in notes {
        eprintln!("conda-connect: {note}");
    }
}

async fn set_domain(engine: &Engine, args: SetDomainArgs) -> Result<()> {
    let choice = engine
        .choose_domain(&args.url, args.trust_server.into())
        .await?;
    print_pinned(&choice);
    let domain = engine.store_domain(&choice).await?;
    out!("Anaconda Server domain set to {domain}");
    print_plain_http_warning(&domain);
    Ok(())
}

async fn login(engine: &Engine, args: LoginArgs) -> Result<()> {
    let given =
        (!args.default_channels.is_empty() || !args.channels.is_empty()).then(|| Selection {
            default_channels: args.default_channels.clone(),
            channels: args.channels.clone(),
        });
    // the organization's channels apply when none are given (and are the only choice when locked); they are the
    // primary server's
    let selection = match given {
        Some(selection) => Some(selection),
        None if args.skip_channels || args.add_server => None,
        None => engine.policy.selection(),
    };
    let request = SignIn {
        domain: None,
        selection: selection.clone(),
        netrc: args.netrc.then_some(true),
        add_server: args.add_server,
    };
    // every local check before the first request
    request.check_selection()?;
    if let Some(selection) = &selection
        && !args.add_server
    {
        engine.check_policy_selection(selection)?;
    }
    let given_token = match (&args.token_file, args.token_stdin) {
        (Some(path), _) => Some(read_token_file(path)?),
        (None, true) => Some(read_secret_line("token")?),
        (None, false) => None,
    };
    let password = if args.sso || given_token.is_some() {
        None
    } else {
        Some(read_password()?)
    };
    // `--domain` is part of the sign-in: validated now, written only with it (a failed or interrupted sign-in
    // leaves the configured domain as it was)
    let choice = match &args.domain {
        Some(domain) => {
            let choice = if args.add_server {
                engine
                    .choose_other_domain(domain, args.trust_server.into())
                    .await?
            } else {
                engine
                    .choose_domain(domain, args.trust_server.into())
                    .await?
            };
            print_plain_http_warning(&choice.domain);
            print_pinned(&choice);
            Some(choice)
        }
        None => None,
    };
    let request = SignIn {
        domain: choice,
        ..request
    };
    let result = match &given_token {
        Some(token) => engine.login_with_token(token, &request).await,
        None => sign_in(engine, &args, password.as_deref(), &request).await,
    };
    let outcome = result?;
    if let Some(warning) = &engine.secrets.warning {
        eprintln!("conda-connect: {warning}");
    }
    if given_token.is_some() {
        out!(
            "Connected to Anaconda Server {} with the token you were given ({})",
            outcome.domain,
            outcome.username
        );
    } else {
        out!(
            "Connected to Anaconda Server {} as {}",
            outcome.domain,
            outcome.username
        );
    }
    print_notes(&outcome.notes);
    if args.add_server {
        for name in outcome.applied.map(|s| s.channels).unwrap_or_default() {
            out!(
                "channel: {}",
                crate::engine::session::channel_url(&outcome.domain, &name)
            );
        }
        return Ok(());
    }
    match (&outcome.applied, &outcome.remembered) {
        (Some(applied), _) => print_selection(applied),
        _ if args.skip_channels => {}
        (None, Some(sel)) => out!(
            "Your channels from last time: default_channels {}; channels {}. Apply them with \
             `conda-connect select-channels`.",
            sel.default_channels.join(", "),
            sel.channels.join(", ")
        ),
        (None, None) => out!(
            "Next: pick channels with `conda-connect channels` and `conda-connect select-channels \
             --default-channel NAME`."
        ),
    }
    Ok(())
}

/// The sign-in itself: with the password, or through single sign-on (with the account confirmed at a terminal).
async fn sign_in(
    engine: &Engine,
    args: &LoginArgs,
    password: Option<&str>,
    request: &SignIn,
) -> Result<crate::engine::session::LoginOutcome> {
    if let (Some(password), Some(username)) = (password, &args.username) {
        return engine.login_with(username, password, request).await;
    }
    let options = crate::engine::sso::SsoOptions {
        client_id: args.sso_client_id.clone(),
        wait: None,
    };
    let method = if args.device {
        SsoMethod::Device
    } else {
        SsoMethod::Browser {
            open: !args.no_browser,
        }
    };
    let authenticated = engine
        // exactly one line, the address last, so that scripts and people on another machine can follow it
        .sso_authenticate(&options, method, request, |line| eprintln!("{line}"))
        .await?;
    if !confirm_account(&authenticated) {
        let unended = engine.sso_abandon(authenticated).await;
        return Err(Error::Refused {
            reason: "The sign-in was not confirmed, so nothing was changed.".into(),
        }
        .also(unended));
    }
    let outcome = engine.sso_complete(authenticated).await?;
    if let Some(id) = &args.sso_client_id
        && let Err(error) = engine.save_sso_client_id(Some(id)).await
    {
        eprintln!("conda-connect: the client id could not be remembered: {error}");
    }
    Ok(outcome)
}

/// At a terminal, ask whether the account the identity provider signed in is the right one (an address copied
/// from this terminal and completed by somebody else must not sign this user in silently). Without a terminal
/// (scripts, CI) the sign-in goes on.
fn confirm_account(authenticated: &crate::engine::session::SsoAuthenticated) -> bool {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() || !std::io::stderr().is_terminal() {
        return true;
    }
    eprint!(
        "Signed in at the identity provider as {}. Continue with this account? [y/N] ",
        authenticated.account()
    );
    let mut answer = String::new();
    if stdin.lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

/// After trusting a certificate: say which one, so the person can compare it with what their administrator
/// published.
fn print_pinned(choice: &crate::engine::session::DomainChoice) {
    if let Some(fingerprint) = &choice.pinned {
        eprintln!(
            "conda-connect: trusting the certificate of {} with SHA-256 fingerprint {fingerprint}",
            crate::engine::domain::netloc(&choice.domain)
        );
    }
}

async fn channels(engine: &Engine, args: ChannelsArgs) -> Result<()> {
    let list = engine.channels(args.all).await?;
    if args.json {
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
        for channel in &list.channels {
            let mirror = if channel.mirror_count > 0 { "yes" } else { "" };
            out!(
                "{:<40} {:<6} {:<14} {}",
                channel.full_name(),
                mirror,
                printable(&channel.privacy),
                printable(&channel.owners.join(", "))
            );
        }
    }
    Ok(())
}

async fn select_channels(engine: &Engine, args: SelectChannelsArgs) -> Result<()> {
    let primary = engine.session()?.map(|r| r.domain);
    if let Some(domain) = &args.domain {
        let domain = crate::engine::domain::normalize_domain(domain)?;
        if primary.as_deref() != Some(domain.as_str()) {
            if !args.default_channels.is_empty() {
                return Err(Error::Refused {
                    reason: "Default channels come from the primary server; choose channels only for another \
                             server."
                        .into(),
                });
            }
            engine
                .select_server_channels(&domain, &args.channels)
                .await?;
            for name in &args.channels {
                out!(
                    "channel: {}",
                    crate::engine::session::channel_url(&domain, name)
                );
            }
            return Ok(());
        }
    }
    let selection = Selection {
        default_channels: args.default_channels,
        channels: args.channels,
    };
    engine
        .select_channels(&selection.default_channels, &selection.channels)
        .await?;
    print_selection(&selection);
    Ok(())
}

async fn logout(engine: &Engine, args: LogoutArgs) -> Result<()> {
    let outcomes = match (&args.domain, args.all) {
        (_, true) => engine.logout_all().await?,
        (Some(domain), false) => {
            vec![
                engine
                    .logout_server(&crate::engine::domain::normalize_domain(domain)?)
                    .await?,
            ]
        }
        (None, false) => match engine.servers()?.as_slice() {
            [only] if only.role == crate::engine::session::Role::Secondary => {
                vec![engine.logout_server(&only.domain).await?]
            }
            _ => vec![engine.logout().await?],
        },
    };
    if outcomes.is_empty() {
        return Err(Error::NotLoggedIn);
    }
    for outcome in outcomes {
        print_logout(outcome);
    }
    Ok(())
}

/// `promote --domain URL`.
async fn promote(engine: &Engine, args: PromoteArgs) -> Result<()> {
    let domain = crate::engine::domain::normalize_domain(&args.domain)?;
    engine.promote(&domain).await?;
    out!(
        "{domain} is now the primary server: channel_alias points at it and Navigator sees its sign-in."
    );
    Ok(())
}

fn print_logout(outcome: crate::engine::session::LogoutOutcome) {
    let condarc = match outcome.condarc {
        CondarcRestore::Exact => "~/.condarc restored exactly as it was before sign-in",
        CondarcRestore::Removed => "~/.condarc removed (it did not exist before sign-in)",
        CondarcRestore::KeysReverted => {
            "~/.condarc: channel_alias, channels and default_channels reverted; your other changes kept \
             (the signed-in version is saved in ~/.anaconda/navigator/condarc_storage)"
        }
        CondarcRestore::Untouched => "~/.condarc left as it is",
        CondarcRestore::EntriesRemoved => {
            "~/.condarc: this server's channels and custom_channels entries taken out; everything else kept"
        }
    };
    out!("Signed out of {}; {condarc}.", outcome.domain);
    print_notes(&outcome.notes);
    if let Some(unrevoked) = &outcome.unrevoked {
        eprintln!("conda-connect: {}", unrevoked.sentence());
    }
}

/// `logout --finish`: sign in just long enough to revoke what an earlier sign-out could not.
async fn finish_logout(engine: &Engine, args: LogoutArgs) -> Result<()> {
    if !args.sso && args.username.is_none() {
        return Err(Error::Refused {
            reason: "Say how to sign in: --username NAME --password-stdin, or --sso.".into(),
        });
    }
    let wanted = match &args.domain {
        Some(domain) => Some(crate::engine::domain::normalize_domain(domain)?),
        None => None,
    };
    let Some(domain) = engine.finish_target(wanted.as_deref())? else {
        out!("Nothing to finish: no server token is waiting to be revoked.");
        return Ok(());
    };
    let outcome = match &args.username {
        Some(username) => {
            let password = read_password()?;
            engine
                .finish_with_password(&domain, username, &password)
                .await?
        }
        None => {
            let options = crate::engine::sso::SsoOptions {
                client_id: args.sso_client_id.clone(),
                wait: None,
            };
            let method = if args.device {
                SsoMethod::Device
            } else {
                SsoMethod::Browser {
                    open: !args.no_browser,
                }
            };
            engine
                .finish_with_sso(&domain, &options, method, |line| eprintln!("{line}"))
                .await?
        }
    };
    out!(
        "{} token(s) revoked on {}; {} still waiting.",
        outcome.revoked,
        outcome.domain,
        outcome.remaining
    );
    print_notes(&outcome.notes);
    if outcome.revoked == 0 && outcome.remaining > 0 {
        return Err(Error::Refused {
            reason: format!(
                "No token on {} could be revoked with this sign-in; see the notes above.",
                outcome.domain
            ),
        });
    }
    Ok(())
}

fn status(engine: &Engine, args: StatusArgs) -> Result<()> {
    if let Some(channel) = &args.snippets {
        return snippets(engine, channel);
    }
    let status = engine.status()?;
    if args.json {
        out!("{}", serde_json::to_string_pretty(&status).expect("json"));
        return Ok(());
    }
    match (&status.logged_in, &status.domain, &status.username) {
        (true, Some(domain), Some(username)) if status.auth.as_deref() == Some("token") => {
            out!("Connected to Anaconda Server {domain} with a token you were given ({username})")
        }
        (true, Some(domain), Some(username)) => {
            out!("Connected to Anaconda Server {domain} as {username}")
        }
        (true, Some(domain), None) => {
            out!("Connected to Anaconda Server {domain} (signed in outside conda-connect)")
        }
        _ if !status.servers.is_empty() => out!("No primary server signed in"),
        (_, Some(domain), _) => out!("Not signed in (domain {domain})"),
        _ => out!("Not signed in (no domain set)"),
    }
    for server in status
        .servers
        .iter()
        .filter(|s| s.role == crate::engine::session::Role::Secondary)
    {
        out!(
            "Also connected to {} as {} (secondary server; channels: {})",
            server.domain,
            printable(&server.username),
            printable(&server.channels.join(", "))
        );
    }
    out!(
        "channel_alias: {}",
        printable(
            status
                .channel_alias
                .as_deref()
                .unwrap_or("(conda's default)")
        )
    );
    out!("channels: {}", printable(&status.channels.join(", ")));
    out!(
        "default_channels: {}",
        printable(&status.default_channels.join(", "))
    );
    for consumer in &status.consumers {
        let mut line = format!("signed in: {} ({}", consumer.name, consumer.store);
        if let Some(path) = &consumer.path {
            line.push_str(&format!(" {}", printable(path)));
        }
        if let Some(form) = &consumer.form {
            line.push_str(&format!(", {form}"));
        }
        if consumer.verified == Some(false) {
            line.push_str(", not verified: no private channel allowed the check");
        }
        line.push(')');
        out!("{line}");
    }
    for pending in &status.pending_revocations {
        let id = pending
            .token_id
            .as_deref()
            .unwrap_or("(an interrupted sign-in's token)");
        if pending.needs_sign_in {
            out!(
                "Not revoked: token {id} on {}; its session has ended: run `conda-connect logout --finish`.",
                pending.domain
            );
        } else {
            out!(
                "Not revoked yet: token {id} on {}; conda-connect retries the next time it runs.",
                pending.domain
            );
        }
    }
    Ok(())
}

/// The pip and uv settings for `channel` with the sign-in's token (on stdout: they are meant to be copied).
fn snippets(engine: &Engine, channel: &str) -> Result<()> {
    crate::engine::server_values::check_channel_name(channel)?;
    let Some((domain, token)) = engine.access_token()? else {
        return Err(Error::NotLoggedIn);
    };
    for (label, text) in crate::engine::clients::snippets::for_channel(&domain, &token, channel) {
        out!("# {label}\n{text}\n");
    }
    Ok(())
}

async fn update_index(engine: &Engine, args: JsonArgs) -> Result<()> {
    let report = engine.update_index().await?;
    let failures = engine.diagnose_index(&report.channels).await;
    if args.json {
        out!("{}", serde_json::to_string_pretty(&report).expect("json"));
    } else {
        print_index_report(&report);
    }
    if failures.is_empty() {
        return Ok(());
    }
    for failure in &failures {
        eprintln!("conda-connect: {}", printable(&failure.line()));
    }
    Err(Error::Refused {
        reason: format!(
            "{} of {} channel directories failed; conda-connect doctor checks the whole chain and names the fix.",
            failures.len(),
            report.channels.len()
        ),
    })
}

fn print_index_report(report: &crate::engine::index::IndexReport) {
    // with several servers signed in, the channels are listed per server
    let mut servers: Vec<Option<&String>> = Vec::new();
    for channel in &report.channels {
        if !servers.contains(&channel.server.as_ref()) {
            servers.push(channel.server.as_ref());
        }
    }
    let several = servers.iter().filter(|s| s.is_some()).count() > 1;
    for server in servers {
        if several {
            out!(
                "{}:",
                server
                    .map(|s| printable(s))
                    .unwrap_or("other channels".into())
            );
        }
        for channel in report
            .channels
            .iter()
            .filter(|c| c.server.as_ref() == server)
        {
            out!(
                "{}{:<40} {:<14} {:>7} packages  {}",
                if several { "  " } else { "" },
                printable(&channel.name),
                channel.subdir,
                channel.packages,
                channel.status
            );
        }
    }
    out!(
        "{} packages in {} ms",
        report.packages_total,
        report.elapsed_ms
    );
}

/// A secret piped on standard input (its first line); a terminal is refused (no prompt).
fn read_secret_line(what: &str) -> Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Err(Error::Refused {
            reason: format!(
                "Pipe the {what} into --{what}-stdin; it is not read from a terminal prompt."
            ),
        });
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| Error::io(std::path::Path::new("<stdin>"), &e))?;
    let value = line.trim().to_string();
    if value.is_empty() {
        return Err(Error::Refused {
            reason: format!("No {what} was given on standard input."),
        });
    }
    crate::engine::redact::register(&value);
    Ok(value)
}

/// A token kept in a file (a CI secret mounted as a file): its first line.
fn read_token_file(path: &std::path::Path) -> Result<String> {
    let bytes = crate::engine::files::read_optional(path)?.ok_or_else(|| Error::Refused {
        reason: format!("The token file {} does not exist.", path.display()),
    })?;
    let text = String::from_utf8_lossy(&bytes);
    let token = text.lines().next().unwrap_or("").trim().to_string();
    crate::engine::redact::register(&token);
    Ok(token)
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
    crate::engine::redact::register(&password);
    Ok(password)
}

async fn tokens(engine: &Engine, cmd: TokensCommand) -> Result<()> {
    match cmd {
        TokensCommand::List(args) => {
            let list = engine.tokens().await?;
            if args.json {
                let items: Vec<serde_json::Value> = list
                    .iter()
                    .map(|t| {
                        serde_json::json!({"id": t.id, "name": t.name, "created": t.created, "expires": t.expires,
                            "type": t.kind, "scopes": t.scopes, "sign_in_token": t.sign_in_token})
                    })
                    .collect();
                out!("{}", serde_json::to_string_pretty(&items).expect("json"));
            } else {
                for token in &list {
                    let mark = if token.sign_in_token {
                        "  (conda's sign-in token)"
                    } else {
                        ""
                    };
                    let state = match token.expiry {
                        Expiry::Expired => "  EXPIRED",
                        Expiry::Soon(_) => "  expires soon",
                        _ => "",
                    };
                    out!(
                        "{}  {:<44}  expires {}{state}{mark}",
                        token.id,
                        printable(&token.name),
                        printable(token.expires.as_deref().unwrap_or("never"))
                    );
                }
            }
        }
        TokensCommand::Scopes => {
            for scope in engine.token_scopes().await? {
                out!("{}", printable(&scope));
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
            let sign_in = engine.session()?.is_some_and(|s| {
                crate::engine::server_values::token_id(&s.token_id).as_deref() == Some(id.as_str())
            });
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

/// `env`: the CI mode (see [`crate::engine::ci_env`]).
/// Log to stderr when CONDA_CONNECT_LOG asks for it; otherwise not at all (for the commands that write nothing).
fn stderr_logging() {
    if std::env::var_os("CONDA_CONNECT_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                std::env::var("CONDA_CONNECT_LOG").unwrap_or_default(),
            ))
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(crate::engine::redact::ScrubbingWriter::new(
                std::io::stderr(),
            ))
            .try_init();
    }
}

/// `doctor`: the report on stdout; 0 when nothing fails, 1 otherwise.
async fn run_doctor(engine: Engine, args: DoctorArgs) -> i32 {
    let report = engine
        .doctor(&crate::engine::doctor::Options {
            channels: args.channels,
        })
        .await;
    if args.json {
        out!("{}", serde_json::to_string_pretty(&report).expect("json"));
    } else {
        for line in report.text().trim_end().lines() {
            out!("{}", printable(line));
        }
    }
    if report.ok { 0 } else { 1 }
}

async fn run_env(args: EnvArgs) -> Result<()> {
    stderr_logging();
    use crate::engine::ci_env::{self, EnvRequest, Shell};
    if let Some(dir) = &args.clean {
        ci_env::clean(dir)?;
        eprintln!("conda-connect: removed {}", dir.display());
        return Ok(());
    }
    let selection = (!args.default_channels.is_empty()).then(|| Selection {
        default_channels: args.default_channels.clone(),
        channels: args.channels.clone(),
    });
    if let Some(selection) = &selection {
        selection.check()?;
    }
    let token = match &args.token_file {
        Some(path) => read_token_file(path)?,
        None => read_secret_line("token")?,
    };
    let inherit = match args.inherit_condarc {
        true => Some(Paths::from_env()?.condarc),
        false => None,
    };
    let request = EnvRequest {
        domain: args.domain.clone().unwrap_or_default(),
        token: token.clone(),
        selection,
        dir: args.dir.clone(),
        inherit,
        pypi_channel: args.pypi_channel.clone(),
    };
    let prepared = ci_env::prepare(&request, &Default::default()).await?;
    let shell = match args.shell {
        ShellArg::Sh => Shell::Sh,
        ShellArg::Fish => Shell::Fish,
        ShellArg::Pwsh => Shell::Pwsh,
        ShellArg::Github => Shell::Github,
    };
    let lines = ci_env::render(shell, &prepared.vars);
    if shell == Shell::Github {
        // the runner masks the token in every later log line; then the variables go to the next steps
        out!("::add-mask::{token}");
        let target = std::env::var_os("GITHUB_ENV").ok_or_else(|| Error::Refused {
            reason: "GITHUB_ENV is not set: --shell github works inside a GitHub Actions step."
                .into(),
        })?;
        let target = PathBuf::from(target);
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&target)
            .map_err(|e| Error::io(&target, &e))?;
        file.write_all(lines.as_bytes())
            .map_err(|e| Error::io(&target, &e))?;
        eprintln!(
            "conda-connect: {} set for the next steps (files in {})",
            prepared
                .vars
                .iter()
                .map(|(name, _)| name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            prepared.dir.display()
        );
    } else {
        use std::io::Write;
        let _ = std::io::stdout().write_all(lines.as_bytes());
        eprintln!(
            "conda-connect: files in {}; remove them with `conda-connect env --clean {}`",
            prepared.dir.display(),
            prepared.dir.display()
        );
    }
    Ok(())
}

async fn run_emulator(args: EmulatorArgs) -> Result<()> {
    let port = args.port;
    let emu = Emulator::start(EmulatorConfig {
        port,
        packages_dir: args.packages_dir,
        tls: args.tls,
        sso: args.sso,
        ..Default::default()
    })
    .await
    .map_err(|e| Error::Refused {
        reason: format!("The emulator could not listen on 127.0.0.1:{port}: {e}."),
    })?;
    out!("Anaconda Server emulator at {}", emu.url);
    out!("Demo credentials: {DEMO_USER} / {DEMO_PASSWORD}");
    let given = emu.state.lock().unwrap().give_token(&demo_given_token());
    out!("A token you were given (it reads channel internal): {given}");
    out!(
        "A private Python package: pip install --index-url {}/api/repo/internal/simple corp-pyutils \
         (with `login --netrc`)",
        emu.url
    );
    use std::io::Write;
    let _ = std::io::stdout().flush();
    wait_for_termination().await;
    Ok(())
}
