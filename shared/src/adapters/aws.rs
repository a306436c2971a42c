//! Shared AWS SDK configuration, built once per cold start.
//!
//! On Lambda the configuration comes straight from the environment Lambda sets (region and the
//! execution role's credentials), and the HTTPS client trusts only Amazon Trust Services' roots,
//! which every AWS endpoint chains to. `aws_config::load()` would instead look for profile files,
//! walk the default provider chains and parse every root certificate on the system: about 3.5 ms
//! of each cold start for nothing (docs/PERFORMANCE.md). rustls with ring rather than the SDK's
//! default aws-lc keeps binaries small.
//!
//! `AWS_ENDPOINT_URL`, the SDK's own standard override variable, points every client at one
//! other endpoint (e.g. DynamoDB Local or moto when the release binaries are run locally, as the
//! benchmark's peak-RSS run does). Lambda never sets it, so on AWS it is unset and the SDK
//! resolves each service's regional endpoint as before. The per-service variants
//! (`AWS_ENDPOINT_URL_DYNAMODB`, …) are not read.

use anyhow::Context as _;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::{Credentials, SharedCredentialsProvider, SharedHttpClient};
use aws_smithy_http_client::Connector;
use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::HttpConnectorSettings;
use std::time::Duration;

/// Amazon Root CA 1–4 and Starfield Services Root CA G2 (public certificates).
const AMAZON_ROOTS: &str = include_str!("amazon-roots.pem");

fn https_client(trust: TrustStore) -> anyhow::Result<SharedHttpClient> {
    let tls = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .context("TLS context")?;
    Ok(aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .tls_context(tls)
        .build_https())
}

/// A bare HTTPS connector (the one the SDK clients use inside), for the requests the S3 adapter
/// signs itself: Amazon's roots alone on AWS, the system's for an endpoint override. Timeouts
/// as the SDK's defaults: 3.1 s to connect; a read bounded too, so a stalled S3 cannot hold a
/// request until the function's own timeout.
pub(crate) fn https_connector(system_roots: bool) -> anyhow::Result<Connector> {
    let trust = if system_roots {
        TrustStore::default()
    } else {
        amazon_trust()
    };
    let tls = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .context("TLS context")?;
    let settings = HttpConnectorSettings::builder()
        .connect_timeout(Duration::from_millis(3100))
        .read_timeout(Duration::from_secs(10))
        .build();
    Ok(Connector::builder()
        .connector_settings(settings)
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .tls_context(tls)
        .build())
}

fn amazon_trust() -> TrustStore {
    TrustStore::empty()
        .with_native_roots(false)
        .with_pem_certificate(AMAZON_ROOTS.as_bytes())
}

/// The configuration of a function running on Lambda: `AWS_REGION` and the execution role's
/// `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`, which Lambda sets for the
/// life of the execution environment.
pub fn lambda_environment() -> anyhow::Result<SdkConfig> {
    from_vars(|name| std::env::var(name).ok())
}

fn from_vars(var: impl Fn(&str) -> Option<String>) -> anyhow::Result<SdkConfig> {
    let env = |name: &str| {
        var(name)
            .filter(|v| !v.is_empty())
            .with_context(|| format!("{name} is not set"))
    };
    let trust = amazon_trust();
    let credentials = Credentials::new(
        env("AWS_ACCESS_KEY_ID")?,
        env("AWS_SECRET_ACCESS_KEY")?,
        var("AWS_SESSION_TOKEN"),
        None,
        "lambda-environment",
    );
    let mut config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(env("AWS_REGION")?))
        .credentials_provider(SharedCredentialsProvider::new(credentials));
    match var("AWS_ENDPOINT_URL").filter(|v| !v.is_empty()) {
        // A local counterpart: plain HTTP in practice, an https:// one trusted by the system roots.
        Some(endpoint) => {
            config = config
                .endpoint_url(endpoint)
                .http_client(https_client(TrustStore::default())?);
        }
        None => config = config.http_client(https_client(trust)?),
    }
    Ok(config.build())
}

/// Configuration for a local endpoint such as DynamoDB Local: fixed region and dummy
/// credentials, so nothing on the machine (profiles, instance metadata) is consulted.
pub fn local(endpoint: &str) -> SdkConfig {
    local_with_credentials(endpoint, "local", "local")
}

/// As `local`, signing with these keys (the local server's S3 checks them).
pub fn local_with_credentials(endpoint: &str, access_key: &str, secret_key: &str) -> SdkConfig {
    let credentials = Credentials::new(access_key, secret_key, None, None, "chatman-local");
    let mut config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .endpoint_url(endpoint);
    // Local endpoints are plain HTTP in practice; an https:// one is trusted by the system roots.
    if let Ok(client) = https_client(TrustStore::default()) {
        config = config.http_client(client);
    }
    config.build()
}

/// Configuration for an operator's command on a workstation (`chatman-admin`): the SDK's standard
/// credential and region chains (environment, shared config and credentials files with profiles and
/// assume-role, web identity, container and instance roles), over the same lean HTTPS client
/// trusting the system's roots. Without the SDK's `sso` and `credentials-process` features (kept
/// out so the Lambda binaries stay lean), such profiles must export credentials first, e.g.
/// `eval "$(aws configure export-credentials --format env)"`.
pub async fn operator(region: Option<String>) -> anyhow::Result<SdkConfig> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client(TrustStore::default())?);
    if let Some(region) = region {
        loader = loader.region(Region::new(region));
    }
    Ok(loader.load().await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_roots_are_the_five_amazon_trust_services_roots() {
        assert_eq!(
            AMAZON_ROOTS.matches("-----BEGIN CERTIFICATE-----").count(),
            5
        );
        assert!(
            https_client(
                TrustStore::empty()
                    .with_native_roots(false)
                    .with_pem_certificate(AMAZON_ROOTS.as_bytes())
            )
            .is_ok()
        );
    }

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn lambda_configuration_comes_from_the_variables_lambda_sets() {
        let config = from_vars(vars(&[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "token"),
        ]))
        .expect("a configuration");
        assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert!(config.credentials_provider().is_some());
        assert!(config.http_client().is_some());
    }

    #[test]
    fn the_standard_endpoint_override_is_honoured_and_absent_by_default() {
        let base = [
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ];
        let on_aws = from_vars(vars(&base)).expect("a configuration");
        assert_eq!(on_aws.endpoint_url(), None);
        let mut local = base.to_vec();
        local.push(("AWS_ENDPOINT_URL", "http://127.0.0.1:8000"));
        let config = from_vars(vars(&local)).expect("a configuration");
        assert_eq!(config.endpoint_url(), Some("http://127.0.0.1:8000"));
        assert!(config.http_client().is_some());
        let mut empty = base.to_vec();
        empty.push(("AWS_ENDPOINT_URL", ""));
        assert_eq!(
            from_vars(vars(&empty))
                .expect("a configuration")
                .endpoint_url(),
            None
        );
    }

    #[test]
    fn a_missing_variable_is_named_in_the_error() {
        let error = from_vars(vars(&[
            ("AWS_ACCESS_KEY_ID", "a"),
            ("AWS_SECRET_ACCESS_KEY", "b"),
        ]))
        .expect_err("no region");
        assert!(error.to_string().contains("AWS_REGION"), "{error}");
    }
}
