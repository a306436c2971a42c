//! WebSocket connections: the tickets that open them and the record of who holds which.
//! Tickets are single-use even under racing `$connect`s; a user's connections live in one item
//! (DynamoDB), found by key and read in batches for a push's recipients, so a push costs reads in
//! proportion to its recipients, never one query each.
//! A connection is recorded only while the session of its ticket is alive, and a user holds at
//! most `MAX_CONNECTIONS_PER_USER`: both decided in the write that records it.
//!
//! Large rooms (`Room::subscribed`) also keep a subscription index: the live connections of
//! their members, in `SUBSCRIPTION_SHARDS` shards, so a send reads its online audience instead
//! of every member. The store knows which of a user's rooms are subscribed (the chat services
//! tell it on join and leave), and keeps the index in step with connects and disconnects: a
//! connection is in a room's index exactly while it is live and its owner is subscribed.

use super::StoreError;
use crate::domain::Connection;
use crate::domain::{ConnectionId, Opened, RoomId, TokenHash, UserId, WsTicket};
use async_trait::async_trait;
use time::OffsetDateTime;

#[async_trait]
pub trait ConnectionStore: Send + Sync {
    /// Stores a fresh ticket (its hash only).
    async fn put_ticket(&self, ticket: &WsTicket) -> Result<(), StoreError>;

    /// Spends the ticket with this hash, if it exists and `now` is before its expiry, and records
    /// connection `id` for the ticket's session, if that session is not revoked and the user's
    /// session epoch is still the ticket's (checked in the same write, so a logout that commits
    /// first refuses the connect and one that commits after sees the connection). If the user
    /// then holds more than `MAX_CONNECTIONS_PER_USER`, the oldest are removed in that write and
    /// returned in `evicted`. `None` for a missing, spent or expired ticket or an ended session.
    /// Of any number of concurrent calls with one ticket, exactly one gets `Some`.
    async fn connect(
        &self,
        ticket: &TokenHash,
        id: &ConnectionId,
        now: OffsetDateTime,
    ) -> Result<Option<Opened>, StoreError>;

    /// The connection with this id, unless it is gone or lapsed.
    async fn connection(
        &self,
        id: &ConnectionId,
        now: OffsetDateTime,
    ) -> Result<Option<Connection>, StoreError>;

    /// Every live connection of `user`.
    async fn connections_of(
        &self,
        user: &UserId,
        now: OffsetDateTime,
    ) -> Result<Vec<Connection>, StoreError>;

    /// Every live connection of these users (each user once, whatever `users` repeats), read in
    /// batches and possibly a moment stale: the recipient lookup of a push.
    async fn connections_of_users(
        &self,
        users: &[UserId],
        now: OffsetDateTime,
    ) -> Result<Vec<Connection>, StoreError>;

    /// Forgets a connection: every record of it, in one write. Forgetting an unknown one is not
    /// an error.
    async fn disconnect(&self, id: &ConnectionId) -> Result<(), StoreError>;

    /// Subscribes `user` to `room`'s index: their live connections now, and every connection
    /// they open from now on. Called after they became a member; repeating it is harmless.
    async fn subscribe(&self, user: &UserId, room: &RoomId) -> Result<(), StoreError>;

    /// Takes `user` and all their connections out of `room`'s index. Called before they stop
    /// being a member (so a failure leaves a member unsubscribed, never a non-member
    /// subscribed); unknown users and rooms are not an error.
    async fn unsubscribe(&self, user: &UserId, room: &RoomId) -> Result<(), StoreError>;

    /// The live connections in shard `shard` (`< SUBSCRIPTION_SHARDS`) of `room`'s index,
    /// possibly a moment stale: one delivery task's audience.
    async fn room_subscribers(
        &self,
        room: &RoomId,
        shard: u16,
        now: OffsetDateTime,
    ) -> Result<Vec<Connection>, StoreError>;

    /// `disconnect` of a connection already read (a post answered 410 Gone, a session sweep):
    /// the same one write, without looking the owner up first.
    async fn forget(&self, connection: &Connection) -> Result<(), StoreError>;
}
