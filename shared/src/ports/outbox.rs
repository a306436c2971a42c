//! The outbox: events for people's sockets, recorded with the change that caused them and
//! delivered afterwards by the delivery worker (`services::delivery`), never inside the request.
//!
//! On DynamoDB a record is an `OUTBOX#` item, written in the same transaction as a message (or
//! right after the change, for the others); the table's stream hands the items to the
//! `ws-deliver` function in the order they were written for each room. In memory the records
//! go to an in-process queue (`adapters::memory_outbox`) in commit order. Either way the
//! committed change is the outbox: a send that answered has its event recorded, and the
//! worker's crash only delays it (the records are read again from the last checkpoint).

use super::StoreError;
use super::push::Event;
use crate::domain::{RoomId, UserId};
use async_trait::async_trait;
use serde_json::Value;
use time::OffsetDateTime;

/// Who an outbox record is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// Everyone who is a member of the room when the worker delivers it.
    Members,
    /// These people (at most `MAX_LISTED` per record).
    Users(Vec<UserId>),
    /// The connections in one shard of a large room's subscription index: the part of a
    /// `Members` record the worker split off so that no one invocation carries a whole channel.
    Shard(u16),
}

/// The most people one `Users` record lists (keeps an item far below DynamoDB's 400 KB).
pub const MAX_LISTED: usize = 100;

/// One event to deliver.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// Unique and increasing (UUIDv7): the item's sort key, and what a retry is known by.
    pub id: String,
    pub room: RoomId,
    pub audience: Audience,
    pub event: Event,
    /// When the change happened (the chat-list moves of a `message` use it).
    pub at: OffsetDateTime,
}

impl Outgoing {
    pub fn new(room: RoomId, audience: Audience, event: Event, at: OffsetDateTime) -> Self {
        Self {
            id: uuid::Uuid::now_v7().simple().to_string(),
            room,
            audience,
            event,
            at,
        }
    }

    /// The same event for one shard of the room's subscribers.
    pub fn for_shard(&self, shard: u16) -> Self {
        Self {
            id: format!("{}-{shard:02}", self.id),
            audience: Audience::Shard(shard),
            ..self.clone()
        }
    }

    /// The frame as a client receives it.
    pub fn frame(&self) -> String {
        self.event.to_json().to_string()
    }

    /// The event back from its stored frame; `None` for a frame that is not an object with a
    /// known `type` (a record of a newer version, say: skipped, not retried forever).
    pub fn event_from_frame(frame: &str) -> Option<Event> {
        let Value::Object(mut fields) = serde_json::from_str(frame).ok()? else {
            return None;
        };
        let kind = match fields.remove("type")? {
            Value::String(kind) => KINDS.iter().copied().find(|k| *k == kind)?,
            _ => return None,
        };
        Some(Event { kind, fields })
    }
}

/// The event kinds that travel through the outbox.
pub const KINDS: [&str; 8] = [
    "message", "edited", "deleted", "read", "room", "reaction", "pinned", "unpinned",
];

/// Where a store's outbox records can be read back in commit order, from a checkpoint: the
/// local server's stand-in for Lambda's event source mapping (memory queue, DynamoDB Streams).
#[async_trait]
pub trait OutboxFeed: Send + Sync {
    /// Up to `max` records not yet acknowledged, oldest first, with the position of each; waits
    /// up to `wait` for the first one.
    async fn next(
        &self,
        max: usize,
        wait: std::time::Duration,
    ) -> Result<Vec<(String, Outgoing)>, StoreError>;

    /// Everything up to and including `position` was delivered: it is not handed out again.
    async fn ack(&self, position: &str) -> Result<(), StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_frame_reads_back_as_its_event_and_unknown_kinds_are_refused() {
        let event = Event::new(
            "deleted",
            json!({"room_id": "r", "message_id": "m", "seq": 3}),
        );
        let out = Outgoing::new(
            RoomId::new(),
            Audience::Members,
            event.clone(),
            OffsetDateTime::UNIX_EPOCH,
        );
        assert_eq!(Outgoing::event_from_frame(&out.frame()), Some(event));
        assert_eq!(Outgoing::event_from_frame(r#"{"type":"mystery"}"#), None);
        assert_eq!(Outgoing::event_from_frame("[1]"), None);
    }

    #[test]
    fn shard_records_keep_the_event_and_differ_by_id() {
        let out = Outgoing::new(
            RoomId::new(),
            Audience::Members,
            Event::new("message", json!({})),
            OffsetDateTime::UNIX_EPOCH,
        );
        let (a, b) = (out.for_shard(0), out.for_shard(15));
        assert_ne!(a.id, b.id);
        assert_eq!(a.audience, Audience::Shard(0));
        assert_eq!(a.event, out.event);
    }
}
