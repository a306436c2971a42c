//! The `ws-message` function: every client frame (the action routes and `$default`). It reads
//! the frame, finds who holds the connection (the store, never the frame), runs the action, and
//! answers the caller alone: a `pong`, or an `error` event that never closes the socket and
//! never reaches anyone else. Events for others go through the `Push` port inside the actions.
//!
//! The one exception: a frame refused as `unauthorized` (the connection's record is gone, or its
//! session or the user's session epoch is no longer the one it was opened under) gets its
//! `error` event through `@connections` and then the socket is closed, since a socket outlives
//! no session.

use super::Context;
use super::websocket::WsFunction;
use super::ws_actions::Actions;
use super::ws_frames::{error_frame, read_frame};
use crate::domain::ConnectionId;
use crate::error::Error;
use crate::http::websocket::{WsRequest, WsResponse};
use crate::ports::{ConnectionApi, ConnectionStore};
use crate::services::realtime::RealtimeService;
use crate::services::socket_sweep::SocketSweep;
use async_trait::async_trait;
use std::sync::Arc;

pub struct WsMessage {
    ctx: Context,
    realtime: RealtimeService,
    actions: Actions,
    sweep: SocketSweep,
}

impl WsMessage {
    pub fn new(
        ctx: Context,
        connections: Arc<dyn ConnectionStore>,
        api: Arc<dyn ConnectionApi>,
        actions: Actions,
    ) -> Self {
        Self {
            realtime: RealtimeService::new(ctx.store.clone(), connections.clone()),
            sweep: SocketSweep::new(connections, api, ctx.clock.clone()),
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
        let Ok(id) = ConnectionId::parse(&event.request_context.connection_id) else {
            return WsResponse::reply(&error_frame(
                &frame.action,
                frame.client_id.as_deref(),
                &Error::Unauthorized,
            ));
        };
        let outcome = match self.realtime.owner(&id, self.ctx.clock.now()).await {
            Ok(caller) => self.actions.run(&caller, &frame).await,
            Err(e) => Err(e),
        };
        match outcome {
            Ok(Some(reply)) => WsResponse::reply(&reply.to_json()),
            Ok(None) => WsResponse::ok(),
            Err(Error::Unauthorized) => {
                // The answer must arrive before the close: sent through `@connections`, not as
                // the route response (which API Gateway would deliver after the close, i.e. never).
                let refused = error_frame(
                    &frame.action,
                    frame.client_id.as_deref(),
                    &Error::Unauthorized,
                );
                self.sweep.tell(&id, refused.to_string().as_bytes()).await;
                self.sweep.close(&id).await;
                tracing::info!(connection = %id, "frame of an ended session: socket closed");
                WsResponse::ok()
            }
            Err(e) => {
                WsResponse::reply(&error_frame(&frame.action, frame.client_id.as_deref(), &e))
            }
        }
    }
}
