//! The posting limit: at most 60 messages per person in any 60 s window, reserved in the store
//! before anything is written. In-chat transfers (realtime issue) will reserve from the same key.

use crate::domain::UserId;
use crate::domain::time::seconds_until;
use crate::error::{Error, Result};
use crate::ports::{RateDecision, SlidingWindow};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

pub const POSTS_PER_WINDOW: u32 = 60;
pub const POST_WINDOW: Duration = Duration::seconds(60);

#[derive(Clone)]
pub struct SendLimit {
    limiter: Arc<dyn SlidingWindow>,
}

impl SendLimit {
    pub fn new(limiter: Arc<dyn SlidingWindow>) -> Self {
        Self { limiter }
    }

    /// Takes one posting slot of `user` at `now`, or 429 `rate_limited` with the exact seconds
    /// until one frees up.
    pub async fn reserve(&self, user: &UserId, now: OffsetDateTime) -> Result<()> {
        let key = format!("post#{user}");
        match self
            .limiter
            .reserve(&key, POSTS_PER_WINDOW, POST_WINDOW, now)
            .await?
        {
            RateDecision::Allowed => Ok(()),
            RateDecision::Limited { until } => Err(Error::RateLimited {
                retry_after: seconds_until(now, until),
                code: "rate_limited",
            }),
        }
    }
}
