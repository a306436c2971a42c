//! WebSocket connections: the tickets that open them and the record of who holds which.
//! Tickets are single-use even under racing `$connect`s; a user's connections live in one item
//! (DynamoDB), found by key and read in batches for a push's recipients, so a push costs reads in
//! proportion to its recipients, never one query each.
//! A connection is recorded only while the session of its ticket is alive, and a user holds at
//! most `MAX_CONNECTIONS_PER_USER`: both decided in the write that records it.

use super::StoreError;
use crate::domain::Connection;
use crate::domain::{ConnectionId, Opened, TokenHash, UserId, WsTicket};
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

    /// `disconnect` of a connection already read (a post answered 410 Gone, a session sweep):
    /// the same one write, without looking the owner up first.
    async fn forget(&self, connection: &Connection) -> Result<(), StoreError>;
}
