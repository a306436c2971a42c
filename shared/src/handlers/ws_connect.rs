//! The `ws-connect` function: the WebSocket `$connect` route. Spends the handshake's ticket and
//! records the connection while the ticket's session lives (closing the user's oldest beyond the
//! cap); any other status than 200 makes API Gateway refuse the handshake.

use super::Context;
use super::websocket::WsFunction;
use crate::domain::ConnectionId;
use crate::error::Error;
use crate::http::websocket::{WsRequest, WsResponse};
use crate::ports::{ConnectionApi, ConnectionStore};
use crate::services::realtime::RealtimeService;
use crate::services::socket_sweep::SocketSweep;
use async_trait::async_trait;
use std::sync::Arc;

pub struct WsConnect {
    ctx: Context,
    realtime: RealtimeService,
    sweep: SocketSweep,
}

impl WsConnect {
    pub fn new(
        ctx: Context,
        connections: Arc<dyn ConnectionStore>,
        api: Arc<dyn ConnectionApi>,
    ) -> Self {
        Self {
            realtime: RealtimeService::new(ctx.store.clone(), connections.clone()),
            sweep: SocketSweep::new(connections, api, ctx.clock.clone()),
            ctx,
        }
    }
}

#[async_trait]
impl WsFunction for WsConnect {
    async fn handle(&self, event: WsRequest) -> WsResponse {
        let Ok(id) = ConnectionId::parse(&event.request_context.connection_id) else {
            return WsResponse::status(400);
        };
        let opened = self
            .realtime
            .open(
                event.query("ticket"),
                &id,
                &self.sweep,
                self.ctx.clock.now(),
            )
            .await;
        match opened {
            Ok(connection) => {
                tracing::info!(connection = %id, user = %connection.user_id, "connected");
                WsResponse::ok()
            }
            Err(Error::Unauthorized) => WsResponse::status(401),
            Err(e) => {
                tracing::error!(error = ?e, "connect failed");
                WsResponse::status(500)
            }
        }
    }
}
