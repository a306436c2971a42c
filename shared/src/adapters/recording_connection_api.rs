//! A `ConnectionApi` that records what it was asked to do instead of reaching API Gateway: the
//! tests' witness of which sockets were told what and which were closed (and a stand-in for
//! tools with no WebSocket side, such as the login benchmark).

use crate::domain::ConnectionId;
use crate::ports::{ConnectionApi, PostError};
use async_trait::async_trait;
use std::sync::Mutex;

#[derive(Default)]
pub struct RecordingConnectionApi {
    posted: Mutex<Vec<(ConnectionId, String)>>,
    closed: Mutex<Vec<ConnectionId>>,
}

impl RecordingConnectionApi {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every frame posted, oldest first, with its connection.
    pub fn posted(&self) -> Vec<(ConnectionId, String)> {
        self.posted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Every connection closed, in order.
    pub fn closed(&self) -> Vec<ConnectionId> {
        self.closed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

#[async_trait]
impl ConnectionApi for RecordingConnectionApi {
    async fn post(&self, id: &ConnectionId, frame: &[u8]) -> Result<(), PostError> {
        self.posted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((id.clone(), String::from_utf8_lossy(frame).into_owned()));
        Ok(())
    }

    async fn close(&self, id: &ConnectionId) -> Result<(), PostError> {
        self.closed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(id.clone());
        Ok(())
    }
}
