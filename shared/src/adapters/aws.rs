//! Shared AWS SDK configuration, built once per cold start. We bring a rustls+ring HTTPS client
//! instead of the SDK default (aws-lc): smaller binaries, faster builds, same TLS.

use aws_config::BehaviorVersion;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

fn https_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// The Lambda environment's configuration (region and credentials from the environment).
pub async fn from_env() -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client())
        .load()
        .await
}

/// Configuration for a local endpoint such as DynamoDB Local: fixed region and dummy
/// credentials, so nothing on the machine (profiles, instance metadata) is consulted.
pub async fn local(endpoint: &str) -> aws_config::SdkConfig {
    let credentials =
        aws_sdk_dynamodb::config::Credentials::new("local", "local", None, None, "chatman-local");
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(credentials)
        .endpoint_url(endpoint)
        .load()
        .await
}
