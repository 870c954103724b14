use std::path::{Path, PathBuf};
use std::time::Duration;

use conda_connect::emulator::{
    DEMO_PASSWORD, DEMO_USER, Emulator, EmulatorConfig, Fault, FaultKind,
};
use conda_connect::engine::Engine;
use conda_connect::engine::client::ClientConfig;
use conda_connect::engine::paths::Paths;
use conda_connect::engine::secrets::{SecretStore, SecretsMode};
use conda_connect::engine::sso::SsoOptions;

pub const USER_CONDARC: &str = "# my conda settings\nchannels:   # where packages come from\n  - conda-forge\n  - defaults\nssl_verify: true\n\nenvs_dirs:\n  - ~/envs   # big disk\ndefault_channels: [old-main]\n";

pub struct World {
    pub home: tempfile::TempDir,
    pub paths: Paths,
    pub emu: Emulator,
}

impl World {
    pub async fn new() -> World {
        Self::with_config(EmulatorConfig::default()).await
    }

    pub async fn with_config(config: EmulatorConfig) -> World {
        let home = tempfile::tempdir().unwrap();
        let paths = Paths::under_home(home.path());
        let emu = Emulator::start(config).await.unwrap();
        World { home, paths, emu }
    }

    pub fn engine(&self) -> Engine {
        let mut engine = Engine::new(
            self.paths.clone(),
            SecretStore::open(&self.paths, SecretsMode::File),
        );
        engine.client_defaults = ClientConfig {
            timeout: Some(Duration::from_secs(2)),
            system_timeout: Some(Duration::from_secs(2)),
            ..Default::default()
        };
        engine
    }

    pub fn write_condarc(&self, text: &str) {
        std::fs::write(&self.paths.condarc, text).unwrap();
    }

    pub fn condarc(&self) -> Option<String> {
        std::fs::read_to_string(&self.paths.condarc).ok()
    }

    pub fn ini(&self) -> Option<String> {
        std::fs::read_to_string(&self.paths.navigator_ini).ok()
    }

    pub fn fault(&self, prefix: &str, method: Option<&str>, kind: FaultKind) {
        self.emu.inject(Fault {
            path_prefix: prefix.into(),
            method: method.map(str::to_string),
            kind,
            times: None,
        });
    }

    /// Every token file that exists under HOME.
    pub fn token_files(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        walk(self.home.path(), &mut out);
        out.retain(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.ends_with(".token") || name.ends_with(".jwt")
        });
        out
    }

    /// A snapshot of every file under HOME (path → bytes), to assert "nothing changed".
    pub fn files(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut out = Vec::new();
        walk(self.home.path(), &mut out);
        out.sort();
        out.into_iter()
            .filter(|p| !p.ends_with("lock") && !p.to_string_lossy().ends_with(".log"))
            .map(|p| {
                let bytes = std::fs::read(&p).unwrap();
                (p, bytes)
            })
            .collect()
    }

    /// [`World::files`] without Navigator's snapshot store, which sign-out keeps by design (remembered selection).
    pub fn user_files(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let storage = self.paths.condarc_storage.clone();
        self.files()
            .into_iter()
            .filter(|(p, _)| !p.starts_with(&storage) && !p.starts_with(&self.paths.cache_dir))
            .collect()
    }

    pub async fn set_domain(&self) {
        self.engine()
            .set_domain(&self.emu.url, false)
            .await
            .unwrap();
    }

    pub async fn login(&self) -> conda_connect::engine::session::LoginOutcome {
        self.engine().login(DEMO_USER, DEMO_PASSWORD).await.unwrap()
    }
}

pub fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out)
            } else {
                out.push(path)
            }
        }
    }
}

#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// An HTTPS front for a plain-HTTP server, with a fresh self-signed certificate for 127.0.0.1 (the emulator's
/// own): the TLS handshake happens here, the bytes go on to `backend`. Returns its `https://127.0.0.1:PORT` URL.
pub async fn self_signed_https_front(backend: std::net::SocketAddr) -> String {
    let acceptor = conda_connect::emulator::tls::self_signed_acceptor();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
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
    format!("https://{addr}")
}

/// An HTTPS front whose certificate can be replaced while it runs (a server whose certificate changed after the
/// user trusted it).
pub struct SwappableTlsFront {
    pub url: String,
    acceptor: std::sync::Arc<std::sync::Mutex<tokio_rustls::TlsAcceptor>>,
}

impl SwappableTlsFront {
    pub async fn start(backend: std::net::SocketAddr) -> SwappableTlsFront {
        let acceptor = std::sync::Arc::new(std::sync::Mutex::new(
            conda_connect::emulator::tls::self_signed_acceptor(),
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let current = acceptor.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = current.lock().unwrap().clone();
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
        SwappableTlsFront {
            url: format!("https://{addr}"),
            acceptor,
        }
    }

    /// A new self-signed certificate from now on.
    pub fn swap(&self) {
        self.serve(conda_connect::emulator::tls::self_signed_acceptor());
    }

    /// This acceptor's certificate from now on.
    pub fn serve(&self, acceptor: tokio_rustls::TlsAcceptor) {
        *self.acceptor.lock().unwrap() = acceptor;
    }
}

/// A certificate authority of the tests' own, one that no trust store holds (a company's TLS-inspection CA, say),
/// and the server certificates it issues.
pub struct TestCa {
    issuer: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
}

impl TestCa {
    pub fn new(name: &str) -> TestCa {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let key = rcgen::KeyPair::generate().unwrap();
        TestCa {
            issuer: rcgen::CertifiedIssuer::self_signed(params, key).unwrap(),
        }
    }

    /// The CA certificate as PEM (what `ssl_verify: <bundle>` names).
    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A TLS acceptor serving a certificate this CA issued for `names`: valid (rcgen's default span, 1975 to
    /// 4096), or one that expired in 2021.
    pub fn acceptor(&self, names: &[&str], expired: bool) -> tokio_rustls::TlsAcceptor {
        use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = rcgen::CertificateParams::new(names).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "conda-connect test server");
        if expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let config = tokio_rustls::rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(cert.der().to_vec())],
                PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
            )
            .unwrap();
        tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config))
    }
}

/// The real binary, run with HOME = `home` (and nothing else of the environment that could point elsewhere).
pub fn cli_command(
    home: &Path,
    args: &[&str],
    extra_env: &[(&str, &str)],
) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_conda-connect"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("CONDA_CONNECT_SECRETS", "file")
        .env("NO_PROXY", "*");
    // Windows takes the home from USERPROFILE, and its sockets need SystemRoot
    if cfg!(windows) {
        cmd.env("USERPROFILE", home);
        for name in ["SystemRoot", "SYSTEMROOT", "windir"] {
            if let Some(value) = std::env::var_os(name) {
                cmd.env(name, value);
            }
        }
    }
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    cmd
}

/// Windows error codes with which Wine's `CreateProcess` now and then fails on a loaded machine
/// (ERROR_NOT_ENOUGH_MEMORY, ERROR_INTERNAL_ERROR, ERROR_NO_SYSTEM_RESOURCES): the process never started.
const TRANSIENT_SPAWN_ERRORS: [i32; 3] = [8, 1359, 1450];

/// Start the binary, trying again (at most 5 times) when the system failed to create the process at all:
/// Wine does that under load, and a test of conda-connect must not fail for it. Any other error fails at once.
pub fn spawn_binary(cmd: &mut std::process::Command) -> std::process::Child {
    let mut attempt = 0;
    loop {
        match cmd.spawn() {
            Ok(child) => return child,
            Err(error)
                if cfg!(windows)
                    && attempt < 5
                    && error
                        .raw_os_error()
                        .is_some_and(|code| TRANSIENT_SPAWN_ERRORS.contains(&code)) =>
            {
                attempt += 1;
                eprintln!("spawn conda-connect failed ({error}); trying again ({attempt}/5)");
                std::thread::sleep(Duration::from_millis(200 * attempt));
            }
            Err(error) => panic!("spawn conda-connect: {error:?}"),
        }
    }
}

/// Run the binary to completion (off the async runtime), feeding `stdin`.
pub async fn cli(
    home: &Path,
    args: &[&str],
    stdin: Option<&str>,
    extra_env: &[(&str, &str)],
) -> std::process::Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut cmd = cli_command(home, args, extra_env);
    let stdin = stdin.map(str::to_string);
    tokio::task::spawn_blocking(move || {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = spawn_binary(&mut cmd);
        if let Some(input) = stdin {
            // a command that fails early (a usage error) may exit before reading: a closed pipe is fine
            let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
        }
        drop(child.stdin.take());
        child.wait_with_output().expect("wait")
    })
    .await
    .unwrap()
}

/// `conda-connect login --username <username> --password-stdin <extra…>` in the real binary, the password piped in.
pub async fn cli_login_as(
    home: &Path,
    username: &str,
    password: &str,
    extra: &[&str],
    extra_env: &[(&str, &str)],
) -> std::process::Output {
    let mut args = vec!["login", "--username", username, "--password-stdin"];
    args.extend_from_slice(extra);
    cli(home, &args, Some(&format!("{password}\n")), extra_env).await
}

/// [`cli_login_as`] the demo user, with `extra` options (`--default-channel main`, `--skip-channels`…).
pub async fn cli_login(home: &Path, extra: &[&str]) -> std::process::Output {
    cli_login_as(home, DEMO_USER, DEMO_PASSWORD, extra, &[]).await
}

/// An emulator with the single sign-on realm (Keycloak-like) and only the seeded channels.
pub fn sso_emulator() -> EmulatorConfig {
    EmulatorConfig {
        bulk_channels: 0,
        sso: true,
        ..Default::default()
    }
}

/// A world whose server signs in through its realm (no domain set yet).
pub async fn sso_world() -> World {
    World::with_config(sso_emulator()).await
}

/// Single sign-on options: the default client (or `client_id`), waiting at most `wait_secs` for the browser.
pub fn sso_options(client_id: Option<&str>, wait_secs: u64) -> SsoOptions {
    SsoOptions {
        client_id: client_id.map(str::to_string),
        wait: Some(Duration::from_secs(wait_secs)),
    }
}

pub fn output_text(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Compare two file snapshots, reporting only the paths that differ (never the contents: they hold tokens).
#[track_caller]
pub fn assert_same_files(
    actual: &[(PathBuf, Vec<u8>)],
    expected: &[(PathBuf, Vec<u8>)],
    what: &str,
) {
    let mut diffs = Vec::new();
    for (p, b) in actual {
        match expected.iter().find(|(q, _)| q == p) {
            None => diffs.push(format!("added {}", p.display())),
            Some((_, c)) if c != b => diffs.push(format!("changed {}", p.display())),
            _ => {}
        }
    }
    for (q, _) in expected {
        if !actual.iter().any(|(p, _)| p == q) {
            diffs.push(format!("removed {}", q.display()));
        }
    }
    assert!(diffs.is_empty(), "{what}: {diffs:?}");
}

/// Run a real client whose native code has crashed now and then on a loaded CI machine (py-rattler: SIGSEGV, no
/// exit code): a run killed by a signal is tried again, twice at most; an answer (an exit code) counts at once.
pub fn retry_if_killed(run: impl Fn() -> std::process::Output) -> std::process::Output {
    let mut output = run();
    for _ in 0..2 {
        if output.status.code().is_some() {
            break;
        }
        eprintln!("the client crashed ({:?}); trying it again", output.status);
        output = run();
    }
    output
}
