//! A `Push` that records every event with its recipients instead of delivering it: the tests'
//! witness of who would receive what, and the local server's stand-in until the WebSocket side
//! delivers for real.

use crate::domain::{Connection, UserId};
use crate::ports::{Event, Push};
use async_trait::async_trait;
use std::sync::Mutex;

/// Every pushed event, oldest first.
#[derive(Default)]
pub struct RecordingPush {
    pushed: Mutex<Vec<(Vec<UserId>, Event)>>,
    failing: bool,
}

impl RecordingPush {
    pub fn new() -> Self {
        Self::default()
    }

    /// A push that records and then fails, to prove a failing push undoes nothing.
    pub fn failing() -> Self {
        Self {
            failing: true,
            ..Self::default()
        }
    }

    /// Every `(recipients, event)` so far, oldest first.
    pub fn events(&self) -> Vec<(Vec<UserId>, Event)> {
        self.pushed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The events `user` would have received, oldest first.
    pub fn received_by(&self, user: &UserId) -> Vec<Event> {
        self.events()
            .into_iter()
            .filter(|(to, _)| to.contains(user))
            .map(|(_, e)| e)
            .collect()
    }
}

#[async_trait]
impl Push for RecordingPush {
    async fn push(&self, recipients: &[UserId], event: &Event) -> anyhow::Result<()> {
        self.pushed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((recipients.to_vec(), event.clone()));
        if self.failing {
            anyhow::bail!("push refused (test)");
        }
        Ok(())
    }

    /// Recorded as a push to the connections' owners (each once).
    async fn push_to(&self, connections: &[Connection], event: &Event) -> anyhow::Result<()> {
        let mut owners: Vec<UserId> = connections.iter().map(|c| c.user_id).collect();
        owners.sort_unstable();
        owners.dedup();
        self.push(&owners, event).await
    }
}
