//! The ID token, checked as OpenID Connect Core 1.0 §3.1.3.7 requires before a sign-in goes on: the signature
//! against the realm's published keys (JWKS) with an algorithm the realm's configuration lists — never `none`,
//! never one the configuration does not name —, the issuer, the audience (and `azp` when there are several, or when
//! it is given), `exp` and `iat` with a minute of clock skew, and the `nonce` of this sign-in. An answer to a
//! sign-in that asked for `openid` must carry an ID token at all. The account it names is what the user is asked
//! to confirm. RS256/384/512, PS256/384/512 and ES256/384 are verified with `ring` (already in the tree for TLS);
//! see docs/design.md#18-single-sign-on for why this is hand-written.

use base64::Engine as _;
use serde::Deserialize;

use super::discovery::Realm;
use super::http::{MAX_SSO_BODY, Origin, location, read_body};
use super::messages::refused;
use super::pkce::same_secret;
use crate::engine::error::{Error, Result};

/// Clock skew allowed between this machine and the identity provider.
const SKEW_SECS: i64 = 60;
const KEYS: &str = "the identity provider's signing keys";

/// What the ID token must say.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    pub client_id: &'a str,
    /// The nonce this sign-in sent (`None` for the device flow and refreshes, which send none).
    pub nonce: Option<&'a str>,
}

/// The sentence for an ID token that fails a check (the log says which).
pub const UNVERIFIED: &str = "The identity provider's answer could not be verified, so the sign-in was refused; \
start the sign-in again, and if it happens again tell your administrator.";

fn unverified(why: &str) -> Error {
    tracing::warn!(why, "ID token refused");
    refused(UNVERIFIED)
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    iss: Option<String>,
    #[serde(default)]
    aud: Option<serde_json::Value>,
    #[serde(default)]
    azp: Option<String>,
    #[serde(default)]
    exp: Option<i64>,
    #[serde(default)]
    iat: Option<i64>,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    preferred_username: Option<String>,
    #[serde(default)]
    email: Option<String>,
}

#[derive(Deserialize)]
struct KeySet {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    kty: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default, rename = "use")]
    usage: Option<String>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
}

fn b64(part: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .ok()
}

/// The algorithms this checker verifies.
const VERIFIABLE: [&str; 8] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
];

/// Check `id_token` as the realm's answer to this sign-in; the account it names.
pub async fn validate(realm: &Realm, id_token: &str, expected: Expected<'_>) -> Result<String> {
    let parts: Vec<&str> = id_token.split('.').collect();
    let [header, payload, signature] = parts.as_slice() else {
        return Err(unverified("not three parts"));
    };
    let header: Header = b64(header)
        .and_then(|h| serde_json::from_slice(&h).ok())
        .ok_or_else(|| unverified("header"))?;
    let claims: Claims = b64(payload)
        .and_then(|p| serde_json::from_slice(&p).ok())
        .ok_or_else(|| unverified("payload"))?;
    let signature = b64(signature).ok_or_else(|| unverified("signature encoding"))?;
    // the algorithm: never `none`, only one the realm lists (RS256 when it lists none), and one verified here
    let listed = if realm.endpoints.id_token_algs.is_empty() {
        vec!["RS256".to_string()]
    } else {
        realm.endpoints.id_token_algs.clone()
    };
    if header.alg.eq_ignore_ascii_case("none")
        || !listed.contains(&header.alg)
        || !VERIFIABLE.contains(&header.alg.as_str())
    {
        return Err(unverified("algorithm not allowed"));
    }
    let keys = signing_keys(realm).await?;
    let signed = &id_token[..parts[0].len() + 1 + parts[1].len()];
    let candidates: Vec<&Jwk> = keys
        .iter()
        .filter(|k| k.usage.as_deref().is_none_or(|u| u == "sig"))
        .filter(|k| k.alg.as_deref().is_none_or(|a| a == header.alg))
        .filter(|k| match (&header.kid, &k.kid) {
            (Some(wanted), Some(kid)) => wanted == kid,
            (Some(_), None) => false,
            (None, _) => true,
        })
        .collect();
    if !candidates
        .iter()
        .any(|key| verify(&header.alg, key, signed.as_bytes(), &signature))
    {
        return Err(unverified("signature"));
    }
    check_claims(realm, &claims, expected)?;
    Ok(claims
        .preferred_username
        .or(claims.email)
        .or(claims.sub)
        .unwrap_or_default())
}

fn check_claims(realm: &Realm, claims: &Claims, expected: Expected<'_>) -> Result<()> {
    let issuer = realm.endpoints.issuer.as_deref();
    if issuer.is_none() || claims.iss.as_deref() != issuer {
        return Err(unverified("issuer"));
    }
    let audiences: Vec<&str> = match &claims.aud {
        Some(serde_json::Value::String(one)) => vec![one.as_str()],
        Some(serde_json::Value::Array(many)) => many.iter().filter_map(|a| a.as_str()).collect(),
        _ => Vec::new(),
    };
    if !audiences.contains(&expected.client_id) {
        return Err(unverified("audience"));
    }
    match claims.azp.as_deref() {
        Some(azp) if azp != expected.client_id => return Err(unverified("authorized party")),
        None if audiences.len() > 1 => return Err(unverified("authorized party missing")),
        _ => {}
    }
    let now = chrono::Utc::now().timestamp();
    match claims.exp {
        Some(exp) if exp + SKEW_SECS > now => {}
        _ => return Err(unverified("expired")),
    }
    match claims.iat {
        Some(iat) if iat - SKEW_SECS <= now => {}
        _ => return Err(unverified("issued in the future or undated")),
    }
    if let Some(nonce) = expected.nonce {
        match claims.nonce.as_deref() {
            Some(got) if same_secret(got, nonce) => {}
            _ => return Err(unverified("nonce")),
        }
    }
    Ok(())
}

fn verify(alg: &str, key: &Jwk, message: &[u8], signature: &[u8]) -> bool {
    use ring::signature as sig;
    match (alg, key.kty.as_str()) {
        (_, "RSA") if alg.starts_with("RS") || alg.starts_with("PS") => {
            let (Some(n), Some(e)) = (
                key.n.as_deref().and_then(b64),
                key.e.as_deref().and_then(b64),
            ) else {
                return false;
            };
            let params: &sig::RsaParameters = match alg {
                "RS256" => &sig::RSA_PKCS1_2048_8192_SHA256,
                "RS384" => &sig::RSA_PKCS1_2048_8192_SHA384,
                "RS512" => &sig::RSA_PKCS1_2048_8192_SHA512,
                "PS256" => &sig::RSA_PSS_2048_8192_SHA256,
                "PS384" => &sig::RSA_PSS_2048_8192_SHA384,
                "PS512" => &sig::RSA_PSS_2048_8192_SHA512,
                _ => return false,
            };
            sig::RsaPublicKeyComponents { n: &n, e: &e }
                .verify(params, message, signature)
                .is_ok()
        }
        ("ES256" | "ES384", "EC") => {
            let (algorithm, curve, size): (&sig::EcdsaVerificationAlgorithm, _, _) = match alg {
                "ES256" => (&sig::ECDSA_P256_SHA256_FIXED, "P-256", 32),
                _ => (&sig::ECDSA_P384_SHA384_FIXED, "P-384", 48),
            };
            let (Some(x), Some(y)) = (
                key.x.as_deref().and_then(b64),
                key.y.as_deref().and_then(b64),
            ) else {
                return false;
            };
            if key.crv.as_deref() != Some(curve) || x.len() != size || y.len() != size {
                return false;
            }
            let mut point = vec![4u8];
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            sig::UnparsedPublicKey::new(algorithm, point)
                .verify(message, signature)
                .is_ok()
        }
        _ => false,
    }
}

/// The realm's JWKS (a GET, no redirect followed, size capped).
async fn signing_keys(realm: &Realm) -> Result<Vec<Jwk>> {
    let Some(url) = &realm.endpoints.jwks else {
        return Err(unverified("the configuration names no signing keys"));
    };
    let resp = realm.http.get(url, "application/json", KEYS).await?;
    if let Some(target) = location(&resp, url) {
        return Err(Error::Redirected {
            host: Origin::netloc(&target),
        });
    }
    if !resp.status().is_success() {
        return Err(Error::Http {
            status: resp.status().as_u16(),
            what: KEYS.into(),
        });
    }
    let body = read_body(resp, MAX_SSO_BODY, url, KEYS).await?;
    let set: KeySet =
        serde_json::from_slice(&body).map_err(|_| Error::Malformed { what: KEYS.into() })?;
    Ok(set.keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ec_signature_verifies_and_a_changed_message_does_not() {
        use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let public = pair.public_key().as_ref();
        let enc = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let key = Jwk {
            kty: "EC".into(),
            kid: None,
            usage: None,
            alg: None,
            n: None,
            e: None,
            crv: Some("P-256".into()),
            x: Some(enc(&public[1..33])),
            y: Some(enc(&public[33..65])),
        };
        let signature = pair.sign(&rng, b"head.body").unwrap();
        assert!(verify("ES256", &key, b"head.body", signature.as_ref()));
        assert!(!verify("ES256", &key, b"head.bodz", signature.as_ref()));
        assert!(!verify("RS256", &key, b"head.body", signature.as_ref()));
        assert!(!verify("none", &key, b"head.body", b""));
    }
}
