//! Lambda `ws-deliver`: outbox records from the table's stream to WebSocket connections.
//! Wiring only.

use chatman::{config, handlers::ws_deliver::WsDeliver, lambda, telemetry};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init_lambda();
    let aws = chatman::adapters::aws::lambda_environment()?;
    let ctx = config::context(&aws)?;
    let handler = WsDeliver::new(config::delivery(&ctx, &aws)?);
    lambda::serve_stream(handler).await
}
