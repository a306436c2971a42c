//! Per-address request limits (signup, resend, forgot-password, login attempts) and per-user ones
//! (rooms created, people added): fixed windows counted in the store before the work is done, so
//! they hold across Lambda instances and under parallel requests. The numbers are settings (`settings::Limits`); 0 turns one off.

use crate::domain::{ClientAddress, UserId, time::seconds_until};
use crate::error::{Error, Result};
use crate::ports::{AccountStore, RateDecision};
use time::{Duration, OffsetDateTime};

/// Counts one `action` request from `from`; 429 `rate_limited` past `limit` per `window`.
pub async fn per_address(
    store: &dyn AccountStore,
    action: &str,
    from: &ClientAddress,
    limit: u32,
    window: Duration,
    now: OffsetDateTime,
) -> Result<()> {
    if limit == 0 {
        return Ok(());
    }
    let key = format!("addr:{action}:{from}");
    match store.hit_rate_limit(&key, limit, window, now).await? {
        RateDecision::Allowed => Ok(()),
        RateDecision::Limited { until } => {
            tracing::info!(action, "address over its limit");
            Err(Error::RateLimited {
                retry_after: seconds_until(now, until),
                code: "rate_limited",
            })
        }
    }
}

/// Counts `events` `action`s of `user` at once (one atomic add, before the work); 429
/// `rate_limited` when they would pass `limit` per `window`. Refused events still count, which
/// errs on the safe side.
pub async fn per_user(
    store: &dyn AccountStore,
    action: &str,
    user: &UserId,
    events: u32,
    limit: u32,
    window: Duration,
    now: OffsetDateTime,
) -> Result<()> {
    if limit == 0 || events == 0 {
        return Ok(());
    }
    let key = format!("user:{action}:{user}");
    match store
        .hit_rate_limit_by(&key, events, limit, window, now)
        .await?
    {
        RateDecision::Allowed => Ok(()),
        RateDecision::Limited { until } => {
            tracing::info!(action, user_id = %user, "person over their limit");
            Err(Error::RateLimited {
                retry_after: seconds_until(now, until),
                code: "rate_limited",
            })
        }
    }
}
