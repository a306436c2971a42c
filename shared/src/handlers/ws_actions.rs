//! What each client action does. Every action is a thin call into the same services the HTTP
//! routes use (one rule, written once); this file only reads the frame's fields into their
//! types and says which event the caller gets back. The caller is the connection's owner as
//! stored at `$connect`: names and ids in a frame never say who is acting.

use super::ws_frames::Frame;
use crate::domain::Connection;
use crate::error::{Error, Result};
use crate::ports::Event;
use serde_json::json;

/// The actions and the services behind them.
#[derive(Clone, Default)]
pub struct Actions {}

impl Actions {
    pub fn new() -> Self {
        Self {}
    }

    /// Runs `frame` for `caller`: `Some(event)` is answered to the caller alone.
    pub async fn run(&self, _caller: &Connection, frame: &Frame) -> Result<Option<Event>> {
        match frame.action.as_str() {
            "ping" => Ok(Some(Event::new("pong", json!({})))),
            _ => Err(Error::Refused("unknown_action")),
        }
    }
}
