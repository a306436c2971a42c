//! Lambda `token`: login, refresh, logout, logout-all. Wiring only; the signing key is read from
//! Secrets Manager by the first request.

use chatman::{config, first_use::OnFirstUse, handlers::token::Token, lambda, telemetry};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init_lambda();
    lambda::start(|| {
        let aws = chatman::adapters::aws::lambda_environment()?;
        let ctx = config::context(&aws)?;
        let signer = config::signer(&aws, &ctx)?;
        let sockets = config::socket_sweep(&aws, &ctx)?;
        Ok(OnFirstUse::new("token", move || {
            let (ctx, signer, sockets) = (ctx.clone(), signer.clone(), sockets.clone());
            async move { Ok(Token::new(ctx, signer.signer().await?, sockets)) }
        }))
    })
    .await
}
