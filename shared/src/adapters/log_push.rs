//! A `Push` that only logs that an event would be delivered: what deployed functions use until
//! the realtime issue wires WebSocket delivery behind the same port.

use crate::domain::UserId;
use crate::ports::{Event, Push};
use async_trait::async_trait;

pub struct LogPush;

#[async_trait]
impl Push for LogPush {
    async fn push(&self, recipients: &[UserId], event: &Event) -> anyhow::Result<()> {
        tracing::info!(
            kind = event.kind,
            recipients = recipients.len(),
            "event not delivered: no realtime delivery configured"
        );
        Ok(())
    }
}
