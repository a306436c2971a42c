//! `ws-deliver`: a batch of the table's stream records (the event source mapping's event,
//! filtered to `OUTBOX#` inserts) delivered in order. The answer is a partial batch response:
//! the first record that failed, so the mapping retries from it (the ones before are done; the
//! ones after it are retried too, which at most repeats an event the client drops by seq).
//!
//! A record this version cannot read (malformed, or of a kind it does not know) is logged and
//! passed over: retrying it could never succeed and would hold up the room behind it.

use crate::adapters::dynamodb::outbox_items::{is_outbox, item_from_json, outgoing_from};
use crate::ports::Outgoing;
use crate::services::delivery::Delivery;
use serde::Deserialize;
use serde_json::{Value, json};

/// The parts of a DynamoDB stream event the worker reads.
#[derive(Debug, Deserialize)]
pub struct StreamEvent {
    #[serde(rename = "Records", default)]
    pub records: Vec<StreamRecord>,
}

#[derive(Debug, Deserialize)]
pub struct StreamRecord {
    #[serde(rename = "eventName", default)]
    pub event_name: String,
    pub dynamodb: StreamChange,
}

#[derive(Debug, Deserialize)]
pub struct StreamChange {
    #[serde(rename = "SequenceNumber")]
    pub sequence_number: String,
    #[serde(rename = "NewImage", default)]
    pub new_image: Option<Value>,
}

/// The outbox record a stream record carries, if it is one this version reads.
fn outgoing(record: &StreamRecord) -> Option<Outgoing> {
    if record.event_name != "INSERT" {
        return None;
    }
    let item = match record.dynamodb.new_image.as_ref().map(item_from_json) {
        Some(Ok(item)) if is_outbox(&item) => item,
        Some(Err(e)) => {
            tracing::error!(error = %e, sequence = %record.dynamodb.sequence_number, "unreadable stream image: skipped");
            return None;
        }
        _ => return None,
    };
    match outgoing_from(&item) {
        Ok(found) => found,
        Err(e) => {
            tracing::error!(error = %e, sequence = %record.dynamodb.sequence_number, "unreadable outbox record: skipped");
            None
        }
    }
}

pub struct WsDeliver {
    delivery: Delivery,
}

impl WsDeliver {
    pub fn new(delivery: Delivery) -> Self {
        Self { delivery }
    }

    /// Delivers the batch; `{"batchItemFailures": [...]}` names the first record that failed.
    pub async fn handle(&self, event: StreamEvent) -> Value {
        let mut records = Vec::with_capacity(event.records.len());
        let mut sequences = Vec::with_capacity(event.records.len());
        for record in &event.records {
            if let Some(o) = outgoing(record) {
                records.push(o);
                sequences.push(record.dynamodb.sequence_number.clone());
            }
        }
        match self.delivery.deliver_batch(&records).await {
            Ok(()) => json!({ "batchItemFailures": [] }),
            Err(first) => json!({
                "batchItemFailures": [{ "itemIdentifier": sequences[first] }]
            }),
        }
    }
}
