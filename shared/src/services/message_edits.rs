//! PATCH /rooms/{id}/messages/{message_id}: the sender changes the text of their message.
//!
//! Only text (a message with files keeps them), never a transfer's message: what money moved
//! with is not rewritten. The edit is one transaction conditioned on the text and edit time it
//! was decided on (docs/CHAT.md, "Edits"), so parallel edits apply one after the other, a
//! deleted message stays deleted, and the chat list's preview moves with it.

use super::chat::Seat;
use super::chat_links::{Links, message_keys};
use super::chat_views::{MessageView, message_view};
use super::messages::{MessageService, backoff, not_found_message};
use crate::domain::time::rfc3339;
use crate::domain::{Invalid, Message, MessageId, MessageText, User};
use crate::error::{Error, Result};
use crate::ports::{Audience, Event, Outgoing, StoreError};
use serde_json::json;
use time::OffsetDateTime;

/// A transfer's message: its text is the payment's description, kept as paid.
pub const NOT_EDITABLE: &str = "not_editable";
/// Decisions taken again after a concurrent edit, delete or send changed what was read.
const EDIT_RETRIES: usize = 20;

impl MessageService {
    pub async fn edit(
        &self,
        me: &User,
        room: &str,
        message_id: &str,
        text: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<MessageView> {
        let text = match text {
            Some(raw) => MessageText::parse(raw).map_err(|e| Error::field("text", e))?,
            None => return Err(Error::field("text", Invalid::new("is required"))),
        };
        let Seat {
            mut room,
            me: mut seat,
        } = self.ports.seat(&me.id, room).await?;
        let id = MessageId::parse(message_id).map_err(|_| not_found_message())?;
        let people = [(me.id, me.clone())].into_iter().collect();
        for attempt in 0..EDIT_RETRIES {
            let message = self
                .ports
                .chat
                .message(&room.id, &id)
                .await?
                .ok_or_else(not_found_message)?;
            if message.sender != me.id {
                return Err(Error::Forbidden);
            }
            if message.transfer.is_some() {
                return Err(Error::Refused(NOT_EDITABLE));
            }
            // Who may no longer post here (a block in a direct room, a channel's demoted admin)
            // may not rewrite what they posted either.
            self.may_post(&room, seat.role, me).await?;
            let edited = Message {
                text: text.as_str().to_owned(),
                edited_at: Some(now),
                ..message.clone()
            };
            let links = Links::sign(&self.ports.uploads, message_keys(&edited), now).await?;
            let view = links.message(message_view(&edited, &people), &edited);
            let event = Event::new(
                "edited",
                json!({
                    "room_id": room.id.to_string(),
                    "message_id": edited.id.to_string(),
                    "text": edited.text,
                    "edited_at": rfc3339(now),
                }),
            );
            let announce = Outgoing::new(room.id, Audience::Members, event, now);
            match self
                .ports
                .chat
                .edit_message(&room, &message, &edited, &[announce])
                .await
            {
                Ok(()) => return Ok(view),
                Err(StoreError::Conflict) => {
                    backoff(attempt).await;
                    let fresh = self.ports.seat(&me.id, &room.id.to_string()).await?;
                    (room, seat) = (fresh.room, fresh.me);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Conflict)
    }
}
