//! The random values of one sign-in: the PKCE verifier and its S256 challenge (RFC 7636), `state` and `nonce`.

use base64::Engine as _;
use ring::rand::SecureRandom;

use crate::engine::error::{Error, Result};

/// 32 random bytes as unpadded base64url: 43 characters of the PKCE alphabet, 256 bits.
pub fn random_value() -> Result<String> {
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Error::Refused {
            reason: "The system's random number source failed; single sign-on cannot start.".into(),
        })?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// `BASE64URL(SHA256(verifier))`.
pub fn s256_challenge(verifier: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// Compare two secrets in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b() {
        assert_eq!(
            s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn values_are_fresh_and_in_the_pkce_alphabet() {
        let first = random_value().unwrap();
        let second = random_value().unwrap();
        assert_ne!(first, second);
        assert_eq!(first.len(), 43);
        assert!(
            first
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert!(same_secret(&first, &first.clone()));
        assert!(!same_secret(&first, &second));
        assert!(!same_secret(&first, &first[1..]));
    }
}
