//! Password hashing with argon2id (19 MiB, t=2, p=1: the OWASP baseline). Hashing runs on the
//! blocking pool so it never stalls other requests on the runtime.

use crate::domain::Password;
use anyhow::Context;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

fn argon2() -> Argon2<'static> {
    // The parameters are constants known to be valid; `Params::DEFAULT` is the fallback that
    // cannot fail and is the same OWASP setting.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or(Params::DEFAULT);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A PHC string of a password nobody knows, hashed with the same parameters. Verifying against
/// it makes "unknown user" cost the same as "wrong password".
const DECOY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$Y2hhdG1hbi1kZWNveS1zYWx0$Yy1KWs0kX/1XsA4j9lMDeNKEjc2zvBOutCAUXCuuG7o";

/// Hashes a new password into a PHC string.
pub async fn hash(password: &Password) -> anyhow::Result<String> {
    let plain = password.expose().to_owned();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::encode_b64(&super::secrets::random_bytes::<16>())
            .map_err(|e| anyhow::anyhow!("salt: {e}"))?;
        argon2()
            .hash_password(plain.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("argon2: {e}"))
    })
    .await
    .context("password hashing task")?
}

/// Checks `password` against a stored PHC string; `None` checks against the decoy so the caller
/// spends the same time whether or not the account exists.
pub async fn verify(password: &Password, stored: Option<&str>) -> anyhow::Result<bool> {
    let plain = password.expose().to_owned();
    let known = stored.is_some();
    let phc = stored.unwrap_or(DECOY_HASH).to_owned();
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&phc).map_err(|e| anyhow::anyhow!("stored hash: {e}"))?;
        let ok = argon2().verify_password(plain.as_bytes(), &parsed).is_ok();
        Ok(ok && known)
    })
    .await
    .context("password verification task")?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let p = Password::presented("correct horse battery").unwrap();
        let h = hash(&p).await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify(&p, Some(&h)).await.unwrap());
        let wrong = Password::presented("correct horse battery!").unwrap();
        assert!(!verify(&wrong, Some(&h)).await.unwrap());
    }

    #[tokio::test]
    async fn the_decoy_never_verifies_but_is_a_real_hash() {
        let p = Password::presented("anything at all").unwrap();
        assert!(PasswordHash::new(DECOY_HASH).is_ok());
        assert!(!verify(&p, None).await.unwrap());
    }
}
