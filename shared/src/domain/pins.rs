//! Pins: the messages a room keeps at hand (`PUT /rooms/{id}/pins/{message_id}`).

use super::{MessageId, RoomId, UserId};
use time::OffsetDateTime;

/// Most pinned messages one room holds at once.
pub const MAX_PINS: u32 = 50;

/// A pinned message of a room: who pinned it and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    pub room_id: RoomId,
    pub message_id: MessageId,
    pub pinned_by: UserId,
    pub pinned_at: OffsetDateTime,
}
