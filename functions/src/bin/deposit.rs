//! Lambda `deposit`: POST /wallet/deposits (admins). Wiring only.

use chatman::{config, handlers::deposit::Deposit, lambda, telemetry};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init_lambda();
    lambda::start(|| {
        let aws = chatman::adapters::aws::lambda_environment()?;
        let ctx = config::context(&aws)?;
        let verifier = config::verifier(&ctx)?;
        let push = config::push(&ctx, &aws)?;
        Ok(Deposit::new(ctx, verifier, push))
    })
    .await
}
