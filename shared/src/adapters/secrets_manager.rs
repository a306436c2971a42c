//! One secret in AWS Secrets Manager, read on first use and kept for the life of the instance.
//!
//! Nothing is fetched at init, so a cold start costs what it did before secrets moved out of
//! the environment; the first request that needs the secret pays one `GetSecretValue` (about a
//! millisecond in-region, docs/PERFORMANCE.md). Concurrent first requests share that one call. A
//! failed fetch is not remembered: the next request tries again. The value never reaches a log, an
//! error or `Debug` output: errors carry the secret's id and the SDK's error code only.

use anyhow::anyhow;
use std::time::Instant;
use tokio::sync::OnceCell;

/// A secret's text. `Debug` shows nothing of it; `expose` is the one way in.
pub struct SecretText(String);

impl SecretText {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretText(..)")
    }
}

/// The secret `secret_id` (an ARN or name), fetched by the first `get`. Even the SDK client is
/// built then, not at init: building one costs a cold start about 0.1 ms (docs/PERFORMANCE.md).
pub struct SecretOnFirstUse {
    config: aws_config::SdkConfig,
    secret_id: String,
    value: OnceCell<SecretText>,
}

impl std::fmt::Debug for SecretOnFirstUse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretOnFirstUse")
            .field("secret_id", &self.secret_id)
            .field("fetched", &self.value.initialized())
            .finish()
    }
}

impl SecretOnFirstUse {
    /// Remembers where the secret is (no client, no network); the first `get` reads it.
    pub fn new(config: &aws_config::SdkConfig, secret_id: String) -> Self {
        Self {
            config: config.clone(),
            secret_id,
            value: OnceCell::new(),
        }
    }

    pub fn secret_id(&self) -> &str {
        &self.secret_id
    }

    /// The secret's current (`AWSCURRENT`) text, fetched once and then kept.
    pub async fn get(&self) -> anyhow::Result<&SecretText> {
        self.value.get_or_try_init(|| self.fetch()).await
    }

    async fn fetch(&self) -> anyhow::Result<SecretText> {
        let started = Instant::now();
        let output = aws_sdk_secretsmanager::Client::new(&self.config)
            .get_secret_value()
            .secret_id(&self.secret_id)
            .send()
            .await
            .map_err(|e| {
                anyhow!(
                    "Secrets Manager GetSecretValue of {} failed: {}",
                    self.secret_id,
                    aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
                )
            })?;
        let text = output
            .secret_string
            .filter(|s| !s.is_empty())
            .ok_or_else(|| anyhow!("the secret {} has no SecretString", self.secret_id))?;
        tracing::info!(
            secret_id = %self.secret_id,
            elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
            "secret fetched"
        );
        Ok(SecretText(text))
    }
}
