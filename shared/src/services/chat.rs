//! What the room and message services share: their ports, the membership check that makes every
//! room 404 to non-members, looking people up, and handing events to `Push` (keeping large
//! rooms' subscription index in step with their membership is `room_index`).

use super::chat_views::People;
use crate::domain::{Member, Room, RoomId, User, UserId, Username};
use crate::error::{Error, Result};
use crate::ports::{
    AccountStore, ChatStore, ConnectionStore, Event, Outgoing, Push, SlidingWindow, push_or_log,
};
use serde_json::json;
use std::sync::Arc;

pub const LIST_DEFAULT_LIMIT: usize = 20;
pub const LIST_MAX_LIMIT: usize = 100;

/// The ports the chat services use.
#[derive(Clone)]
pub struct ChatPorts {
    pub accounts: Arc<dyn AccountStore>,
    pub chat: Arc<dyn ChatStore>,
    pub limiter: Arc<dyn SlidingWindow>,
    pub push: Arc<dyn Push>,
    /// The subscription index of large rooms (`Room::subscribed`; `room_index`).
    pub subscriptions: Arc<dyn ConnectionStore>,
    /// Attaching files to messages and room avatars, and signing their download URLs.
    pub uploads: super::uploads::UploadService,
}

/// A room as one of its members sees it.
pub struct Seat {
    pub room: Room,
    pub me: Member,
}

impl ChatPorts {
    /// The room and the caller's seat in it; 404 for a malformed or unknown id and for a room
    /// the caller is not in, alike, so a room's existence never leaks.
    pub async fn seat(&self, me: &UserId, raw_room: &str) -> Result<Seat> {
        let id = RoomId::parse(raw_room).map_err(|_| Error::NotFound("room"))?;
        let (room, member) = tokio::try_join!(self.chat.room(&id), self.chat.member(&id, me))?;
        match (room, member) {
            (Some(room), Some(me)) => Ok(Seat { room, me }),
            _ => Err(Error::NotFound("room")),
        }
    }

    /// Accounts by id (unknown ones left out).
    pub async fn people(&self, ids: impl IntoIterator<Item = UserId>) -> Result<People> {
        let mut ids: Vec<UserId> = ids.into_iter().collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return Ok(People::new());
        }
        Ok(self
            .accounts
            .users(&ids)
            .await?
            .into_iter()
            .map(|u| (u.id, u))
            .collect())
    }

    /// The account of `raw`, if it is a valid, existing username.
    pub async fn user_named(&self, raw: &str) -> Result<Option<User>> {
        match Username::parse(raw) {
            Ok(name) => Ok(self.accounts.user_by_username(&name).await?),
            Err(_) => Ok(None),
        }
    }

    /// Whether either of two people blocked the other.
    pub async fn blocked_between(&self, a: &UserId, b: &UserId) -> Result<bool> {
        let (ab, ba) = tokio::try_join!(
            self.accounts.is_blocked(a, b),
            self.accounts.is_blocked(b, a)
        )?;
        Ok(ab || ba)
    }

    /// Whether `room` is a direct room whose two people are split by a block (either way):
    /// then nothing one of them does there reaches the other.
    pub async fn blocked_in_direct(&self, room: &Room, me: &UserId) -> Result<bool> {
        if room.kind != crate::domain::RoomKind::Direct {
            return Ok(false);
        }
        match room.pair.iter().find(|id| *id != me) {
            Some(other) => self.blocked_between(me, other).await,
            None => Ok(false),
        }
    }

    /// The ids of a room's members now.
    pub async fn member_ids(&self, room: &RoomId) -> Result<Vec<UserId>> {
        Ok(self
            .chat
            .members(room)
            .await?
            .into_iter()
            .map(|m| m.user_id)
            .collect())
    }

    /// Hands `record` to the outbox (the delivery worker posts it after the request). The
    /// change it reports has happened: a failure to record it is logged, never the caller's.
    pub async fn announce(&self, record: Outgoing) {
        if let Err(e) = self.chat.publish(std::slice::from_ref(&record)).await {
            tracing::warn!(error = %e, kind = record.event.kind, room_id = %record.room, "event not recorded");
        }
    }

    pub async fn emit(&self, recipients: &[UserId], event: Event) {
        push_or_log(self.push.as_ref(), recipients, &event).await;
    }

    /// `room {event, room_id}` to `recipients`.
    pub async fn room_event(&self, recipients: &[UserId], what: &'static str, room: &RoomId) {
        self.emit(
            recipients,
            Event::new("room", json!({"event": what, "room_id": room.to_string()})),
        )
        .await;
    }
}

/// A direct room has no roles and fixed members: structural changes are refused.
pub fn not_direct(room: &Room) -> Result<()> {
    if room.kind == crate::domain::RoomKind::Direct {
        return Err(Error::Refused("direct_room"));
    }
    Ok(())
}
