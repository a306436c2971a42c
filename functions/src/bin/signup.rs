//! Lambda `signup`: POST /auth/signup. Wiring only.

use chatman::{config, handlers::signup::Signup, lambda, telemetry};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init_lambda();
    let aws = chatman::adapters::aws::lambda_environment()?;
    let ctx = config::context(&aws)?;
    let handler = Signup::new(ctx, config::mailer(&aws)?, config::otp_key()?);
    lambda::serve(handler).await
}
