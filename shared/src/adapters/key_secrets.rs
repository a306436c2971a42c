//! The two keys kept in Secrets Manager, turned into what the services use on first use: the
//! signup-code key (`OtpKey`) and the access-token signer (`TokenSigner`). Both handles are
//! cheap to clone and share one fetch.

use super::secrets_manager::SecretOnFirstUse;
use crate::security::jwt::{TokenScope, TokenSigner, TokenVerifier};
use crate::security::otp::OtpKey;
use anyhow::Context;
use std::sync::Arc;

/// The signup-code key: the whole `SecretString` (the template generates 48 characters).
#[derive(Debug, Clone)]
pub struct OtpKeySecret(Arc<SecretOnFirstUse>);

impl OtpKeySecret {
    pub fn new(secret: SecretOnFirstUse) -> Self {
        Self(Arc::new(secret))
    }

    pub async fn key(&self) -> anyhow::Result<OtpKey> {
        let text = self.0.get().await?;
        OtpKey::new(text.expose().as_bytes())
            .with_context(|| format!("the OTP secret {}", self.0.secret_id()))
    }
}

/// The JWT signing key: the `SecretString` is an Ed25519 PKCS#8 PEM, whose public key must be
/// among the verifiers' trusted keys (`JWT_PUBLIC_KEYS`).
#[derive(Debug, Clone)]
pub struct SigningKeySecret {
    secret: Arc<SecretOnFirstUse>,
    verifier: TokenVerifier,
    scope: TokenScope,
}

impl SigningKeySecret {
    pub fn new(secret: SecretOnFirstUse, verifier: TokenVerifier, scope: TokenScope) -> Self {
        Self {
            secret: Arc::new(secret),
            verifier,
            scope,
        }
    }

    pub async fn signer(&self) -> anyhow::Result<TokenSigner> {
        let text = self.secret.get().await?;
        TokenSigner::with_verifier(text.expose(), self.verifier.clone(), self.scope.clone())
            .with_context(|| format!("the JWT signing key in {}", self.secret.secret_id()))
    }
}
