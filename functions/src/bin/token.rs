//! Lambda `token`: login, refresh, logout, logout-all. Wiring only.

use chatman::{config, handlers::token::Token, lambda, telemetry};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init_lambda();
    let aws = chatman::adapters::aws::lambda_environment()?;
    let ctx = config::context(&aws)?;
    let signer = config::signer(&ctx)?;
    lambda::serve(Token::new(ctx, signer)).await
}
