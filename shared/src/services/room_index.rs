//! Keeping a large room's subscription index in step with its membership (docs/REALTIME.md).
//!
//! The rule: a channel uses the index from creation; a group starts using it the first time a
//! change takes it past `Limits::subscribe_above_members` members, and keeps it. The change that
//! flips the room (one conditional write on the room item) subscribes every member.
//!
//! Membership and index are different items, so the order of the steps carries the guarantees:
//!
//! - a joiner subscribes after its membership commits and, when the room did not use the index
//!   yet, re-reads the flag after its own flip attempt: either it sees the flag (and subscribes
//!   itself) or the flip comes later and the flipper's member read includes it;
//! - every subscribe is followed by a membership check (consistent): someone removed meanwhile
//!   is unsubscribed at once;
//! - a leave or removal unsubscribes before the membership goes (a failure then leaves a member
//!   without live events, never a non-member with them) and again after it when the room uses
//!   the index by then (a subscribe or flip that landed in between is undone).

use super::chat::ChatPorts;
use crate::domain::{Room, RoomId, RoomKind, UserId};
use crate::error::Result;
use futures_util::stream::{self, StreamExt, TryStreamExt};

/// People subscribed or unsubscribed at once (each a read and a transaction).
const SUBSCRIBING: usize = 16;

impl ChatPorts {
    /// After `joined` became members of `room` (as read before the change): subscribes them
    /// where the room uses the index, or flips the room to it when it now holds more than
    /// `above` members, subscribing every member.
    pub async fn joined(&self, room: &Room, joined: &[UserId], above: u32) -> Result<()> {
        if room.subscribed {
            return self.subscribe_members(room.id, joined).await;
        }
        if room.kind == RoomKind::Direct {
            return Ok(());
        }
        if self.chat.subscribe_room_above(&room.id, above).await? {
            tracing::info!(room_id = %room.id, "room passed the subscription threshold");
            let everyone = self.member_ids(&room.id).await?;
            return self.subscribe_members(room.id, &everyone).await;
        }
        // Someone else may have flipped it after our change: their member read can have missed us.
        match self.chat.room(&room.id).await? {
            Some(now) if now.subscribed => self.subscribe_members(room.id, joined).await,
            _ => Ok(()),
        }
    }

    /// Before `user` stops being a member of `room` (as read before the change).
    pub async fn leaving(&self, room: &Room, user: &UserId) -> Result<()> {
        if room.subscribed {
            self.subscriptions.unsubscribe(user, &room.id).await?;
        }
        Ok(())
    }

    /// After `user` stopped being a member: out again if the room uses the index by now.
    pub async fn left(&self, room: &RoomId, user: &UserId) -> Result<()> {
        if self.chat.room(room).await?.is_some_and(|r| r.subscribed) {
            self.subscriptions.unsubscribe(user, room).await?;
        }
        Ok(())
    }

    /// Takes every one of `users` out of a deleted room's index, logging failures (a leftover
    /// costs an index write per connect of that person and points at a room that never sends).
    pub async fn unsubscribe_all(&self, room: &RoomId, users: &[UserId]) {
        let room_id = *room;
        stream::iter(users.to_vec())
            .map(|user| {
                let store = self.subscriptions.clone();
                async move {
                    if let Err(e) = store.unsubscribe(&user, &room_id).await {
                        tracing::warn!(error = %e, room_id = %room_id, "unsubscribing from a deleted room failed");
                    }
                }
            })
            .buffer_unordered(SUBSCRIBING)
            .for_each(|()| async {})
            .await;
    }

    /// Subscribes each of `users`, then checks they are still a member (consistent read) and
    /// takes them out again if not.
    async fn subscribe_members(&self, room: RoomId, users: &[UserId]) -> Result<()> {
        stream::iter(users.to_vec())
            .map(|user| {
                let (store, chat) = (self.subscriptions.clone(), self.chat.clone());
                async move {
                    store.subscribe(&user, &room).await?;
                    if chat.member(&room, &user).await?.is_none() {
                        store.unsubscribe(&user, &room).await?;
                    }
                    Ok::<(), crate::ports::StoreError>(())
                }
            })
            .buffer_unordered(SUBSCRIBING)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }
}
