//! Lambda `transfer`: POST /wallet/transfers. Wiring only.

use chatman::{config, handlers::transfer::Transfer, lambda, telemetry};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init_lambda();
    lambda::start(|| {
        let aws = chatman::adapters::aws::lambda_environment()?;
        let ctx = config::context(&aws)?;
        let verifier = config::verifier(&ctx)?;
        let push = config::push(&ctx, &aws)?;
        Ok(Transfer::new(ctx, verifier, push))
    })
    .await
}
