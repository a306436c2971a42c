//! Lambda `messages`: /rooms/{id}/messages, /rooms/{id}/read. Wiring only.

use chatman::{config, handlers::messages::Messages, lambda, telemetry};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init_lambda();
    lambda::start(|| {
        let aws = chatman::adapters::aws::lambda_environment()?;
        let ctx = config::context(&aws)?;
        let verifier = config::verifier(&ctx)?;
        let chat = config::chat_for_messages(&aws, &ctx)?;
        Ok(Messages::new(ctx, chat, verifier))
    })
    .await
}
