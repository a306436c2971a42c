//! Lambda `verify-otp`: POST /auth/signup/verify and /auth/signup/resend. Wiring only; the OTP
//! and signing keys are read from Secrets Manager by the first request.

use chatman::{config, first_use::OnFirstUse, handlers::verify_otp::VerifyOtp, lambda, telemetry};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init_lambda();
    lambda::start(|| {
        let aws = chatman::adapters::aws::lambda_environment()?;
        let ctx = config::context(&aws)?;
        let (mailer, otp) = (config::mailer(&aws)?, config::otp_key(&aws)?);
        let signer = config::signer(&aws, &ctx)?;
        Ok(OnFirstUse::new("verify-otp", move || {
            let (ctx, mailer, otp, signer) =
                (ctx.clone(), mailer.clone(), otp.clone(), signer.clone());
            async move {
                Ok(VerifyOtp::new(
                    ctx,
                    mailer,
                    otp.key().await?,
                    signer.signer().await?,
                ))
            }
        }))
    })
    .await
}
