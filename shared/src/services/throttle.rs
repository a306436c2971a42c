//! Per-address request limits (signup, resend, forgot-password, login attempts): fixed windows
//! counted in the store before the work is done, so they hold across Lambda instances and under
//! parallel requests. The numbers are settings (`settings::Limits`); 0 turns one off.

use crate::domain::{ClientAddress, time::seconds_until};
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
