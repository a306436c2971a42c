//! Lambda `messages`: /rooms/{id}/messages, /rooms/{id}/read. Wiring only.

use chatman::{config, handlers::messages::Messages, lambda, telemetry};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init_lambda();
    let aws = chatman::adapters::aws::lambda_environment()?;
    let ctx = config::context(&aws)?;
    let verifier = config::verifier(&ctx)?;
    let chat = config::chat(&aws, &ctx)?;
    lambda::serve(Messages::new(ctx, chat, verifier)).await
}
