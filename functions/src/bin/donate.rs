//! Lambda `donate`: donate links: create, list, view (public), revoke, pay. Wiring only.

use chatman::{config, handlers::donate::Donate, lambda, telemetry};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init_lambda();
    lambda::start(|| {
        let aws = chatman::adapters::aws::lambda_environment()?;
        let ctx = config::context(&aws)?;
        let verifier = config::verifier(&ctx)?;
        let push = config::push(&ctx, &aws)?;
        Ok(Donate::new(ctx, verifier, push))
    })
    .await
}
