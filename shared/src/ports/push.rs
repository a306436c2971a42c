//! Server events for people's open WebSocket connections. Services hand every change that others
//! must see to this port with its recipients; the realtime adapter looks up their connections and
//! posts. Delivery is best effort: a failed push is logged and never undoes or fails the change
//! that caused it.

use crate::domain::{Connection, UserId};
use async_trait::async_trait;
use serde_json::{Map, Value};

/// One server event in its wire form: `{"type": kind, ...fields}` as the WebSocket section of the
/// API contract names them (`transfer_received {transfer}`, `message {room_id, message}`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub kind: &'static str,
    pub fields: Map<String, Value>,
}

impl Event {
    /// An event of `kind` with `fields` (a JSON object; anything else is carried as no fields).
    pub fn new(kind: &'static str, fields: Value) -> Self {
        let fields = match fields {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        Self { kind, fields }
    }

    /// The frame a client receives.
    pub fn to_json(&self) -> Value {
        let mut frame = Map::with_capacity(self.fields.len() + 1);
        frame.insert("type".to_owned(), Value::String(self.kind.to_owned()));
        frame.extend(self.fields.clone());
        Value::Object(frame)
    }
}

#[async_trait]
pub trait Push: Send + Sync {
    /// Delivers `event` to every open connection of each recipient.
    async fn push(&self, recipients: &[UserId], event: &Event) -> anyhow::Result<()>;

    /// Delivers `event` to these connections (found already: a large room's subscription
    /// shard). An error means some post should be tried again (throttling), not that none landed.
    async fn push_to(&self, connections: &[Connection], event: &Event) -> anyhow::Result<()>;
}

/// Pushes and only logs a failure: the change that caused the event has happened either way.
pub async fn push_or_log(push: &dyn Push, recipients: &[UserId], event: &Event) {
    if recipients.is_empty() {
        return;
    }
    if let Err(e) = push.push(recipients, event).await {
        tracing::warn!(error = %e, kind = event.kind, "push failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_wire_form_puts_the_type_first_beside_the_fields() {
        let event = Event::new("deleted", json!({"room_id": "r", "message_id": "m"}));
        assert_eq!(
            event.to_json(),
            json!({"type": "deleted", "room_id": "r", "message_id": "m"})
        );
    }
}
