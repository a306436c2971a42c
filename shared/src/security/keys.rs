//! Ed25519 key material for the JWTs: PEM parsing and key ids.
//!
//! A key id (`kid`) is the RFC 7638 thumbprint of the public key, so it is derived, never
//! configured: a signer and the verifiers cannot disagree about which key is which, and an operator
//! only ever handles PEMs (`openssl genpkey -algorithm ed25519`). Errors never quote key material.

use anyhow::{Context, bail, ensure};
use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use sha2::{Digest, Sha256};

/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): the 32-byte key follows.
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];
/// DER of an Ed25519 PKCS#8 private key after the outer SEQUENCE header and version (RFC 8410):
/// algorithm id, then an OCTET STRING wrapping the 32-byte seed.
const PKCS8_BODY_PREFIX: [u8; 11] = [
    0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];
/// At most this many public keys are trusted at once: current, plus one being rotated in or out.
pub const MAX_PUBLIC_KEYS: usize = 4;

/// An Ed25519 public key with its key id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub kid: String,
    pub bytes: [u8; 32],
}

impl PublicKey {
    pub fn new(bytes: [u8; 32]) -> Self {
        Self {
            kid: thumbprint(&bytes),
            bytes,
        }
    }
}

/// The RFC 7638 JWK thumbprint of an Ed25519 public key (members in lexicographic order).
pub fn thumbprint(public: &[u8; 32]) -> String {
    let jwk = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(public)
    );
    URL_SAFE_NO_PAD.encode(Sha256::digest(jwk.as_bytes()))
}

/// The DER inside each `-----BEGIN {label}-----` block of `text`, in order.
fn pem_blocks(text: &str, label: &str) -> anyhow::Result<Vec<Vec<u8>>> {
    let (begin, end) = (
        format!("-----BEGIN {label}-----"),
        format!("-----END {label}-----"),
    );
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(&begin) {
        let body_and_more = &rest[start + begin.len()..];
        let stop = body_and_more
            .find(&end)
            .with_context(|| format!("a {label} PEM block has no END line"))?;
        let body: String = body_and_more[..stop]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        // The decoder's own error would quote the offending byte: leave it out.
        blocks.push(
            STANDARD
                .decode(body)
                .ok()
                .with_context(|| format!("a {label} PEM block is not base64"))?,
        );
        rest = &body_and_more[stop + end.len()..];
    }
    Ok(blocks)
}

/// Every Ed25519 public key (SPKI PEM, `openssl pkey -pubout`) in `text`: one to
/// `MAX_PUBLIC_KEYS`, no duplicates.
pub fn public_keys_from_pems(text: &str) -> anyhow::Result<Vec<PublicKey>> {
    let blocks = pem_blocks(text, "PUBLIC KEY")?;
    ensure!(!blocks.is_empty(), "no PUBLIC KEY PEM block");
    ensure!(
        blocks.len() <= MAX_PUBLIC_KEYS,
        "more than {MAX_PUBLIC_KEYS} public keys"
    );
    let mut keys: Vec<PublicKey> = Vec::new();
    for der in blocks {
        let raw = der
            .strip_prefix(&SPKI_PREFIX)
            .filter(|raw| raw.len() == 32)
            .context("a public key is not an Ed25519 SPKI key")?;
        let key = PublicKey::new(raw.try_into().context("32-byte key")?);
        ensure!(
            !keys.iter().any(|k| k.kid == key.kid),
            "the same public key is listed twice"
        );
        keys.push(key);
    }
    Ok(keys)
}

/// The 32-byte seed of an Ed25519 private key (PKCS#8 PEM, `openssl genpkey -algorithm ed25519`).
pub fn private_seed_from_pem(text: &str) -> anyhow::Result<[u8; 32]> {
    let blocks = pem_blocks(text, "PRIVATE KEY")?;
    let [der] = blocks.as_slice() else {
        bail!("expected exactly one PRIVATE KEY PEM block");
    };
    // SEQUENCE (short form length) { INTEGER version 0 or 1, AlgorithmIdentifier, OCTET STRING }
    let body = der
        .get(2..)
        .filter(|_| der.first() == Some(&0x30))
        .and_then(|b| {
            b.strip_prefix(&[0x02, 0x01, 0x00])
                .or_else(|| b.strip_prefix(&[0x02, 0x01, 0x01]))
        })
        .and_then(|b| b.strip_prefix(&PKCS8_BODY_PREFIX))
        .filter(|b| b.len() >= 32)
        .context("the private key is not an Ed25519 PKCS#8 key")?;
    body[..32].try_into().context("32-byte seed")
}

/// The public key of an Ed25519 seed.
pub fn public_of(seed: &[u8; 32]) -> PublicKey {
    PublicKey::new(
        ed25519_dalek::SigningKey::from_bytes(seed)
            .verifying_key()
            .to_bytes(),
    )
}

/// PKCS#8 v1 DER of an Ed25519 seed (what `jsonwebtoken`'s `EncodingKey::from_ed_der` takes).
pub fn pkcs8_der(seed: &[u8; 32]) -> Vec<u8> {
    let mut der = vec![0x30, 0x2e, 0x02, 0x01, 0x00];
    der.extend_from_slice(&PKCS8_BODY_PREFIX);
    der.extend_from_slice(seed);
    der
}

/// PEMs of an Ed25519 key pair (tests, benchmarks, the local server's documentation).
pub fn pems_of(seed: &[u8; 32]) -> (String, String) {
    let pem = |label: &str, der: &[u8]| {
        let body = STANDARD.encode(der);
        format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----\n")
    };
    let mut spki = SPKI_PREFIX.to_vec();
    spki.extend_from_slice(&public_of(seed).bytes);
    (
        pem("PRIVATE KEY", &pkcs8_der(seed)),
        pem("PUBLIC KEY", &spki),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made with `openssl genpkey -algorithm ed25519` and `openssl pkey -pubout` (a throwaway pair).
    const OPENSSL_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIMgqXa/K3fl2OIgo7JUx394rrKupxI2jO0YRZjwlMZHH\n-----END PRIVATE KEY-----\n";
    const OPENSSL_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAD0uJuNTpke+hB3ZdweIsLHOs279YCzwd0ya/DNsuqHc=\n-----END PUBLIC KEY-----\n";

    #[test]
    fn an_openssl_key_pair_parses_and_the_public_half_matches() {
        let seed = private_seed_from_pem(OPENSSL_PRIVATE).unwrap();
        let public = public_keys_from_pems(OPENSSL_PUBLIC).unwrap();
        assert_eq!(public, vec![public_of(&seed)]);
        // What the python one-liner of docs/KEYS.md prints for this key.
        assert_eq!(public[0].kid, "zqAJCd5fIAu6qEwPLS-UI_Y2Qtz3k73Q_xXaAEErGxU");
        let (private_pem, public_pem) = pems_of(&seed);
        assert_eq!(private_seed_from_pem(&private_pem).unwrap(), seed);
        assert_eq!(public_keys_from_pems(&public_pem).unwrap(), public);
    }

    #[test]
    fn the_key_id_is_the_rfc_8037_example_thumbprint() {
        // RFC 8037 appendix A.3: the thumbprint of its example Ed25519 key.
        let x = URL_SAFE_NO_PAD
            .decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
            .unwrap();
        assert_eq!(
            thumbprint(&x.try_into().unwrap()),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    #[test]
    fn several_public_keys_parse_in_order_and_duplicates_or_junk_are_refused() {
        let (_, a) = pems_of(&[1; 32]);
        let (_, b) = pems_of(&[2; 32]);
        let keys = public_keys_from_pems(&format!("{a}\n{b}")).unwrap();
        assert_eq!(keys, vec![public_of(&[1; 32]), public_of(&[2; 32])]);
        assert!(public_keys_from_pems(&format!("{a}{a}")).is_err());
        assert!(public_keys_from_pems("").is_err());
        assert!(public_keys_from_pems(&a.replace("MCow", "MCox")).is_err());
        let five: String = (1..=5u8).map(|i| pems_of(&[i; 32]).1).collect();
        assert!(public_keys_from_pems(&five).is_err());
    }

    #[test]
    fn a_public_key_is_not_a_private_key_and_errors_quote_nothing() {
        let error = private_seed_from_pem(OPENSSL_PUBLIC)
            .unwrap_err()
            .to_string();
        assert!(!error.contains("MC"), "{error}");
        let error = private_seed_from_pem(
            "-----BEGIN PRIVATE KEY-----\nnot base64 SECRETISH\n-----END PRIVATE KEY-----",
        )
        .unwrap_err()
        .to_string();
        assert!(!error.contains("SECRETISH"), "{error}");
    }
}
