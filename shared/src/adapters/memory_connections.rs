//! The connection store in process memory (the local server's default, and tests). One lock
//! makes spending a ticket a single step, as the DynamoDB adapter's conditional delete does, and
//! makes the per-user cap and its eviction one step with recording the connection.
//!
//! The session a ticket belongs to lives in the account store, behind its own lock, so the
//! check that it is alive is made before the connection is recorded and again after: a logout
//! that lands before the second check refuses the connect (its record is taken back), and one
//! that lands after it finds the connection in its sweep. Either way no connection of an ended
//! session stays (the DynamoDB adapter gets the same from one transaction's condition checks).
//!
//! The subscription index lives under the same lock: recording, forgetting, subscribing and
//! unsubscribing change it in the same step as the connection or the user's rooms.

use crate::domain::{
    Connection, ConnectionId, MAX_CONNECTIONS_PER_USER, Opened, RoomId, SessionBinding, TokenHash,
    UserId, WsTicket, subscription_shard,
};
use crate::ports::{AccountStore, ConnectionStore, StoreError};
use async_trait::async_trait;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use time::OffsetDateTime;

#[derive(Default)]
struct State {
    tickets: HashMap<TokenHash, WsTicket>,
    connections: HashMap<ConnectionId, Connection>,
    /// Each user's connection ids: the memory twin of the DynamoDB connections item.
    by_user: HashMap<UserId, BTreeSet<ConnectionId>>,
    /// The subscribed rooms each user is a member of (the `rooms` of the connections item).
    rooms_of: HashMap<UserId, BTreeSet<RoomId>>,
    /// Each subscribed room's index: the connection ids in it (sharded on read).
    subscribers: HashMap<RoomId, BTreeSet<ConnectionId>>,
}

pub struct MemoryConnections {
    state: Mutex<State>,
    /// Where the sessions live (`$connect` checks the ticket's).
    accounts: Arc<dyn AccountStore>,
}

impl MemoryConnections {
    pub fn new(accounts: Arc<dyn AccountStore>) -> Self {
        Self {
            state: Mutex::default(),
            accounts,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every write below is one statement under the lock: a poisoned lock holds whole data.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The session is not revoked and the user's epoch is still the ticket's.
    async fn alive(&self, session: &SessionBinding) -> Result<bool, StoreError> {
        let (user, stored) = tokio::try_join!(
            self.accounts.user(&session.user_id),
            self.accounts.session(&session.session_id)
        )?;
        Ok(matches!(
            (user, stored),
            (Some(u), Some(s)) if u.session_epoch == session.epoch && !s.revoked && s.user_id == u.id
        ))
    }

    /// Records `connection`, removing the user's oldest beyond the cap; returns those removed.
    fn record(state: &mut State, connection: &Connection) -> Vec<ConnectionId> {
        let user = connection.user_id;
        let held: Vec<Connection> = state
            .by_user
            .get(&user)
            .into_iter()
            .flatten()
            .filter_map(|id| state.connections.get(id))
            .cloned()
            .collect();
        // Lapsed records are dropped by this write (as the DynamoDB adapter's put drops their
        // entries) and count for nothing; then the oldest live ones beyond the cap go.
        let now = connection.connected_at;
        let (lapsed, mut live): (Vec<Connection>, Vec<Connection>) =
            held.into_iter().partition(|c| now >= c.expires_at);
        for gone in &lapsed {
            Self::forget(state, &gone.id);
        }
        live.sort_by(|a, b| (a.connected_at, &a.id).cmp(&(b.connected_at, &b.id)));
        let excess = (live.len() + 1).saturating_sub(MAX_CONNECTIONS_PER_USER);
        let evicted: Vec<ConnectionId> = live.into_iter().take(excess).map(|c| c.id).collect();
        for id in &evicted {
            Self::forget(state, id);
        }
        state
            .connections
            .insert(connection.id.clone(), connection.clone());
        state
            .by_user
            .entry(user)
            .or_default()
            .insert(connection.id.clone());
        for room in state.rooms_of.get(&user).into_iter().flatten() {
            state
                .subscribers
                .entry(*room)
                .or_default()
                .insert(connection.id.clone());
        }
        evicted
    }

    fn forget(state: &mut State, id: &ConnectionId) {
        let Some(gone) = state.connections.remove(id) else {
            return;
        };
        if let Some(ids) = state.by_user.get_mut(&gone.user_id) {
            ids.remove(id);
            if ids.is_empty() {
                state.by_user.remove(&gone.user_id);
            }
        }
        for room in state.rooms_of.get(&gone.user_id).into_iter().flatten() {
            if let Some(index) = state.subscribers.get_mut(room) {
                index.remove(id);
            }
        }
    }

    /// Adds (`true`) or removes `user`'s connections in `room`'s index, and the room in theirs.
    fn set_subscribed(state: &mut State, user: &UserId, room: &RoomId, on: bool) {
        let ids: Vec<ConnectionId> = state
            .by_user
            .get(user)
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        let index = state.subscribers.entry(*room).or_default();
        for id in ids {
            if on {
                index.insert(id);
            } else {
                index.remove(&id);
            }
        }
        if index.is_empty() {
            state.subscribers.remove(room);
        }
        let rooms = state.rooms_of.entry(*user).or_default();
        if on {
            rooms.insert(*room);
        } else {
            rooms.remove(room);
        }
        if rooms.is_empty() {
            state.rooms_of.remove(user);
        }
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
    ) -> Result<Option<Opened>, StoreError> {
        // Spent whether or not it is still valid: an expired ticket is worth nothing anyway.
        let spent = self.state().tickets.remove(ticket);
        let Some(spent) = spent.filter(|t| now < t.expires_at) else {
            return Ok(None);
        };
        let session = spent.session;
        if !self.alive(&session).await? {
            return Ok(None);
        }
        let connection = Connection::opened(id.clone(), session, now);
        let evicted = Self::record(&mut self.state(), &connection);
        if !self.alive(&session).await? {
            Self::forget(&mut self.state(), id);
            return Ok(None);
        }
        Ok(Some(Opened {
            connection,
            evicted,
        }))
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

    async fn connections_of_users(
        &self,
        users: &[UserId],
        now: OffsetDateTime,
    ) -> Result<Vec<Connection>, StoreError> {
        let unique: BTreeSet<&UserId> = users.iter().collect();
        let state = self.state();
        Ok(unique
            .into_iter()
            .filter_map(|user| state.by_user.get(user))
            .flatten()
            .filter_map(|id| state.connections.get(id))
            .filter(|c| now < c.expires_at)
            .cloned()
            .collect())
    }

    async fn disconnect(&self, id: &ConnectionId) -> Result<(), StoreError> {
        Self::forget(&mut self.state(), id);
        Ok(())
    }

    async fn subscribe(&self, user: &UserId, room: &RoomId) -> Result<(), StoreError> {
        Self::set_subscribed(&mut self.state(), user, room, true);
        Ok(())
    }

    async fn unsubscribe(&self, user: &UserId, room: &RoomId) -> Result<(), StoreError> {
        Self::set_subscribed(&mut self.state(), user, room, false);
        Ok(())
    }

    async fn room_subscribers(
        &self,
        room: &RoomId,
        shard: u16,
        now: OffsetDateTime,
    ) -> Result<Vec<Connection>, StoreError> {
        let state = self.state();
        Ok(state
            .subscribers
            .get(room)
            .into_iter()
            .flatten()
            .filter(|id| subscription_shard(id) == shard)
            .filter_map(|id| state.connections.get(id))
            .filter(|c| now < c.expires_at)
            .cloned()
            .collect())
    }

    async fn forget(&self, connection: &Connection) -> Result<(), StoreError> {
        Self::forget(&mut self.state(), &connection.id);
        Ok(())
    }
}

impl crate::adapters::memory_expiry::Expiring for MemoryConnections {
    fn drop_expired(&self, now: OffsetDateTime) -> usize {
        let mut state = self.state();
        let s = &mut *state;
        let tickets =
            crate::adapters::memory_expiry::retain_live(&mut s.tickets, |_, t| now < t.expires_at);
        // A lapsed connection goes with its entries in the user's set and the rooms' indexes,
        // as `forget` removes them (on DynamoDB each of those items carries the same `ttl`).
        let lapsed: Vec<ConnectionId> = s
            .connections
            .values()
            .filter(|c| now >= c.expires_at)
            .map(|c| c.id.clone())
            .collect();
        for id in &lapsed {
            Self::forget(s, id);
        }
        // `rooms_of` is membership, not connection state: it stays for the user's next socket.
        s.subscribers.retain(|_, ids| !ids.is_empty());
        tickets + lapsed.len()
    }
}
