//! Access tokens: EdDSA (Ed25519) JWTs. The private key lives only in the functions that sign
//! (verify-otp, token); every other function holds just the public keys, so it can check a token
//! but never mint one. The algorithm is pinned: `alg: none`, HS256 and foreign keys are refused.
//!
//! Every token names its key in a `kid` header (the key's thumbprint, `security::keys`), and a
//! verifier trusts a small set of public keys, picking by `kid`: during a rotation it holds the
//! current and the next or previous key, so changing the signing key logs nobody out
//! (docs/KEYS.md). A token without a `kid`, or with one the verifier does not hold, is refused.

use super::keys::{self, PublicKey};
use crate::domain::{SessionId, UserId};
use anyhow::{Context, ensure};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
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

/// Checks access tokens with the public keys it trusts, chosen by the token's `kid`.
#[derive(Clone)]
pub struct TokenVerifier {
    keys: HashMap<String, DecodingKey>,
    validation: Validation,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut kids: Vec<&String> = self.keys.keys().collect();
        kids.sort();
        f.debug_struct("TokenVerifier")
            .field("kids", &kids)
            .finish()
    }
}

impl TokenVerifier {
    /// Trusts every Ed25519 public key (SPKI PEM) in `pems`: one, or two during a rotation.
    pub fn from_public_pems(pems: &str, scope: &TokenScope) -> anyhow::Result<Self> {
        Ok(Self::with_keys(&keys::public_keys_from_pems(pems)?, scope))
    }

    fn with_keys(public: &[PublicKey], scope: &TokenScope) -> Self {
        let keys = public
            .iter()
            .map(|k| (k.kid.clone(), DecodingKey::from_ed_der(&k.bytes)))
            .collect();
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[&scope.issuer]);
        validation.set_audience(&[&scope.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // Expiry is checked against the caller's clock in `verify`, so tests can move time.
        validation.validate_exp = false;
        Self { keys, validation }
    }

    /// Whether tokens signed with the key `kid` are accepted.
    pub fn trusts(&self, kid: &str) -> bool {
        self.keys.contains_key(kid)
    }

    /// `None` for anything but a well-signed access token of this deployment, unexpired at `now`.
    pub fn verify(&self, token: &str, now: OffsetDateTime) -> Option<AccessClaims> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        let key = self.keys.get(header.kid.as_deref()?)?;
        let data = jsonwebtoken::decode::<Claims>(token, key, &self.validation).ok()?;
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

/// Signs access tokens with the private key; also verifies, with the trusted public keys.
#[derive(Clone)]
pub struct TokenSigner {
    key: EncodingKey,
    kid: String,
    scope: TokenScope,
    verifier: TokenVerifier,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSigner")
            .field("kid", &self.kid)
            .field("key", &"..")
            .finish()
    }
}

impl TokenSigner {
    /// Signs with `private_pem` (PKCS#8); verifies with the public keys in `public_pems`, which
    /// must include the signing key's own: a token the other functions would refuse is never
    /// issued. The error names the key id, never key material.
    pub fn from_pems(
        private_pem: &str,
        public_pems: &str,
        scope: TokenScope,
    ) -> anyhow::Result<Self> {
        let verifier = TokenVerifier::from_public_pems(public_pems, &scope)?;
        Self::with_verifier(private_pem, verifier, scope)
    }

    /// Signs with `private_pem`, verifying with an already configured `verifier`.
    pub fn with_verifier(
        private_pem: &str,
        verifier: TokenVerifier,
        scope: TokenScope,
    ) -> anyhow::Result<Self> {
        let seed = keys::private_seed_from_pem(private_pem).context("JWT private key")?;
        let kid = keys::public_of(&seed).kid;
        ensure!(
            verifier.trusts(&kid),
            "the JWT signing key (kid {kid}) is not among the trusted public keys"
        );
        Ok(Self {
            key: EncodingKey::from_ed_der(&keys::pkcs8_der(&seed)),
            kid,
            scope,
            verifier,
        })
    }

    /// A fresh key pair that lives as long as the process (local server, tests, benchmarks).
    pub fn ephemeral(scope: TokenScope) -> Self {
        let seed: [u8; 32] = super::secrets::random_bytes();
        let public = keys::public_of(&seed);
        let verifier = TokenVerifier::with_keys(std::slice::from_ref(&public), &scope);
        Self {
            key: EncodingKey::from_ed_der(&keys::pkcs8_der(&seed)),
            kid: public.kid,
            scope,
            verifier,
        }
    }

    pub fn verifier(&self) -> &TokenVerifier {
        &self.verifier
    }

    /// The key id every token this signer issues carries.
    pub fn kid(&self) -> &str {
        &self.kid
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
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        let token =
            jsonwebtoken::encode(&header, &claims, &self.key).context("signing an access token")?;
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

    fn pems(seed: u8) -> (String, String) {
        keys::pems_of(&[seed; 32])
    }

    #[test]
    fn tokens_carry_the_kid_of_their_key() {
        let (private, public) = pems(7);
        let signer = TokenSigner::from_pems(&private, &public, scope()).unwrap();
        let (token, _) = signer
            .access_token(&UserId::new(), &SessionId::new(), 0, now())
            .unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.kid.as_deref(), Some(signer.kid()));
        assert_eq!(signer.kid(), keys::public_of(&[7; 32]).kid);
    }

    #[test]
    fn during_a_rotation_tokens_of_the_previous_and_the_new_key_both_verify() {
        let ((old_private, old_public), (new_private, new_public)) = (pems(1), pems(2));
        let both = format!("{new_public}{old_public}");
        let old = TokenSigner::from_pems(&old_private, &both, scope()).unwrap();
        let new = TokenSigner::from_pems(&new_private, &both, scope()).unwrap();
        let verifier = TokenVerifier::from_public_pems(&both, &scope()).unwrap();
        for signer in [&old, &new] {
            let (token, _) = signer
                .access_token(&UserId::new(), &SessionId::new(), 0, now())
                .unwrap();
            assert!(verifier.verify(&token, now()).is_some());
        }
        // Once the old key is dropped, its tokens are refused.
        let (token, _) = old
            .access_token(&UserId::new(), &SessionId::new(), 0, now())
            .unwrap();
        let after = TokenVerifier::from_public_pems(&new_public, &scope()).unwrap();
        assert!(after.verify(&token, now()).is_none());
    }

    #[test]
    fn a_signer_whose_key_the_verifiers_do_not_trust_is_refused() {
        let (private, _) = pems(1);
        let (_, other_public) = pems(2);
        let error = TokenSigner::from_pems(&private, &other_public, scope())
            .unwrap_err()
            .to_string();
        assert!(error.contains(&keys::public_of(&[1; 32]).kid), "{error}");
        assert!(!error.contains("PRIVATE"), "{error}");
    }

    fn with_header(token: &str, header: serde_json::Value) -> String {
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        parts[0] = URL_SAFE_NO_PAD.encode(header.to_string());
        parts.join(".")
    }

    #[test]
    fn a_missing_or_unknown_kid_is_refused_even_with_a_valid_signature_elsewhere() {
        let signer = TokenSigner::ephemeral(scope());
        let (token, _) = signer
            .access_token(&UserId::new(), &SessionId::new(), 0, now())
            .unwrap();
        let no_kid = with_header(&token, serde_json::json!({"alg": "EdDSA", "typ": "JWT"}));
        let unknown = with_header(
            &token,
            serde_json::json!({"alg": "EdDSA", "typ": "JWT", "kid": "not-a-key"}),
        );
        for forged in [no_kid, unknown] {
            assert!(signer.verifier().verify(&forged, now()).is_none());
        }
    }

    #[test]
    fn an_hs256_token_with_a_trusted_kid_is_refused() {
        let signer = TokenSigner::ephemeral(scope());
        let (token, _) = signer
            .access_token(&UserId::new(), &SessionId::new(), 0, now())
            .unwrap();
        let claims: serde_json::Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(token.split('.').nth(1).unwrap())
                .unwrap(),
        )
        .unwrap();
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(signer.kid().to_owned());
        // An attacker's guess at an HMAC key: the public key's bytes.
        let key = jsonwebtoken::EncodingKey::from_secret(signer.kid().as_bytes());
        let forged = jsonwebtoken::encode(&header, &claims, &key).unwrap();
        assert!(signer.verifier().verify(&forged, now()).is_none());
    }

    #[test]
    fn debug_output_names_key_ids_only() {
        let (private, public) = pems(9);
        let signer = TokenSigner::from_pems(&private, &public, scope()).unwrap();
        let debug = format!("{signer:?} {:?}", signer.verifier());
        assert!(debug.contains(signer.kid()), "{debug}");
        assert!(
            !debug.contains("BEGIN") && !debug.contains("MC4C"),
            "{debug}"
        );
    }
}
