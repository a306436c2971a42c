//! The connection store in process memory (the local server's default, and tests). One lock
//! makes spending a ticket and recording its connection a single step, as the DynamoDB
//! adapter's conditional delete does.

use crate::domain::{Connection, ConnectionId, TokenHash, UserId, WsTicket};
use crate::ports::{ConnectionStore, StoreError};
use async_trait::async_trait;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};
use time::OffsetDateTime;

#[derive(Default)]
struct State {
    tickets: HashMap<TokenHash, WsTicket>,
    connections: HashMap<ConnectionId, Connection>,
    /// Each user's connection ids: the memory twin of the DynamoDB per-user partition.
    by_user: HashMap<UserId, BTreeSet<ConnectionId>>,
}

#[derive(Default)]
pub struct MemoryConnections {
    state: Mutex<State>,
}

impl MemoryConnections {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every write below is one statement under the lock: a poisoned lock holds whole data.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl ConnectionStore for MemoryConnections {
    async fn put_ticket(&self, ticket: &WsTicket) -> Result<(), StoreError> {
        self.state().tickets.insert(ticket.hash, ticket.clone());
        Ok(())
    }

    async fn connect(
        &self,
        ticket: &TokenHash,
        id: &ConnectionId,
        now: OffsetDateTime,
    ) -> Result<Option<Connection>, StoreError> {
        let mut state = self.state();
        let Some(found) = state.tickets.get(ticket) else {
            return Ok(None);
        };
        if now >= found.expires_at {
            return Ok(None);
        }
        let user = found.user_id;
        state.tickets.remove(ticket);
        let connection = Connection::opened(id.clone(), user, now);
        state.connections.insert(id.clone(), connection.clone());
        state.by_user.entry(user).or_default().insert(id.clone());
        Ok(Some(connection))
    }

    async fn connection(
        &self,
        id: &ConnectionId,
        now: OffsetDateTime,
    ) -> Result<Option<Connection>, StoreError> {
        Ok(self
            .state()
            .connections
            .get(id)
            .filter(|c| now < c.expires_at)
            .cloned())
    }

    async fn connections_of(
        &self,
        user: &UserId,
        now: OffsetDateTime,
    ) -> Result<Vec<Connection>, StoreError> {
        let state = self.state();
        Ok(state
            .by_user
            .get(user)
            .into_iter()
            .flatten()
            .filter_map(|id| state.connections.get(id))
            .filter(|c| now < c.expires_at)
            .cloned()
            .collect())
    }

    async fn disconnect(&self, id: &ConnectionId) -> Result<(), StoreError> {
        let mut state = self.state();
        if let Some(gone) = state.connections.remove(id)
            && let Some(ids) = state.by_user.get_mut(&gone.user_id)
        {
            ids.remove(id);
            if ids.is_empty() {
                state.by_user.remove(&gone.user_id);
            }
        }
        Ok(())
    }
}
