//! What the agreement test drives, function by function: each route's successes and its usual
//! refusals, so that every right a policy grants has a request that needs it. Each scenario
//! asserts the statuses it expects, so a path that stops being taken fails here first.

pub mod chat;
pub mod money;
pub mod realtime;
pub mod uploads;

use serde_json::Value;

/// The status of each reply, for a compact `assert_eq!` against a table of expectations.
pub fn statuses(replies: &[&crate::support::Reply]) -> Vec<u16> {
    replies.iter().map(|r| r.status).collect()
}

/// A fresh idempotency key.
pub fn key() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// `body[field]` as a string.
pub fn field(body: &Value, field: &str) -> String {
    body[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} in {body}"))
        .to_owned()
}
