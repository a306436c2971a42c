//! Ending the sockets of ended sessions. Logout ends one session, logout-all, a password change
//! or reset and a detected refresh-token reuse end some or all of a user's: the sockets those
//! sessions opened are found by key (the user's connections), their records deleted and each
//! closed through `@connections` DELETE, at once rather than when they next send a frame.
//!
//! The sweep runs after the session's end has committed; `$connect` checks the session in the
//! write that records a connection, so a connect racing the logout either fails or is found
//! here. A sweep that fails half-way leaves records behind: the frame path still refuses them
//! (their epoch is checked against the user on every action, and `transfer` re-reads the
//! session), and a push's 410 or the TTL removes them.

use crate::domain::{Connection, ConnectionId, SessionId, UserId};
use crate::ports::{Clock, ConnectionApi, ConnectionStore, PostError};
use std::sync::Arc;

#[derive(Clone)]
pub struct SocketSweep {
    connections: Arc<dyn ConnectionStore>,
    api: Arc<dyn ConnectionApi>,
    clock: Arc<dyn Clock>,
}

impl SocketSweep {
    pub fn new(
        connections: Arc<dyn ConnectionStore>,
        api: Arc<dyn ConnectionApi>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            connections,
            api,
            clock,
        }
    }

    /// Closes the sockets opened under `session` (logout, a reused refresh token).
    pub async fn end_session(&self, user: &UserId, session: &SessionId) {
        self.end_where(user, |c| c.session_id == *session).await;
    }

    /// Closes the sockets of `user` opened under an epoch other than `current` (logout-all,
    /// password change and reset): a login after the bump keeps its own.
    pub async fn end_epochs_before(&self, user: &UserId, current: u64) {
        self.end_where(user, |c| c.epoch != current).await;
    }

    async fn end_where(&self, user: &UserId, ended: impl Fn(&Connection) -> bool) {
        let held = match self
            .connections
            .connections_of(user, self.clock.now())
            .await
        {
            Ok(held) => held,
            Err(e) => {
                tracing::error!(error = %e, user_id = %user, "socket sweep: reading connections failed");
                return;
            }
        };
        let ended: Vec<Connection> = held.into_iter().filter(|c| ended(c)).collect();
        for connection in &ended {
            if let Err(e) = self.connections.forget(connection).await {
                tracing::error!(error = %e, connection = %connection.id, "forgetting a connection failed");
            }
            self.shut(&connection.id).await;
        }
        if !ended.is_empty() {
            tracing::info!(user_id = %user, sockets = ended.len(), "sockets of ended sessions closed");
        }
    }

    /// Forgets connection `id` and closes its socket; a socket already gone is fine.
    pub async fn close(&self, id: &ConnectionId) {
        if let Err(e) = self.connections.disconnect(id).await {
            tracing::error!(error = %e, connection = %id, "forgetting a connection failed");
        }
        self.shut(id).await;
    }

    /// Closes the sockets of connections whose records are already gone (evicted by the cap in
    /// the write that recorded a newer one).
    pub async fn shut_all(&self, ids: &[ConnectionId]) {
        for id in ids {
            self.shut(id).await;
        }
    }

    async fn shut(&self, id: &ConnectionId) {
        match self.api.close(id).await {
            Ok(()) | Err(PostError::Gone) => {}
            Err(e) => {
                tracing::error!(error = %e, connection = %id, "closing a socket failed");
            }
        }
    }

    /// Sends one frame to `id` before it is closed (the `unauthorized` error of a refused frame).
    pub async fn tell(&self, id: &ConnectionId, frame: &[u8]) {
        if let Err(e @ (PostError::Unexpected(_) | PostError::Throttled)) =
            self.api.post(id, frame).await
        {
            tracing::warn!(error = %e, connection = %id, "posting to a socket failed");
        }
    }
}
