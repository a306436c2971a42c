//! The `ws-message` function: every client frame (the action routes and `$default`). It reads
//! the frame, finds who holds the connection (the store, never the frame), runs the action, and
//! answers the caller alone: a `pong`, or an `error` event that never closes the socket and
//! never reaches anyone else. Events for others go through the `Push` port inside the actions.

use super::Context;
use super::websocket::WsFunction;
use super::ws_actions::Actions;
use super::ws_frames::{error_frame, read_frame};
use crate::domain::ConnectionId;
use crate::error::Error;
use crate::http::websocket::{WsRequest, WsResponse};
use crate::ports::ConnectionStore;
use crate::services::realtime::RealtimeService;
use async_trait::async_trait;
use std::sync::Arc;

pub struct WsMessage {
    ctx: Context,
    realtime: RealtimeService,
    actions: Actions,
}

impl WsMessage {
    pub fn new(ctx: Context, connections: Arc<dyn ConnectionStore>, actions: Actions) -> Self {
        Self {
            realtime: RealtimeService::new(ctx.store.clone(), connections),
            ctx,
            actions,
        }
    }
}

#[async_trait]
impl WsFunction for WsMessage {
    async fn handle(&self, event: WsRequest) -> WsResponse {
        let frame = match read_frame(&event) {
            Ok(frame) => frame,
            Err(bad) => {
                return WsResponse::reply(&error_frame(
                    &bad.action,
                    bad.client_id.as_deref(),
                    &bad.error,
                ));
            }
        };
        let caller = match ConnectionId::parse(&event.request_context.connection_id) {
            Ok(id) => self.realtime.owner(&id, self.ctx.clock.now()).await,
            Err(_) => Err(Error::Unauthorized),
        };
        let outcome = match caller {
            Ok(caller) => self.actions.run(&caller, &frame).await,
            Err(e) => Err(e),
        };
        match outcome {
            Ok(Some(reply)) => WsResponse::reply(&reply.to_json()),
            Ok(None) => WsResponse::ok(),
            Err(e) => {
                WsResponse::reply(&error_frame(&frame.action, frame.client_id.as_deref(), &e))
            }
        }
    }
}
