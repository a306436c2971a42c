//! A sliding-window limit held in the store, so it holds across Lambda instances and parallel
//! requests: "at most `limit` events in any `window`". Each reservation is decided and recorded
//! by one conditional write before the limited action runs (reserve first, never count after).
//! Sends count against it now; in-chat transfers will share the same key later.

use crate::ports::{RateDecision, StoreError};
use async_trait::async_trait;
use time::{Duration, OffsetDateTime};

#[async_trait]
pub trait SlidingWindow: Send + Sync {
    /// Reserves one event under `key` at `now` if fewer than `limit` were reserved in
    /// `(now - window, now]`; otherwise reserves nothing and says when the oldest one leaves the
    /// window.
    async fn reserve(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
        now: OffsetDateTime,
    ) -> Result<RateDecision, StoreError>;
}

/// The pure decision over the stored event times (sorted, oldest first): `Some(times)` to store
/// after admitting `now`, or `None` with the instant the caller may retry.
pub fn admit(times: &[i64], limit: u32, window_ms: i64, now_ms: i64) -> Result<Vec<i64>, i64> {
    let mut live: Vec<i64> = times
        .iter()
        .copied()
        .filter(|t| *t > now_ms - window_ms)
        .collect();
    if live.len() >= limit as usize {
        // The window frees up when the oldest event that keeps it full leaves it.
        let oldest = live[live.len() - limit as usize];
        return Err(oldest + window_ms);
    }
    live.push(now_ms);
    live.sort_unstable();
    Ok(live)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_holds_in_any_window_not_only_aligned_ones() {
        let mut times = vec![];
        for i in 0..3 {
            times = admit(&times, 3, 60_000, 50_000 + i).unwrap();
        }
        // An aligned window would reset at 60 s; a sliding one waits for the first to age out.
        assert_eq!(admit(&times, 3, 60_000, 61_000), Err(110_000));
        assert!(admit(&times, 3, 60_000, 110_000).is_ok());
    }
}
