//! Reporting a function that cannot start. Lambda's Runtime API has an endpoint for exactly
//! this (`POST /2018-06-01/runtime/init/error`): the error then shows in the invocation's result
//! and the logs as an init failure of a named type, instead of a process that died unexplained.
//! The message names the setting that is missing or invalid, never its value: configuration
//! errors are built that way (`config`), and this is the only place they leave the process.

use lambda_http::http::{Method, Uri};
use lambda_runtime_api_client::{Client, body::Body, build_request};

/// The `Lambda-Runtime-Function-Error-Type` of a missing or invalid setting.
pub const INVALID_CONFIGURATION: &str = "Runtime.InvalidConfiguration";
const INIT_ERROR_PATH: &str = "/2018-06-01/runtime/init/error";

/// Posts `message` to the init-error endpoint of the Runtime API at `runtime_api` (`host:port`,
/// the value of `AWS_LAMBDA_RUNTIME_API`).
pub async fn report(runtime_api: &str, message: &str) -> anyhow::Result<()> {
    let base: Uri = format!("http://{runtime_api}").parse()?;
    let client = Client::builder().with_endpoint(base).build()?;
    let body = serde_json::json!({
        "errorType": INVALID_CONFIGURATION,
        "errorMessage": message,
        "stackTrace": [],
    });
    let request = build_request()
        .method(Method::POST)
        .uri(INIT_ERROR_PATH)
        .header("lambda-runtime-function-error-type", INVALID_CONFIGURATION)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))?;
    let response = client
        .call(request)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    anyhow::ensure!(
        response.status().is_success(),
        "the Runtime API answered {}",
        response.status()
    );
    Ok(())
}
