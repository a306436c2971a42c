//! Lambda `wallet`: GET /wallet and /wallet/transactions. Wiring only.

use chatman::{config, handlers::wallet::Wallet, lambda, telemetry};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init_lambda();
    lambda::start(|| {
        let aws = chatman::adapters::aws::lambda_environment()?;
        let ctx = config::context(&aws)?;
        let verifier = config::verifier(&ctx)?;
        // Balances and history move no money, so nothing is ever pushed from here.
        let push = std::sync::Arc::new(chatman::adapters::log_push::LogPush);
        Ok(Wallet::new(ctx, verifier, push))
    })
    .await
}
