//! Lambda `ws-message`: every WebSocket frame (the action routes and `$default`). Wiring only.

use chatman::{
    config, handlers::ws_actions::Actions, handlers::ws_message::WsMessage, lambda, telemetry,
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init_lambda();
    let aws = chatman::adapters::aws::lambda_environment()?;
    let ctx = config::context(&aws)?;
    let actions = Actions::new(config::chat(&aws, &ctx)?, &ctx);
    let handler = WsMessage::new(
        ctx,
        config::connections(&aws)?,
        config::connection_api(&aws)?,
        actions,
    );
    lambda::serve_websocket(handler).await
}
