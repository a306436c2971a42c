//! Password-guessing lockout, shared by login and password change. Five consecutive failures lock
//! the key for 30 s, doubling with each further failure up to an hour. The tally lives in the
//! store, so every Lambda instance sees it.

use crate::domain::{LoginFailures, UserId, time::seconds_until};
use crate::error::{Error, Result};
use crate::ports::AccountStore;
use time::{Duration, OffsetDateTime};

pub const FAILURES_BEFORE_LOCK: u32 = 5;
const FIRST_LOCK: Duration = Duration::seconds(30);
const LONGEST_LOCK: Duration = Duration::hours(1);

/// The tally of an existing account.
pub fn account_key(user: &UserId) -> String {
    format!("user:{user}")
}

/// The tally of a login name that matches no account, so locking it reveals nothing.
pub fn unknown_login_key(login: &str) -> String {
    format!("login:{}", login.trim().to_lowercase())
}

/// How long a key with `failures` consecutive failures stays locked after the last one.
pub fn lock_duration(failures: u32) -> Option<Duration> {
    if failures < FAILURES_BEFORE_LOCK {
        return None;
    }
    let doublings = (failures - FAILURES_BEFORE_LOCK).min(16);
    Some((FIRST_LOCK * (1i32 << doublings)).min(LONGEST_LOCK))
}

/// 429 `too_many_attempts` while locked; otherwise the current tally.
pub async fn check(
    store: &dyn AccountStore,
    key: &str,
    now: OffsetDateTime,
) -> Result<LoginFailures> {
    let failures = store.login_failures(key).await?;
    let until = failures
        .last_failure_at
        .zip(lock_duration(failures.count))
        .map(|(at, lock)| at + lock);
    match until {
        Some(until) if now < until => Err(Error::RateLimited {
            retry_after: seconds_until(now, until),
            code: "too_many_attempts",
        }),
        _ => Ok(failures),
    }
}

pub async fn failed(store: &dyn AccountStore, key: &str, now: OffsetDateTime) -> Result<()> {
    store.record_login_failure(key, now).await?;
    Ok(())
}

/// A success clears the tally (without a write when there was none).
pub async fn succeeded(store: &dyn AccountStore, key: &str, before: &LoginFailures) -> Result<()> {
    if before.count > 0 {
        store.clear_login_failures(key).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_starts_at_the_fifth_failure_and_doubles_up_to_an_hour() {
        assert_eq!(lock_duration(4), None);
        assert_eq!(lock_duration(5), Some(Duration::seconds(30)));
        assert_eq!(lock_duration(6), Some(Duration::seconds(60)));
        assert_eq!(lock_duration(9), Some(Duration::seconds(480)));
        assert_eq!(lock_duration(40), Some(Duration::hours(1)));
    }
}
