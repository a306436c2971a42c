//! The `Idempotency-Key` a client sends with every money-moving request.

use super::Invalid;
use sha2::{Digest, Sha256};

/// 1 to 255 printable ASCII characters, chosen by the client; scoped per user by the store.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub const MAX_CHARS: usize = 255;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        if raw.is_empty() || raw.len() > Self::MAX_CHARS {
            return Err(Invalid::new(format!(
                "must be 1 to {} characters",
                Self::MAX_CHARS
            )));
        }
        if !raw.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
            return Err(Invalid::new("must be printable ASCII characters"));
        }
        Ok(Self(raw.to_owned()))
    }

    /// `key` in the namespace of one channel (the WebSocket `transfer` action): the unit
    /// separator joining them is no printable character, so no `Idempotency-Key` header can
    /// name the same record, and a WebSocket key and an HTTP key never meet.
    pub fn in_namespace(namespace: &str, key: &IdempotencyKey) -> Self {
        Self(format!("{namespace}\u{1f}{}", key.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// SHA-256 of the key: what storage keys carry, so any printable key makes a tidy item key.
    pub fn digest(&self) -> [u8; 32] {
        Sha256::digest(self.0.as_bytes()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_one_to_255_printable_characters() {
        assert!(IdempotencyKey::parse("a").is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(255)).is_ok());
        assert!(IdempotencyKey::parse("").is_err());
        assert!(IdempotencyKey::parse(&"k".repeat(256)).is_err());
        assert!(IdempotencyKey::parse("tab\there").is_err());
        assert!(IdempotencyKey::parse("é").is_err());
    }

    #[test]
    fn a_namespaced_key_is_no_key_a_client_can_send() {
        let key = IdempotencyKey::parse("k1").unwrap();
        let scoped = IdempotencyKey::in_namespace("ws-transfer", &key);
        assert_ne!(scoped, key);
        assert!(IdempotencyKey::parse(scoped.as_str()).is_err());
        assert_ne!(scoped.digest(), key.digest());
    }
}
