//! Password hashing with argon2id (19 MiB, t=2, p=1: the OWASP baseline).
//!
//! Each hash needs 19 MiB of working memory. Hashing runs on the blocking pool so it never stalls
//! the runtime, but at most one hash per core runs at once (`HashingSlots`: a fair semaphore, so
//! the others wait their turn in arrival order), and each runs in a buffer taken from a pool of at
//! most one per core and given back afterwards. Allocating a fresh 19 MiB per hash made glibc keep
//! every freed block in its per-thread arenas: the local server grew to 1.5 GB after a few hundred
//! signups. With the pool the process holds at most `cores × 19 MiB` for hashing, for good.

use crate::domain::Password;
use anyhow::Context;
use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{ARGON2ID_IDENT, Algorithm, Argon2, Block, Params, Version};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use tokio::sync::Semaphore;

/// The parameters every new hash gets.
fn params() -> Params {
    // The parameters are constants known to be valid; `Params::DEFAULT` is the fallback that
    // cannot fail and is the same OWASP setting.
    Params::new(19 * 1024, 2, 1, None).unwrap_or(Params::DEFAULT)
}

/// A PHC string of a password nobody knows, hashed with the same parameters. Verifying against
/// it makes "unknown user" cost the same as "wrong password".
const DECOY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$Y2hhdG1hbi1kZWNveS1zYWx0$Yy1KWs0kX/1XsA4j9lMDeNKEjc2zvBOutCAUXCuuG7o";

/// Hashes a new password into a PHC string.
pub async fn hash(password: &Password) -> anyhow::Result<String> {
    let plain = password.expose().to_owned();
    let salt = SaltString::encode_b64(&super::secrets::random_bytes::<16>())
        .map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    let params = params();
    let output = run(params.clone(), {
        let salt = salt.clone();
        move |argon2, memory| derive(argon2, memory, plain.as_bytes(), &salt)
    })
    .await
    .context("password hashing")??;
    let phc = PasswordHash {
        algorithm: ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: (&params)
            .try_into()
            .map_err(|e| anyhow::anyhow!("params: {e}"))?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(phc.to_string())
}

/// Checks `password` against a stored PHC string; `None` checks against the decoy so the caller
/// spends the same time whether or not the account exists.
pub async fn verify(password: &Password, stored: Option<&str>) -> anyhow::Result<bool> {
    let plain = password.expose().to_owned();
    let known = stored.is_some();
    let phc = stored.unwrap_or(DECOY_HASH).to_owned();
    let parsed = PasswordHash::new(&phc).map_err(|e| anyhow::anyhow!("stored hash: {e}"))?;
    if parsed.algorithm != ARGON2ID_IDENT || parsed.version != Some(Version::V0x13.into()) {
        anyhow::bail!("stored hash: not argon2id v19");
    }
    let params = Params::try_from(&parsed).map_err(|e| anyhow::anyhow!("stored params: {e}"))?;
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        anyhow::bail!("stored hash: no salt or no hash");
    };
    let salt = SaltString::from_b64(salt.as_str()).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    let params = Params::new(
        params.m_cost(),
        params.t_cost(),
        params.p_cost(),
        Some(expected.len()),
    )
    .map_err(|e| anyhow::anyhow!("stored params: {e}"))?;
    let output = run(params, move |argon2, memory| {
        derive(argon2, memory, plain.as_bytes(), &salt)
    })
    .await
    .context("password verification")??;
    // `Output`'s equality is constant-time.
    Ok(output == expected && known)
}

/// Runs argon2id over `password` and `salt` in `memory`.
fn derive(
    argon2: &Argon2<'_>,
    memory: &mut [Block],
    password: &[u8],
    salt: &SaltString,
) -> anyhow::Result<Output> {
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt
        .as_salt()
        .decode_b64(&mut salt_bytes)
        .map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    let len = argon2
        .params()
        .output_len()
        .unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    Output::init_with(len, |out| {
        argon2
            .hash_password_into_with_memory(password, salt_bytes, out, &mut *memory)
            .map_err(|_| argon2::password_hash::Error::Crypto)
    })
    .map_err(|e| anyhow::anyhow!("argon2: {e}"))
}

/// Runs `work` on the blocking pool with argon2id of `params` and a working buffer, once a
/// hashing slot is free.
async fn run<T: Send + 'static>(
    params: Params,
    work: impl FnOnce(&Argon2<'static>, &mut [Block]) -> T + Send + 'static,
) -> anyhow::Result<T> {
    let slots = HashingSlots::get();
    let _slot = slots
        .turns
        .acquire()
        .await
        .context("hashing slots closed")?;
    let mut memory = slots.take(params.block_count());
    let (result, memory) = tokio::task::spawn_blocking(move || {
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let result = work(&argon2, &mut memory);
        (result, memory)
    })
    .await
    .context("password hashing task")?;
    slots.give_back(memory);
    Ok(result)
}

/// The process's hashing slots: one per core, each with its reusable working memory.
struct HashingSlots {
    /// Fair (FIFO): a waiting hash is served in the order it arrived.
    turns: Semaphore,
    /// Buffers of the standard size not in use right now.
    idle: Mutex<Vec<Vec<Block>>>,
    /// Standard-size buffers ever allocated; never more than the number of slots.
    allocated: AtomicUsize,
}

impl HashingSlots {
    fn get() -> &'static Self {
        static SLOTS: OnceLock<HashingSlots> = OnceLock::new();
        SLOTS.get_or_init(|| Self {
            turns: Semaphore::new(slot_count()),
            idle: Mutex::new(Vec::new()),
            allocated: AtomicUsize::new(0),
        })
    }

    /// A buffer of `blocks` blocks: an idle one of the standard size, or a new one. Hashes stored
    /// with other parameters (none are written today) get a buffer of their own, not kept.
    fn take(&self, blocks: usize) -> Vec<Block> {
        if blocks == params().block_count() {
            let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            if let Some(buffer) = idle {
                return buffer;
            }
            self.allocated.fetch_add(1, Ordering::Relaxed);
        }
        vec![Block::default(); blocks]
    }

    fn give_back(&self, buffer: Vec<Block>) {
        if buffer.len() == params().block_count() {
            self.idle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(buffer);
        }
    }
}

/// One hash at a time per core: more would only queue inside the blocking pool while each held
/// its own 19 MiB.
fn slot_count() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};

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

    #[tokio::test]
    async fn hashes_are_the_argon2_crates_own_format_both_ways() {
        let stock = Argon2::new(Algorithm::Argon2id, Version::V0x13, params());
        let p = Password::presented("correct horse battery").unwrap();
        // A hash stored by the plain crate (every account made before the pool) still verifies...
        let salt = SaltString::encode_b64(&[7u8; 16]).unwrap();
        let old = stock
            .hash_password(b"correct horse battery", &salt)
            .unwrap();
        assert!(verify(&p, Some(&old.to_string())).await.unwrap());
        // ...and one made here verifies with the plain crate.
        let new = hash(&p).await.unwrap();
        let parsed = PasswordHash::new(&new).unwrap();
        assert!(
            stock
                .verify_password(b"correct horse battery", &parsed)
                .is_ok()
        );
    }

    #[tokio::test]
    async fn a_stored_hash_with_other_costs_still_verifies() {
        let cheap = Params::new(8 * 1024, 1, 1, None).unwrap();
        let stock = Argon2::new(Algorithm::Argon2id, Version::V0x13, cheap);
        let salt = SaltString::encode_b64(&[9u8; 16]).unwrap();
        let old = stock.hash_password(b"another passphrase", &salt).unwrap();
        let p = Password::presented("another passphrase").unwrap();
        assert!(verify(&p, Some(&old.to_string())).await.unwrap());
        let wrong = Password::presented("another passphrase?").unwrap();
        assert!(!verify(&wrong, Some(&old.to_string())).await.unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn parallel_hashes_share_one_working_buffer_per_core() {
        let p = Password::presented("correct horse battery").unwrap();
        let hashes: Vec<_> = (0..12)
            .map(|_| {
                let p = p.clone();
                tokio::spawn(async move { hash(&p).await })
            })
            .collect();
        for h in hashes {
            h.await.unwrap().unwrap();
        }
        let slots = HashingSlots::get();
        let allocated = slots.allocated.load(Ordering::Relaxed);
        assert!(
            (1..=slot_count()).contains(&allocated),
            "{allocated} buffers of 19 MiB for {} cores",
            slot_count()
        );
    }
}
