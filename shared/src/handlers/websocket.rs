//! The shape of a WebSocket Lambda function (`ws-connect`, `ws-message`, `ws-disconnect`): an
//! API Gateway WebSocket event in, a proxy response out. Like HTTP handlers they always answer;
//! the local server's WebSocket gateway and the function binaries call the same ones.

use crate::http::websocket::{WsRequest, WsResponse};
use async_trait::async_trait;

#[async_trait]
pub trait WsFunction: Send + Sync {
    async fn handle(&self, event: WsRequest) -> WsResponse;
}
