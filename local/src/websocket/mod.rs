//! The WebSocket side of API Gateway, on its own listener (127.0.0.1:3001 by default):
//! `handshake` turns an upgrade into a `$connect` event (refused unless the function answers
//! 2xx), `socket` runs one connection (route selection on `action` with `$default`, the 32 KiB
//! frame limit, the idle timeout, `$disconnect` at the end), `registry` knows the live sockets,
//! and `management` serves the `@connections` API on the same port so the real
//! `aws-sdk-apigatewaymanagement` adapter posts to these sockets exactly as it does on AWS.

mod handshake;
mod management;
mod registry;
mod socket;

pub use registry::Registry;

use chatman::handlers::websocket::WsFunction;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The stage name in events and in the management API's path (API Gateway's is in the URL).
pub const STAGE: &str = "local";

/// Everything the WebSocket gateway dispatches to.
pub struct WsGateway {
    /// The function of each WebSocket route key (`routes::WS_ROUTES`).
    pub functions: HashMap<&'static str, Arc<dyn WsFunction>>,
    pub registry: Arc<Registry>,
    /// `requestContext.domainName`: this listener's address.
    pub domain: String,
    /// A connection with no frame from its client for this long is closed (API Gateway: 10 min).
    pub idle_timeout: Duration,
    /// Added to every `@connections` POST (latency injection for the benchmark; zero normally).
    pub post_latency: Duration,
    /// The `Host` values this listener answers (DNS rebinding: `crate::host_check`).
    pub hosts: crate::host_check::AllowedHosts,
}

pub(crate) type HyperResponse = hyper::Response<Full<Bytes>>;

pub(crate) fn status(code: u16, body: &str) -> HyperResponse {
    let mut response = hyper::Response::new(Full::new(Bytes::copy_from_slice(body.as_bytes())));
    *response.status_mut() =
        hyper::StatusCode::from_u16(code).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    response
}

impl WsGateway {
    /// One HTTP request on the WebSocket port: the management API or a WebSocket handshake.
    /// A `Host` naming another address is 421 first (`crate::host_check`).
    pub async fn serve(
        self: Arc<Self>,
        req: hyper::Request<Incoming>,
        peer: SocketAddr,
    ) -> HyperResponse {
        if let Some(refused) = self.hosts.check(&req) {
            return refused;
        }
        if let Some(id) = req.uri().path().strip_prefix("/@connections/") {
            if let Some(refused) = management::refuse_outsider(&req, peer) {
                return refused;
            }
            let id = id.to_owned();
            if req.method() == hyper::Method::POST && !self.post_latency.is_zero() {
                tokio::time::sleep(self.post_latency).await;
            }
            return management::serve(&self.registry, req, &id).await;
        }
        if handshake::is_upgrade(&req) {
            return handshake::upgrade(self, req, peer).await;
        }
        status(
            426,
            "This is the WebSocket API: connect with a WebSocket client.",
        )
    }

    pub(crate) fn function(&self, route_key: &str) -> Option<Arc<dyn WsFunction>> {
        chatman::handlers::routes::ws_function_of(route_key)
            .and_then(|f| self.functions.get(f))
            .cloned()
    }
}
