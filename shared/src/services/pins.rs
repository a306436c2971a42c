//! Pins: `PUT` / `DELETE /rooms/{id}/pins/{message_id}` and `GET /rooms/{id}/pins`. In groups and
//! channels the owner and admins pin (others get 403); in a direct room either person does. At
//! most `MAX_PINS` per room, reserved on the room's pin counter in the pin's own transaction, so
//! parallel pins never pass it (docs/CHAT.md, "Pins"). Members hear `pinned` / `unpinned`.

use super::chat::Seat;
use super::chat_links::{Links, message_keys};
use super::chat_views::{MessageView, message_view_in, username_of};
use super::messages::{MessageService, backoff, not_found_message};
use crate::domain::time::rfc3339;
use crate::domain::{MAX_PINS, MessageId, Pin, Room, RoomKind, User};
use crate::error::{Error, Result};
use crate::ports::{Audience, Event, Outgoing, Pinned, StoreError};
use serde::Serialize;
use serde_json::json;
use time::OffsetDateTime;

/// The room holds `MAX_PINS` pins already.
pub const TOO_MANY_PINS: &str = "too_many_pins";
/// Decisions taken again while other pin changes of the room keep colliding.
const PIN_RETRIES: usize = 20;

/// One pinned message as members see it.
#[derive(Debug, Serialize)]
pub struct PinView {
    pub message: MessageView,
    pub pinned_by: String,
    pub pinned_at: String,
}

impl MessageService {
    /// PUT /rooms/{id}/pins/{message_id}: pinning a pinned message changes nothing.
    pub async fn pin(
        &self,
        me: &User,
        room: &str,
        message_id: &str,
        now: OffsetDateTime,
    ) -> Result<()> {
        let (room, id) = self.pinning(me, room, message_id).await?;
        let pin = Pin {
            room_id: room.id,
            message_id: id,
            pinned_by: me.id,
            pinned_at: now,
        };
        let event = Event::new(
            "pinned",
            json!({
                "room_id": room.id.to_string(),
                "message_id": id.to_string(),
                "username": me.username.to_string(),
                "pinned_at": rfc3339(now),
            }),
        );
        let announce = [Outgoing::new(room.id, Audience::Members, event, now)];
        for attempt in 0..PIN_RETRIES {
            match self.ports.chat.pin(&pin, MAX_PINS, &announce).await {
                Ok(Pinned::Changed | Pinned::Unchanged) => return Ok(()),
                Ok(Pinned::Full) => return Err(Error::Refused(TOO_MANY_PINS)),
                Ok(Pinned::MessageGone) => return Err(not_found_message()),
                Err(StoreError::Conflict) => backoff(attempt).await,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Conflict)
    }

    /// DELETE /rooms/{id}/pins/{message_id}: unpinning what is not pinned changes nothing.
    pub async fn unpin(
        &self,
        me: &User,
        room: &str,
        message_id: &str,
        now: OffsetDateTime,
    ) -> Result<()> {
        let (room, id) = self.pinning(me, room, message_id).await?;
        let event = Event::new(
            "unpinned",
            json!({
                "room_id": room.id.to_string(),
                "message_id": id.to_string(),
                "username": me.username.to_string(),
            }),
        );
        let announce = [Outgoing::new(room.id, Audience::Members, event, now)];
        for attempt in 0..PIN_RETRIES {
            match self.ports.chat.unpin(&room.id, &id, &announce).await {
                Ok(_) => return Ok(()),
                Err(StoreError::Conflict) => backoff(attempt).await,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Conflict)
    }

    /// The room and message a pin change is about, once `me` may change the room's pins.
    async fn pinning(&self, me: &User, room: &str, message_id: &str) -> Result<(Room, MessageId)> {
        let Seat { room, me: seat } = self.ports.seat(&me.id, room).await?;
        let id = MessageId::parse(message_id).map_err(|_| not_found_message())?;
        if room.kind != RoomKind::Direct && !seat.role.manages() {
            return Err(Error::Forbidden);
        }
        if self.ports.blocked_in_direct(&room, &me.id).await? {
            return Err(Error::Blocked);
        }
        Ok((room, id))
    }

    /// GET /rooms/{id}/pins: newest pinned first. A pin whose message was deleted is left out
    /// (and taken away, freeing its place, if the delete's own clean-up did not get to it).
    pub async fn pins(&self, me: &User, room: &str, now: OffsetDateTime) -> Result<Vec<PinView>> {
        let Seat { room, .. } = self.ports.seat(&me.id, room).await?;
        let mut pins = self.ports.chat.pins(&room.id).await?;
        pins.sort_by_key(|p| std::cmp::Reverse((p.pinned_at, p.message_id)));
        let ids: Vec<MessageId> = pins.iter().map(|p| p.message_id).collect();
        let messages = self.ports.chat.messages_by_id(&room.id, &ids).await?;
        for gone in pins
            .iter()
            .filter(|p| !messages.iter().any(|m| m.id == p.message_id))
        {
            if let Err(e) = self.ports.chat.unpin(&room.id, &gone.message_id, &[]).await {
                tracing::warn!(error = %e, "unpinning a deleted message failed; next read retries");
            }
        }
        let people = self
            .ports
            .people(
                messages
                    .iter()
                    .map(|m| m.sender)
                    .chain(pins.iter().map(|p| p.pinned_by)),
            )
            .await?;
        let links = Links::sign(
            &self.ports.uploads,
            messages.iter().flat_map(message_keys).collect(),
            now,
        )
        .await?;
        Ok(pins
            .iter()
            .filter_map(|p| {
                let m = messages.iter().find(|m| m.id == p.message_id)?;
                Some(PinView {
                    message: links.message(message_view_in(m, &people, &room.deleted_seqs), m),
                    pinned_by: username_of(&people, &p.pinned_by),
                    pinned_at: rfc3339(p.pinned_at),
                })
            })
            .collect())
    }
}
