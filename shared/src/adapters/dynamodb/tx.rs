//! The one way this crate runs a `TransactWriteItems`. Every attempt carries its own
//! `ClientRequestToken`, so when the SDK resends an attempt whose response was lost DynamoDB
//! answers with the first outcome instead of applying it again (which would fail its own
//! conditions and read as a taken name, a stolen refresh token or a message to post twice).
//! Every cancellation reason is read; collisions with other transactions are retried with
//! jittered backoff.

use super::items::sdk_error;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::{
    TransactWriteItemsError, TransactWriteItemsOutput,
};
use aws_sdk_dynamodb::types::{ReturnConsumedCapacity, TransactWriteItem};

/// How a transaction ended when it did not commit.
pub(super) enum TxOutcome {
    /// The conditions of the items at these indexes failed (DynamoDB reports every one).
    ConditionFailed(Vec<usize>),
    /// Other transactions kept touching the same items; nothing was written.
    Contended,
    Failed(anyhow::Error),
}

impl TxOutcome {
    pub(super) fn failed_at(&self, index: usize) -> bool {
        matches!(self, Self::ConditionFailed(failed) if failed.contains(&index))
    }
}

/// Runs `items` as one transaction, up to `attempts` times while it only collides with other
/// transactions, waiting `first_delay_ms` (doubling, plus jitter) between attempts.
pub(super) async fn transact(
    client: &Client,
    items: Vec<TransactWriteItem>,
    attempts: usize,
    first_delay_ms: u64,
) -> Result<TransactWriteItemsOutput, TxOutcome> {
    let mut delay_ms = first_delay_ms;
    for attempt in 1..=attempts {
        let result = client
            .transact_write_items()
            .set_transact_items(Some(items.clone()))
            .client_request_token(uuid::Uuid::now_v7().to_string())
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        let err = match result {
            Ok(out) => return Ok(out),
            Err(e) => e,
        };
        if let Some(TransactWriteItemsError::TransactionCanceledException(c)) =
            err.as_service_error()
        {
            let codes: Vec<&str> = c
                .cancellation_reasons()
                .iter()
                .map(|r| r.code().unwrap_or("None"))
                .collect();
            let failed: Vec<usize> = (0..codes.len())
                .filter(|&i| codes[i] == "ConditionalCheckFailed")
                .collect();
            if !failed.is_empty() {
                return Err(TxOutcome::ConditionFailed(failed));
            }
            if codes.contains(&"TransactionConflict") {
                if attempt == attempts {
                    return Err(TxOutcome::Contended);
                }
                let jitter = rand::random_range(0..=delay_ms);
                tokio::time::sleep(std::time::Duration::from_millis(delay_ms + jitter)).await;
                delay_ms *= 2;
                continue;
            }
        }
        return Err(TxOutcome::Failed(sdk_error("TransactWriteItems")(err)));
    }
    Err(TxOutcome::Contended)
}
