//! The certificate a server presents, for the "SSL Verification Failed!" question: subject, issuer, validity and
//! SHA-256 fingerprint, so the person deciding can compare them with what their administrator published.
//!
//! Only the TLS handshake is made: the certificate is read and the connection closed before anything is sent, so no
//! credential or token ever reaches a server that is not trusted yet.

use std::collections::BTreeMap;
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

/// The certificate last refused in place of a pinned one: pinned fingerprint → presented fingerprint (so that the
/// error can name both).
static REJECTED: std::sync::Mutex<BTreeMap<String, String>> =
    std::sync::Mutex::new(BTreeMap::new());

/// The fingerprint presented instead of `pinned` the last time a connection refused it.
pub(crate) fn presented_instead_of(pinned: &str) -> Option<String> {
    REJECTED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(pinned)
        .cloned()
}

/// Accepts exactly the certificate the user trusted (its SHA-256 fingerprint), whatever its chain or name: the
/// pin of a self-signed server (docs/design.md#9-tls-trust-per-host). The handshake's signatures are checked as
/// always, so only the holder of that certificate's key passes.
#[derive(Debug)]
struct Pinned {
    fingerprint: String,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let presented = fingerprint(end_entity.as_ref());
        if presented == self.fingerprint {
            Ok(ServerCertVerified::assertion())
        } else {
            tracing::warn!(trusted = %self.fingerprint, %presented, "the server presented another certificate than the trusted one");
            REJECTED
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(self.fingerprint.clone(), presented);
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
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
            &self.provider.signature_verification_algorithms,
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
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A TLS client configuration that trusts only the certificate with this fingerprint.
pub(crate) fn pinned_tls_config(fingerprint: &str) -> Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|error| {
            tracing::error!(error = %error, "no TLS protocol version");
            Error::Refused {
                reason: "The secure connection could not be set up; see the log.".into(),
            }
        })?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Pinned {
            fingerprint: fingerprint.to_string(),
            provider,
        }))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The SHA-256 fingerprint of a DER certificate: upper-case hex pairs joined by `:`.
pub fn fingerprint(der: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, der)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A fingerprint as typed or stored (hex, with or without `:`, any case) in the shown form; `None` unless it is
/// 32 bytes of hex.
pub fn normalize_fingerprint(text: &str) -> Option<String> {
    let hex: String = text.chars().filter(|c| *c != ':').collect();
    if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let upper = hex.to_ascii_uppercase();
    Some(
        upper
            .as_bytes()
            .chunks(2)
            .map(|pair| String::from_utf8_lossy(pair).into_owned())
            .collect::<Vec<_>>()
            .join(":"),
    )
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
    let sha256 = fingerprint(der);
    Ok(CertificateInfo {
        // a server chooses these names: no control or invisible character reaches a terminal or a sentence
        subject: crate::engine::server_values::printable(&cert.subject().to_string()).into_owned(),
        issuer: crate::engine::server_values::printable(&cert.issuer().to_string()).into_owned(),
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
