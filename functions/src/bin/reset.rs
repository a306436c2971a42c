//! Lambda `reset`: forgot, reset and change password. Wiring only.

use chatman::{config, handlers::reset::Reset, lambda, telemetry};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init_lambda();
    lambda::start(|| {
        let aws = chatman::adapters::aws::lambda_environment()?;
        let ctx = config::context(&aws)?;
        let verifier = config::verifier(&ctx)?;
        let sockets = config::socket_sweep(&aws, &ctx)?;
        Ok(Reset::new(ctx, config::mailer(&aws)?, verifier, sockets))
    })
    .await
}
