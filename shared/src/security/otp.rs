//! One-time signup codes. A code is derived from a server-held key, the signup id and a round
//! number, so "resend" can mail the same still-valid code while only a keyed hash is stored: a
//! leaked table reveals no code, and each signup has its own code.

use crate::domain::{OtpCode, SignupId};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// The secret behind signup codes (`OTP_SECRET`). At least 32 bytes.
#[derive(Clone)]
pub struct OtpKey(Vec<u8>);

impl std::fmt::Debug for OtpKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OtpKey(..)")
    }
}

impl OtpKey {
    pub fn new(secret: &[u8]) -> anyhow::Result<Self> {
        anyhow::ensure!(secret.len() >= 32, "OTP secret must be at least 32 bytes");
        Ok(Self(secret.to_vec()))
    }

    /// A fresh random key (local server, tests).
    pub fn generate() -> Self {
        Self(super::secrets::random_bytes::<32>().to_vec())
    }

    fn mac(&self, label: &[u8], signup: &SignupId, tail: &[u8]) -> [u8; 32] {
        // A key of any length is accepted by HMAC, so this cannot fail.
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(label);
        mac.update(signup.as_bytes());
        mac.update(tail);
        mac.finalize().into_bytes().into()
    }

    /// The code of `round` for this signup.
    pub fn code(&self, signup: &SignupId, round: u32) -> OtpCode {
        let mac = self.mac(b"chatman/otp/code/v1", signup, &round.to_be_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&mac[..8]);
        // 2^64 mod 10^6 bias is below one in 10^13: uniform for any practical purpose.
        OtpCode::from_number((u64::from_be_bytes(first) % 1_000_000) as u32)
    }

    /// What is stored for `code`.
    pub fn hash(&self, signup: &SignupId, code: &OtpCode) -> [u8; 32] {
        self.mac(b"chatman/otp/hash/v1", signup, code.as_str().as_bytes())
    }

    /// Constant-time check of a presented code against the stored hash.
    pub fn matches(&self, signup: &SignupId, code: &OtpCode, stored: &[u8; 32]) -> bool {
        self.hash(signup, code).ct_eq(stored).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_round_gives_the_same_code_and_another_round_another() {
        let key = OtpKey::generate();
        let id = SignupId::new();
        assert_eq!(key.code(&id, 0), key.code(&id, 0));
        let differs = (1..5).any(|r| key.code(&id, r) != key.code(&id, 0));
        assert!(differs);
    }

    #[test]
    fn two_signups_get_independent_codes() {
        let key = OtpKey::generate();
        let (a, b) = (SignupId::new(), SignupId::new());
        let code = key.code(&a, 0);
        assert!(key.matches(&a, &code, &key.hash(&a, &code)));
        assert!(!key.matches(&b, &code, &key.hash(&a, &code)));
    }

    #[test]
    fn short_keys_are_refused() {
        assert!(OtpKey::new(b"too short").is_err());
    }
}
