//! Lambda `signup`: POST /auth/signup. Wiring only; the OTP key is read from Secrets Manager by
//! the first request.

use chatman::{config, first_use::OnFirstUse, handlers::signup::Signup, lambda, telemetry};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init_lambda();
    lambda::start(|| {
        let aws = chatman::adapters::aws::lambda_environment()?;
        let ctx = config::context(&aws)?;
        let (mailer, otp) = (config::mailer(&aws)?, config::otp_key(&aws)?);
        Ok(OnFirstUse::new("signup", move || {
            let (ctx, mailer, otp) = (ctx.clone(), mailer.clone(), otp.clone());
            async move { Ok(Signup::new(ctx, mailer, otp.key().await?)) }
        }))
    })
    .await
}
