//! Lambda `rooms`: /rooms, /rooms/{id}, members. Wiring only.

use chatman::{config, handlers::rooms::Rooms, lambda, telemetry};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init_lambda();
    let aws = chatman::adapters::aws::lambda_environment()?;
    let ctx = config::context(&aws)?;
    let verifier = config::verifier(&ctx)?;
    let chat = config::chat(&aws, &ctx)?;
    lambda::serve(Rooms::new(ctx, chat, verifier)).await
}
