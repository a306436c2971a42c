//! WebSocket connections: the tickets that open them and the record of who holds which.
//! Tickets are single-use even under racing `$connect`s; a user's connections are found by key
//! (a Query on DynamoDB, never a Scan), so a push costs reads in proportion to its recipients.

use super::StoreError;
use crate::domain::{Connection, ConnectionId, TokenHash, UserId, WsTicket};
use async_trait::async_trait;
use time::OffsetDateTime;

#[async_trait]
pub trait ConnectionStore: Send + Sync {
    /// Stores a fresh ticket (its hash only).
    async fn put_ticket(&self, ticket: &WsTicket) -> Result<(), StoreError>;

    /// Spends the ticket with this hash, if it exists and `now` is before its expiry, and records
    /// connection `id` for the ticket's owner. `None` for a missing, spent or expired ticket.
    /// Of any number of concurrent calls with one ticket, exactly one gets `Some`.
    async fn connect(
        &self,
        ticket: &TokenHash,
        id: &ConnectionId,
        now: OffsetDateTime,
    ) -> Result<Option<Connection>, StoreError>;

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

    /// Forgets a connection; forgetting an unknown one is not an error.
    async fn disconnect(&self, id: &ConnectionId) -> Result<(), StoreError>;
}
