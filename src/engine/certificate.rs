//! The certificate a server presents, for the "SSL Verification Failed!" question: subject, issuer, validity and
//! SHA-256 fingerprint, so the person deciding can compare them with what their administrator published.
//!
//! Only the TLS handshake is made: the certificate is read and the connection closed before anything is sent, so no
//! credential or token ever reaches a server that is not trusted yet.

use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::engine::{Engine, Error, Result};

/// What the trust question shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    pub subject: String,
    pub issuer: String,
    /// `YYYY-MM-DD`.
    pub not_before: String,
    pub not_after: String,
    /// Upper-case hex pairs joined by `:` (as browsers show it).
    pub sha256: String,
}

const TIMEOUT: Duration = Duration::from_secs(5);

/// Accepts any certificate: used only to read it, never to send anything over the connection.
#[derive(Debug)]
struct ReadOnly(Arc<CryptoProvider>);

impl ServerCertVerifier for ReadOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Describe a DER certificate.
pub fn describe(der: &[u8]) -> Result<CertificateInfo> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|_| Error::Malformed {
        what: "the server's certificate".into(),
    })?;
    let date = |t: &x509_parser::time::ASN1Time| {
        chrono::DateTime::from_timestamp(t.timestamp(), 0)
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_else(|| t.to_string())
    };
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    let sha256 = digest
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":");
    Ok(CertificateInfo {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        not_before: date(&cert.validity().not_before),
        not_after: date(&cert.validity().not_after),
        sha256,
    })
}

impl Engine {
    /// The certificate `domain`'s server presents (a TLS handshake only; nothing is sent).
    pub async fn server_certificate(&self, domain: &str) -> Result<CertificateInfo> {
        let url = url::Url::parse(domain).map_err(|_| Error::InvalidDomain)?;
        let host = url.host_str().ok_or(Error::InvalidDomain)?.to_string();
        let port = url.port_or_known_default().unwrap_or(443);
        let netloc = crate::engine::domain::netloc(domain);
        let unreachable = || Error::Unreachable {
            host: netloc.clone(),
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|_| unreachable())?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(ReadOnly(provider)))
            .with_no_client_auth();
        let name = ServerName::try_from(
            host.trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
        )
        .map_err(|_| Error::InvalidDomain)?;
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let handshake = async {
            let tcp = tokio::net::TcpStream::connect((
                host.trim_start_matches('[').trim_end_matches(']'),
                port,
            ))
            .await
            .map_err(|_| unreachable())?;
            let tls = connector
                .connect(name, tcp)
                .await
                .map_err(|_| unreachable())?;
            let der = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|c| c.as_ref().to_vec())
                .ok_or_else(unreachable)?;
            Ok::<_, Error>(der)
        };
        let der = tokio::time::timeout(TIMEOUT, handshake)
            .await
            .map_err(|_| Error::Timeout {
                host: netloc.clone(),
            })??;
        describe(&der)
    }
}
