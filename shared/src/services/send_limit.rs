//! The posting limit: at most 60 messages per person in any 60 s window, reserved in the store
//! before anything is written (in-chat transfers reserve from the same key). Reactions have a
//! window of their own: each one is an event to every online member, so a person toggling
//! emoji cannot flood a large room.

use crate::domain::UserId;
use crate::domain::time::seconds_until;
use crate::error::{Error, Result};
use crate::ports::{RateDecision, SlidingWindow};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

pub const POSTS_PER_WINDOW: u32 = 60;
pub const POST_WINDOW: Duration = Duration::seconds(60);
/// Reactions put on or taken off, per person, in any `POST_WINDOW`.
pub const REACTIONS_PER_WINDOW: u32 = 120;

#[derive(Clone)]
pub struct SendLimit {
    limiter: Arc<dyn SlidingWindow>,
    /// The window's key is `{kind}#{user}`.
    kind: &'static str,
    limit: u32,
}

impl SendLimit {
    /// The posting limit (messages and in-chat transfers).
    pub fn new(limiter: Arc<dyn SlidingWindow>) -> Self {
        Self {
            limiter,
            kind: "post",
            limit: POSTS_PER_WINDOW,
        }
    }

    /// The reaction limit.
    pub fn reactions(limiter: Arc<dyn SlidingWindow>) -> Self {
        Self {
            limiter,
            kind: "react",
            limit: REACTIONS_PER_WINDOW,
        }
    }

    /// Takes one slot of `user` at `now`, or 429 `rate_limited` with the exact seconds until one
    /// frees up.
    pub async fn reserve(&self, user: &UserId, now: OffsetDateTime) -> Result<()> {
        let key = format!("{}#{user}", self.kind);
        match self
            .limiter
            .reserve(&key, self.limit, POST_WINDOW, now)
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
