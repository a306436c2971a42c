//! The one way this crate runs `BatchGetItem`: any number of keys, 100 a request, unprocessed
//! keys retried with backoff (DynamoDB returns them under load instead of failing).

use super::CapacityMeter;
use super::items::{Item, sdk_error};
use anyhow::anyhow;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{KeysAndAttributes, ReturnConsumedCapacity};

/// The items of `keys` that exist, in no particular order. With a `meter`, each request asks
/// for its consumed capacity and adds it there (the chat adapter's benchmark figures).
pub(super) async fn batch_get(
    client: &Client,
    table: &str,
    keys: &[Item],
    consistent: bool,
    meter: Option<&CapacityMeter>,
) -> anyhow::Result<Vec<Item>> {
    let mut found = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(100) {
        let mut request = Some(
            KeysAndAttributes::builder()
                .set_keys(Some(chunk.to_vec()))
                .consistent_read(consistent)
                .build()
                .map_err(|e| anyhow!(e))?,
        );
        let mut backoff = 10u64;
        while let Some(ka) = request.take() {
            let out = client
                .batch_get_item()
                .request_items(table, ka)
                .set_return_consumed_capacity(meter.map(|_| ReturnConsumedCapacity::Total))
                .send()
                .await
                .map_err(sdk_error("BatchGetItem"))?;
            if let Some(meter) = meter {
                meter.add(false, out.consumed_capacity());
            }
            found.extend(
                out.responses
                    .and_then(|mut r| r.remove(table))
                    .unwrap_or_default(),
            );
            request = out
                .unprocessed_keys
                .and_then(|mut u| u.remove(table))
                .filter(|k| !k.keys().is_empty());
            if request.is_some() {
                tokio::time::sleep(std::time::Duration::from_millis(backoff)).await;
                backoff = (backoff * 2).min(500);
            }
        }
    }
    Ok(found)
}
