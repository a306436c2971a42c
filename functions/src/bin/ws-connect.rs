//! Lambda `ws-connect`: the WebSocket `$connect` route. Wiring only.

use chatman::{config, handlers::ws_connect::WsConnect, lambda, telemetry};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init_lambda();
    let aws = chatman::adapters::aws::lambda_environment()?;
    let ctx = config::context(&aws)?;
    let handler = WsConnect::new(
        ctx,
        config::connections(&aws)?,
        config::connection_api(&aws)?,
    );
    lambda::serve_websocket(handler).await
}
