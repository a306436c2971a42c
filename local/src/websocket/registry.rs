//! The live sockets of the local WebSocket gateway, by connection id: what the management API
//! posts to, closes and describes. A socket's writer drains its queue; posting never waits on a
//! slow client for long.

use std::collections::HashMap;
use std::sync::Mutex;
use time::OffsetDateTime;
use tokio::sync::mpsc;

/// Frames waiting for one socket's writer. Beyond this the management API answers 429, as API
/// Gateway throttles a connection that cannot keep up.
pub const QUEUE: usize = 1024;

/// What a socket's writer is asked to do.
#[derive(Debug)]
pub enum Outbound {
    Text(String),
    Close,
}

#[derive(Clone)]
pub struct Entry {
    pub sender: mpsc::Sender<Outbound>,
    pub connected_at: OffsetDateTime,
    pub last_active_at: OffsetDateTime,
    pub source_ip: String,
    pub user_agent: String,
}

#[derive(Default)]
pub struct Registry {
    sockets: Mutex<HashMap<String, Entry>>,
}

impl Registry {
    fn sockets(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.sockets.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn insert(&self, id: &str, entry: Entry) {
        self.sockets().insert(id.to_owned(), entry);
    }

    pub fn remove(&self, id: &str) {
        self.sockets().remove(id);
    }

    pub fn get(&self, id: &str) -> Option<Entry> {
        self.sockets().get(id).cloned()
    }

    pub fn touch(&self, id: &str, at: OffsetDateTime) {
        if let Some(entry) = self.sockets().get_mut(id) {
            entry.last_active_at = at;
        }
    }

    /// How many sockets are open.
    pub fn len(&self) -> usize {
        self.sockets().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
