//! Lambda `ws-ticket`: POST /ws/tickets. Wiring only.

use chatman::{config, handlers::ws_ticket::WsTicket, lambda, telemetry};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init_lambda();
    let aws = chatman::adapters::aws::lambda_environment()?;
    let ctx = config::context(&aws)?;
    let verifier = config::verifier(&ctx)?;
    let handler = WsTicket::new(ctx, verifier, config::connections(&aws)?, config::ws_url()?);
    lambda::serve(handler).await
}
