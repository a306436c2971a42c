//! Lambda `verify-otp`: POST /auth/signup/verify and /auth/signup/resend. Wiring only.

use chatman::{config, handlers::verify_otp::VerifyOtp, lambda, telemetry};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init_lambda();
    let aws = chatman::adapters::aws::lambda_environment()?;
    let ctx = config::context(&aws)?;
    let signer = config::signer(&ctx)?;
    let handler = VerifyOtp::new(ctx, config::mailer(&aws)?, config::otp_key()?, signer);
    lambda::serve(handler).await
}
