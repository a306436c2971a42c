//! The `ws-disconnect` function: the WebSocket `$disconnect` route. Forgets the connection so
//! nothing is posted to it again. (API Gateway delivers `$disconnect` on a best-effort basis;
//! records it misses lapse by TTL, and a push that meets one gets 410 and removes it.)

use super::websocket::WsFunction;
use crate::domain::ConnectionId;
use crate::http::websocket::{WsRequest, WsResponse};
use crate::ports::{AccountStore, ConnectionStore};
use crate::services::realtime::RealtimeService;
use async_trait::async_trait;
use std::sync::Arc;

pub struct WsDisconnect {
    realtime: RealtimeService,
}

impl WsDisconnect {
    pub fn new(accounts: Arc<dyn AccountStore>, connections: Arc<dyn ConnectionStore>) -> Self {
        Self {
            realtime: RealtimeService::new(accounts, connections),
        }
    }
}

#[async_trait]
impl WsFunction for WsDisconnect {
    async fn handle(&self, event: WsRequest) -> WsResponse {
        let Ok(id) = ConnectionId::parse(&event.request_context.connection_id) else {
            return WsResponse::ok();
        };
        match self.realtime.close(&id).await {
            Ok(()) => WsResponse::ok(),
            Err(e) => {
                tracing::error!(error = ?e, "disconnect failed");
                WsResponse::status(500)
            }
        }
    }
}
