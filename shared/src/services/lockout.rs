//! Password-guessing lockout, shared by login and password change (docs/LIMITS.md).
//!
//! A guess is *reserved* before the password is checked: one conditional write counts it as a
//! failure and, if that count earns a lock, sets the lock — so however many guesses arrive at
//! once, each is counted before any is checked, and a lock decided by one cannot be outrun by the
//! others. A success clears the tallies. Two tallies per guess:
//! - the account (or unknown login name) from this client address: locks after five failures,
//!   for 30 s doubling up to an hour. This is what slows an attacker first.
//! - the account from every address: locks after `Limits::account_lock_after`; each address adds
//!   at most its own first five, so a single attacker address can never lock the owner out, and a
//!   distributed attack still hits a ceiling.

use crate::domain::{ClientAddress, Tally, UserId, time::seconds_until};
use crate::error::{Error, Result};
use crate::ports::{AccountStore, StoreError};
use crate::settings::Limits;
use time::{Duration, OffsetDateTime};

/// Failures of one address against one account before that address is locked out of it.
pub const FAILURES_BEFORE_LOCK: u32 = 5;
const FIRST_LOCK: Duration = Duration::seconds(30);
const LONGEST_LOCK: Duration = Duration::hours(1);
/// Reservation rounds lost to concurrent guesses before giving up (and refusing, never checking).
const RESERVE_ROUNDS: usize = 10;

/// What one guess counts against.
#[derive(Debug, Clone)]
pub struct Guess {
    from_address: String,
    account: String,
}

impl Guess {
    /// A guess at an existing account's password.
    pub fn on_account(user: &UserId, from: &ClientAddress) -> Self {
        Self::of(format!("user:{user}"), from)
    }

    /// A guess for a login name that matches no account: throttled the same way under the name,
    /// so a lock reveals nothing about whether the account exists.
    pub fn on_unknown_login(login: &str, from: &ClientAddress) -> Self {
        Self::of(format!("login:{}", login.trim().to_lowercase()), from)
    }

    fn of(account: String, from: &ClientAddress) -> Self {
        Self {
            from_address: format!("{account}@{from}"),
            account,
        }
    }

    fn keys(&self) -> Vec<String> {
        vec![self.from_address.clone(), self.account.clone()]
    }
}

/// A guess that has been counted as a failure until `succeeded` says otherwise.
#[must_use = "a reserved guess stays counted as a failure unless it succeeded"]
pub struct Reserved(Guess);

/// How long a tally of `count` failures stays locked, for a lock that starts at `lock_after`.
pub fn lock_duration(count: u32, lock_after: u32) -> Option<Duration> {
    let beyond = count.checked_sub(lock_after)?;
    Some((FIRST_LOCK * (1i32 << beyond.min(16))).min(LONGEST_LOCK))
}

fn counted(t: Tally, lock_after: u32, now: OffsetDateTime) -> Tally {
    let count = t.count.saturating_add(1);
    Tally {
        count,
        locked_until: lock_duration(count, lock_after).map(|lock| now + lock),
        version: t.version,
    }
}

/// Counts `guess` as a failure before it is checked; 429 `too_many_attempts` while locked.
pub async fn reserve(
    store: &dyn AccountStore,
    guess: &Guess,
    limits: &Limits,
    now: OffsetDateTime,
) -> Result<Reserved> {
    let keys = guess.keys();
    for _ in 0..RESERVE_ROUNDS {
        let tallies = store.tallies(&keys).await?;
        let (from_address, account) = (tallies[0], tallies[1]);
        let locked_until = [from_address, account]
            .iter()
            .filter(|t| t.is_locked(now))
            .filter_map(|t| t.locked_until)
            .max();
        if let Some(until) = locked_until {
            return Err(locked(now, until));
        }
        let from_address = counted(from_address, FAILURES_BEFORE_LOCK, now);
        let mut writes = vec![(keys[0].clone(), from_address)];
        if from_address.count <= FAILURES_BEFORE_LOCK {
            writes.push((
                keys[1].clone(),
                counted(account, limits.account_lock_after, now),
            ));
        }
        match store.put_tallies(&writes, now).await {
            Ok(()) => return Ok(Reserved(guess.clone())),
            // Another guess was counted in between: read again, it may have locked us out.
            Err(StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    tracing::warn!("guess reservation kept conflicting: refused unchecked");
    Err(locked(now, now + Duration::seconds(1)))
}

fn locked(now: OffsetDateTime, until: OffsetDateTime) -> Error {
    Error::RateLimited {
        retry_after: seconds_until(now, until),
        code: "too_many_attempts",
    }
}

/// The guess was right: its tallies start over.
pub async fn succeeded(store: &dyn AccountStore, reserved: Reserved) -> Result<()> {
    store.clear_tallies(&reserved.0.keys()).await?;
    Ok(())
}

/// A password reset proves ownership: the account's tallies, and those of the address the reset
/// came from, start over.
pub async fn forget(store: &dyn AccountStore, user: &UserId, from: &ClientAddress) -> Result<()> {
    store
        .clear_tallies(&Guess::on_account(user, from).keys())
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_starts_at_its_threshold_and_doubles_up_to_an_hour() {
        assert_eq!(lock_duration(4, 5), None);
        assert_eq!(lock_duration(5, 5), Some(Duration::seconds(30)));
        assert_eq!(lock_duration(6, 5), Some(Duration::seconds(60)));
        assert_eq!(lock_duration(9, 5), Some(Duration::seconds(480)));
        assert_eq!(lock_duration(40, 5), Some(Duration::hours(1)));
        assert_eq!(lock_duration(19, 20), None);
        assert_eq!(lock_duration(20, 20), Some(Duration::seconds(30)));
    }
}
