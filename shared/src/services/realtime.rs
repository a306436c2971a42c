//! WebSocket sessions: tickets that open a connection once, and the connection records that say
//! who holds which socket. `POST /ws/tickets` needs a bearer token; the WebSocket handshake
//! cannot carry one (browsers send no headers), so it carries this short-lived, single-use
//! ticket instead, and the token never appears in a URL or an access log.
//!
//! A ticket is bound to the session that asked for it, and so is the connection it opens: the
//! connection is recorded only while that session lives, and the user's oldest connections
//! beyond the cap are evicted (closed) by the connect that exceeds it.

use super::socket_sweep::SocketSweep;
use crate::domain::time::seconds_until;
use crate::domain::{Connection, ConnectionId, SessionBinding, TICKET_LIFETIME, WsTicket};
use crate::error::{Error, Result};
use crate::ports::{AccountStore, ConnectionStore, RateDecision};
use crate::security::secrets;
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

/// Tickets one user may take per minute: plenty for reconnecting tabs, too few to fill a table.
pub const TICKETS_PER_MINUTE: u32 = 30;

/// A fresh ticket, shown once.
pub struct IssuedTicket {
    pub ticket: String,
    pub expires_at: OffsetDateTime,
}

#[derive(Clone)]
pub struct RealtimeService {
    accounts: Arc<dyn AccountStore>,
    connections: Arc<dyn ConnectionStore>,
}

impl RealtimeService {
    pub fn new(accounts: Arc<dyn AccountStore>, connections: Arc<dyn ConnectionStore>) -> Self {
        Self {
            accounts,
            connections,
        }
    }

    /// A single-use ticket for `session`, valid `TICKET_LIFETIME`; only its hash is stored.
    pub async fn issue_ticket(
        &self,
        session: SessionBinding,
        now: OffsetDateTime,
    ) -> Result<IssuedTicket> {
        let key = format!("wsticket:{}", session.user_id);
        if let RateDecision::Limited { until } = self
            .accounts
            .hit_rate_limit(&key, TICKETS_PER_MINUTE, Duration::minutes(1), now)
            .await?
        {
            return Err(Error::RateLimited {
                retry_after: seconds_until(now, until),
                code: "rate_limited",
            });
        }
        let raw: [u8; 32] = secrets::random_bytes();
        let expires_at = now + TICKET_LIFETIME;
        self.connections
            .put_ticket(&WsTicket {
                hash: secrets::hash(&raw),
                session,
                expires_at,
            })
            .await?;
        Ok(IssuedTicket {
            ticket: secrets::encode(&raw),
            expires_at,
        })
    }

    /// Opens connection `id` with `ticket`: 401 for a missing, malformed, spent or expired one,
    /// or one whose session has ended. Connections the cap evicted are closed through `sweep`.
    pub async fn open(
        &self,
        ticket: Option<&str>,
        id: &ConnectionId,
        sweep: &SocketSweep,
        now: OffsetDateTime,
    ) -> Result<Connection> {
        let hash = ticket
            .and_then(secrets::decode)
            .filter(|raw| raw.len() == 32)
            .map(|raw| secrets::hash(&raw))
            .ok_or(Error::Unauthorized)?;
        let opened = self
            .connections
            .connect(&hash, id, now)
            .await?
            .ok_or(Error::Unauthorized)?;
        if !opened.evicted.is_empty() {
            tracing::info!(user_id = %opened.connection.user_id, evicted = opened.evicted.len(), "connection cap: oldest closed");
            sweep.shut_all(&opened.evicted).await;
        }
        Ok(opened.connection)
    }

    /// The owner of a live connection; 401 once it is gone.
    pub async fn owner(&self, id: &ConnectionId, now: OffsetDateTime) -> Result<Connection> {
        self.connections
            .connection(id, now)
            .await?
            .ok_or(Error::Unauthorized)
    }

    /// Forgets connection `id` (after `$disconnect`).
    pub async fn close(&self, id: &ConnectionId) -> Result<()> {
        Ok(self.connections.disconnect(id).await?)
    }
}
