//! Lambda `ws-disconnect`: the WebSocket `$disconnect` route. Wiring only.

use chatman::{config, handlers::ws_disconnect::WsDisconnect, lambda, telemetry};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init_lambda();
    let aws = chatman::adapters::aws::lambda_environment()?;
    let ctx = config::context(&aws)?;
    let handler = WsDisconnect::new(ctx.store.clone(), config::connections(&aws)?);
    lambda::serve_websocket(handler).await
}
