//! A local Anaconda Server emulator, part of the product: `conda-connect demo` and `conda-connect emulator` run it,
//! and the tests drive conda-connect against it over loopback HTTP. It knows nothing of the engine or the GUI.

mod api;
mod archive;
pub(crate) mod conda_package;
pub mod oidc;
pub mod pypi;
pub mod state;
pub mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

pub use state::{AccessToken, DEMO_PASSWORD, DEMO_USER, Fault, FaultKind, LogEntry, State};

/// How to start the emulator.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// 0 = any free port.
    pub port: u16,
    /// Serve real package files from `<dir>/<channel>/<subdir>/<file>` (and their `repodata.json`).
    pub packages_dir: Option<PathBuf>,
    /// How many `pkgs-NNNN` channels to seed (paging).
    pub bulk_channels: usize,
    /// Serve HTTPS with a self-signed certificate.
    pub tls: bool,
    /// Sign in through a Keycloak-like realm too (single sign-on), see [`oidc`].
    pub sso: bool,
    /// How long session JWTs and SSO access tokens live (`None`: an hour).
    pub session_lifetime: Option<std::time::Duration>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            port: 0,
            packages_dir: None,
            bulk_channels: 1200,
            tls: false,
            sso: false,
            session_lifetime: None,
        }
    }
}

/// A running emulator; stops when dropped (or when its runtime ends).
pub struct Emulator {
    pub url: String,
    pub addr: SocketAddr,
    pub state: Arc<Mutex<State>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Emulator {
    /// Bind 127.0.0.1 and serve in the current tokio runtime.
    pub async fn start(config: EmulatorConfig) -> std::io::Result<Emulator> {
        let mut state = State::seeded(config.bulk_channels);
        state.packages_dir = config.packages_dir;
        if let Some(lifetime) = config.session_lifetime {
            state.session_lifetime = lifetime;
        }
        let state = Arc::new(Mutex::new(state));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port)).await?;
        let addr = listener.local_addr()?;
        let app = axum::Router::new()
            .fallback(api::handle)
            .with_state(state.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let stop = async {
            let _ = rx.await;
        };
        let scheme = if config.tls {
            let tls = tls::TlsListener::new(listener, tls::self_signed_acceptor())?;
            tokio::spawn(async move {
                let _ = axum::serve(tls, app).with_graceful_shutdown(stop).await;
            });
            "https"
        } else {
            tokio::spawn(async move {
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(stop)
                    .await;
            });
            "http"
        };
        let url = format!("{scheme}://{addr}");
        if config.sso {
            state.lock().unwrap().sso = Some(oidc::SsoRealm::new(&url));
        }
        Ok(Emulator {
            url,
            addr,
            state,
            shutdown: Some(tx),
        })
    }

    /// Inject a fault.
    pub fn inject(&self, fault: Fault) {
        self.state.lock().unwrap().faults.push(fault);
    }

    pub fn clear_faults(&self) {
        self.state.lock().unwrap().faults.clear();
    }

    /// The tokens the server holds now.
    pub fn tokens(&self) -> Vec<AccessToken> {
        self.state.lock().unwrap().tokens.clone()
    }

    pub fn log(&self) -> Vec<LogEntry> {
        self.state.lock().unwrap().log.clone()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
