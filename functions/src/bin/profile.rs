//! Lambda `profile`: /me, /users, blocks. Wiring only.

use chatman::{config, handlers::profile::Profile, lambda, telemetry};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init_lambda();
    lambda::start(|| {
        let aws = chatman::adapters::aws::lambda_environment()?;
        let ctx = config::context(&aws)?;
        let verifier = config::verifier(&ctx)?;
        let uploads = config::uploads(&aws)?;
        Ok(Profile::new(ctx, verifier, uploads))
    })
    .await
}
