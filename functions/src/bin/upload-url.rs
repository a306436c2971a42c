//! Lambda `upload-url`: POST /uploads. Wiring only.

use chatman::{config, handlers::upload_url::UploadUrl, lambda, telemetry};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init_lambda();
    let aws = chatman::adapters::aws::lambda_environment()?;
    let ctx = config::context(&aws)?;
    let verifier = config::verifier(&ctx)?;
    let uploads = config::uploads(&aws)?;
    lambda::serve(UploadUrl::new(ctx, verifier, uploads)).await
}
