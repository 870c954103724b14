//! HTTPS for the emulator with a fresh self-signed certificate (`conda-connect emulator --tls`), to try the
//! "SSL Verification Failed!" flow: no client trusts this certificate unless the user says so.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::server::TlsStream;

/// A TLS acceptor with a new self-signed certificate for 127.0.0.1 and localhost.
pub fn self_signed_acceptor() -> TlsAcceptor {
    crate::engine::client::ensure_crypto_provider();
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
        .expect("self-signed certificate");
    let der = CertificateDer::from(cert.cert.der().to_vec());
    let key = PrivateKeyDer::try_from(cert.signing_key.serialize_der()).expect("private key");
    let config = tokio_rustls::rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![der], key)
        .expect("TLS server configuration");
    TlsAcceptor::from(Arc::new(config))
}

/// A listener that completes the TLS handshake before handing the connection to axum.
pub struct TlsListener {
    pub tcp: TcpListener,
    pub acceptor: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (tcp, addr) = match self.tcp.accept().await {
                Ok(pair) => pair,
                Err(error) => {
                    tracing::warn!(error = %error, "emulator accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            // A client that refuses our certificate ends the handshake: not an error of the emulator's.
            if let Ok(tls) = self.acceptor.accept(tcp).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}
