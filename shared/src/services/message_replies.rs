//! Replies: a message may answer another message of the same room (`reply_to`). The reply
//! carries a short preview of what it answers (its sender and first 100 characters), frozen when
//! it is sent, so history needs no second read per message; readers are shown `deleted` instead
//! once the answered message is deleted (the room's deleted seqs, which the seat reads anyway).

use super::chat_views::ReplyView;
use super::messages::MessageService;
use crate::domain::{Invalid, MessageId, ReplyTo, Room};
use crate::error::{Error, Result};

impl MessageService {
    /// The preview of `id` for a reply in `room`: 400 on `reply_to` when it is not a message of
    /// this room (unknown, deleted, or another room's: the same answer).
    pub(super) async fn reply_preview(&self, room: &Room, id: &MessageId) -> Result<ReplyTo> {
        let answered = self
            .ports
            .chat
            .message(&room.id, id)
            .await?
            .ok_or_else(|| {
                Error::field("reply_to", Invalid::new("is not a message of this room"))
            })?;
        let people = self.ports.people([answered.sender]).await?;
        let sender = super::chat_views::username_of(&people, &answered.sender);
        Ok(ReplyTo::of(&answered, &sender))
    }
}

/// The reply part of a view, hidden when the answered message is among `deleted` seqs.
pub fn reply_view(reply: &ReplyTo, deleted: &[u64]) -> ReplyView {
    let gone = deleted.contains(&reply.seq);
    ReplyView {
        message_id: reply.message_id.to_string(),
        sender: (!gone).then(|| reply.sender.clone()),
        text: (!gone).then(|| reply.text.clone()),
        deleted: gone,
    }
}
