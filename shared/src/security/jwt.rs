//! Access tokens: EdDSA (Ed25519) JWTs. The private key lives only in the functions that sign
//! (verify-otp, token); every other function holds just the public key, so it can check a token
//! but never mint one. The algorithm is pinned: `alg: none`, HS256 and foreign keys are refused.

use crate::domain::{SessionId, UserId};
use anyhow::Context;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

/// Access tokens live 15 minutes.
pub const ACCESS_TTL: Duration = Duration::minutes(15);
const ACCESS_TYPE: &str = "access";

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    sid: String,
    /// The user's session epoch when issued: logout-all and password changes bump it.
    ep: u64,
    typ: String,
    iss: String,
    aud: String,
    iat: i64,
    exp: i64,
}

/// What a verified access token says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessClaims {
    pub user_id: UserId,
    pub session_id: SessionId,
    pub epoch: u64,
}

/// Issuer and audience every token carries and every check demands.
#[derive(Debug, Clone)]
pub struct TokenScope {
    pub issuer: String,
    pub audience: String,
}

/// Checks access tokens with the public key.
#[derive(Clone)]
pub struct TokenVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl TokenVerifier {
    pub fn from_public_pem(pem: &str, scope: &TokenScope) -> anyhow::Result<Self> {
        let key = DecodingKey::from_ed_pem(pem.as_bytes()).context("JWT public key (PEM)")?;
        Ok(Self::with_key(key, scope))
    }

    fn with_key(key: DecodingKey, scope: &TokenScope) -> Self {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[&scope.issuer]);
        validation.set_audience(&[&scope.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // Expiry is checked against the caller's clock in `verify`, so tests can move time.
        validation.validate_exp = false;
        Self { key, validation }
    }

    /// `None` for anything but a well-signed access token of this deployment, unexpired at `now`.
    pub fn verify(&self, token: &str, now: OffsetDateTime) -> Option<AccessClaims> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation).ok()?;
        let claims = data.claims;
        if claims.typ != ACCESS_TYPE || now.unix_timestamp() >= claims.exp {
            return None;
        }
        Some(AccessClaims {
            user_id: UserId::parse(&claims.sub).ok()?,
            session_id: SessionId::parse(&claims.sid).ok()?,
            epoch: claims.ep,
        })
    }
}

/// Signs access tokens with the private key; also verifies, with the matching public key.
#[derive(Clone)]
pub struct TokenSigner {
    key: EncodingKey,
    scope: TokenScope,
    verifier: TokenVerifier,
}

impl TokenSigner {
    pub fn from_pems(
        private_pem: &str,
        public_pem: &str,
        scope: TokenScope,
    ) -> anyhow::Result<Self> {
        let key =
            EncodingKey::from_ed_pem(private_pem.as_bytes()).context("JWT private key (PEM)")?;
        let verifier = TokenVerifier::from_public_pem(public_pem, &scope)?;
        Ok(Self {
            key,
            scope,
            verifier,
        })
    }

    /// A fresh key pair that lives as long as the process (local server, tests, benchmarks).
    pub fn ephemeral(scope: TokenScope) -> Self {
        let seed: [u8; 32] = super::secrets::random_bytes();
        let public = ed25519_dalek::SigningKey::from_bytes(&seed)
            .verifying_key()
            .to_bytes();
        // PKCS#8 v1 wrapping of an Ed25519 seed (RFC 8410): fixed 16-byte prefix + seed.
        let mut pkcs8 = vec![
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        pkcs8.extend_from_slice(&seed);
        let verifier = TokenVerifier::with_key(DecodingKey::from_ed_der(&public), &scope);
        Self {
            key: EncodingKey::from_ed_der(&pkcs8),
            scope,
            verifier,
        }
    }

    pub fn verifier(&self) -> &TokenVerifier {
        &self.verifier
    }

    /// A signed access token and its lifetime in seconds.
    pub fn access_token(
        &self,
        user: &UserId,
        session: &SessionId,
        epoch: u64,
        now: OffsetDateTime,
    ) -> anyhow::Result<(String, i64)> {
        let claims = Claims {
            sub: user.to_string(),
            sid: session.to_string(),
            ep: epoch,
            typ: ACCESS_TYPE.to_owned(),
            iss: self.scope.issuer.clone(),
            aud: self.scope.audience.clone(),
            iat: now.unix_timestamp(),
            exp: (now + ACCESS_TTL).unix_timestamp(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, &self.key)
            .context("signing an access token")?;
        Ok((token, ACCESS_TTL.whole_seconds()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

    fn scope() -> TokenScope {
        TokenScope {
            issuer: "chatman-test".into(),
            audience: "chatman-api".into(),
        }
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    #[test]
    fn a_signed_token_verifies_and_carries_its_claims() {
        let signer = TokenSigner::ephemeral(scope());
        let (u, s) = (UserId::new(), SessionId::new());
        let (token, ttl) = signer.access_token(&u, &s, 3, now()).unwrap();
        assert_eq!(ttl, 900);
        let claims = signer.verifier().verify(&token, now()).unwrap();
        assert_eq!(
            claims,
            AccessClaims {
                user_id: u,
                session_id: s,
                epoch: 3
            }
        );
    }

    #[test]
    fn a_token_signed_with_another_key_is_refused() {
        let (mine, theirs) = (
            TokenSigner::ephemeral(scope()),
            TokenSigner::ephemeral(scope()),
        );
        let (token, _) = theirs
            .access_token(&UserId::new(), &SessionId::new(), 0, now())
            .unwrap();
        assert!(mine.verifier().verify(&token, now()).is_none());
    }

    #[test]
    fn an_expired_token_is_refused() {
        let signer = TokenSigner::ephemeral(scope());
        let issued = now();
        let (token, _) = signer
            .access_token(&UserId::new(), &SessionId::new(), 0, issued)
            .unwrap();
        assert!(
            signer
                .verifier()
                .verify(
                    &token,
                    issued + Duration::minutes(15) - Duration::seconds(1)
                )
                .is_some()
        );
        assert!(
            signer
                .verifier()
                .verify(&token, issued + Duration::minutes(15))
                .is_none()
        );
    }

    #[test]
    fn an_alg_none_token_is_refused() {
        let signer = TokenSigner::ephemeral(scope());
        let (token, _) = signer
            .access_token(&UserId::new(), &SessionId::new(), 0, now())
            .unwrap();
        let payload = token.split('.').nth(1).unwrap();
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        assert!(
            signer
                .verifier()
                .verify(&format!("{header}.{payload}."), now())
                .is_none()
        );
    }

    #[test]
    fn a_tampered_payload_is_refused() {
        let signer = TokenSigner::ephemeral(scope());
        let (token, _) = signer
            .access_token(&UserId::new(), &SessionId::new(), 0, now())
            .unwrap();
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let mut claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
        claims["ep"] = serde_json::json!(99);
        parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
        assert!(signer.verifier().verify(&parts.join("."), now()).is_none());
    }

    #[test]
    fn a_token_for_another_audience_is_refused() {
        let signer = TokenSigner::ephemeral(scope());
        let other = TokenSigner {
            scope: TokenScope {
                issuer: "chatman-test".into(),
                audience: "elsewhere".into(),
            },
            ..signer.clone()
        };
        let (token, _) = other
            .access_token(&UserId::new(), &SessionId::new(), 0, now())
            .unwrap();
        assert!(signer.verifier().verify(&token, now()).is_none());
    }

    #[test]
    fn garbage_is_refused() {
        let signer = TokenSigner::ephemeral(scope());
        for junk in ["", "abc", "a.b.c", "....", &"x".repeat(5000)] {
            assert!(signer.verifier().verify(junk, now()).is_none());
        }
    }
}
