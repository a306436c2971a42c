//! Opaque random secrets (refresh tokens, reset links) and their stored hashes.

use crate::domain::TokenHash;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// 256 random bits from the OS-seeded CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    rand::rng().fill_bytes(&mut out);
    out
}

pub fn encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text.trim()).ok()
}

/// SHA-256: enough for secrets with ≥128 random bits (no dictionary to try against).
pub fn hash(secret: &[u8]) -> TokenHash {
    TokenHash(Sha256::digest(secret).into())
}

/// Compares two hashes without leaking where they differ.
pub fn same(a: &TokenHash, b: &TokenHash) -> bool {
    a.0.ct_eq(&b.0).into()
}

/// A refresh token: 256 random bits, base64url. Only its hash is stored.
pub fn new_refresh_token() -> (String, TokenHash) {
    let raw: [u8; 32] = random_bytes();
    (encode(&raw), hash(&raw))
}

/// The hash a presented refresh token is looked up by; `None` for anything that cannot be one.
pub fn refresh_token_hash(token: &str) -> Option<TokenHash> {
    let raw = decode(token)?;
    (raw.len() == 32).then(|| hash(&raw))
}
