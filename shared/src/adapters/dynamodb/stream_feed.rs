//! The outbox read from the table's stream (DynamoDB Streams), as Lambda's event source mapping
//! reads it: the local server's delivery on DynamoDB Local, and the tests of the stream path
//! against a real counterpart. On AWS the `ws-deliver` function gets the same records from the
//! mapping instead and never runs this.
//!
//! Each shard is read from its checkpoint (the last acknowledged sequence number, or the
//! shard's start); only `INSERT`s of `OUTBOX#` items are outbox records (the mapping's filter).
//! Positions are `{shard id}/{sequence number}`; a batch holds one shard's records in order.

use super::items::Item;
use super::outbox_items::{is_outbox, outgoing_from};
use crate::ports::{OutboxFeed, Outgoing, StoreError};
use anyhow::{Context as _, anyhow};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodbstreams::Client;
use aws_sdk_dynamodbstreams::types::{
    AttributeValue as StreamValue, OperationType, ShardIteratorType,
};
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::Mutex;

/// How often an idle feed asks the stream again while it waits.
const POLL: Duration = Duration::from_millis(20);

pub struct StreamFeed {
    client: Client,
    stream_arn: String,
    /// Per shard, the sequence number of the last record acknowledged.
    checkpoints: Mutex<HashMap<String, String>>,
    /// Records written before this are passed over (a server started on an old table does not
    /// replay yesterday's events to today's sockets, as a mapping created `LATEST` would not).
    since: Option<aws_sdk_dynamodbstreams::primitives::DateTime>,
}

impl StreamFeed {
    /// The feed of `table`'s stream (which must be enabled, see `schema`), from its start.
    pub async fn of_table(aws: &aws_config::SdkConfig, table: &str) -> anyhow::Result<Self> {
        Self::open(aws, table, None).await
    }

    /// The feed of `table`'s stream from now on (a minute's leeway for clock skew).
    pub async fn of_table_from_now(
        aws: &aws_config::SdkConfig,
        table: &str,
    ) -> anyhow::Result<Self> {
        let since = time::OffsetDateTime::now_utc().unix_timestamp() - 60;
        Self::open(
            aws,
            table,
            Some(aws_sdk_dynamodbstreams::primitives::DateTime::from_secs(
                since,
            )),
        )
        .await
    }

    async fn open(
        aws: &aws_config::SdkConfig,
        table: &str,
        since: Option<aws_sdk_dynamodbstreams::primitives::DateTime>,
    ) -> anyhow::Result<Self> {
        let client = Client::new(aws);
        let streams = client
            .list_streams()
            .table_name(table)
            .send()
            .await
            .map_err(|e| {
                anyhow!(
                    "ListStreams: {}",
                    aws_sdk_dynamodbstreams::error::DisplayErrorContext(&e)
                )
            })?;
        let stream_arn = streams
            .streams()
            .first()
            .and_then(|s| s.stream_arn())
            .with_context(|| format!("table {table} has no stream"))?
            .to_owned();
        Ok(Self {
            client,
            stream_arn,
            checkpoints: Mutex::new(HashMap::new()),
            since,
        })
    }

    async fn shards(&self) -> anyhow::Result<Vec<String>> {
        let mut shards = Vec::new();
        let mut start: Option<String> = None;
        loop {
            let out = self
                .client
                .describe_stream()
                .stream_arn(&self.stream_arn)
                .set_exclusive_start_shard_id(start.clone())
                .send()
                .await
                .map_err(|e| {
                    anyhow!(
                        "DescribeStream: {}",
                        aws_sdk_dynamodbstreams::error::DisplayErrorContext(&e)
                    )
                })?;
            let Some(description) = out.stream_description() else {
                return Ok(shards);
            };
            shards.extend(
                description
                    .shards()
                    .iter()
                    .filter_map(|s| s.shard_id().map(str::to_owned)),
            );
            match description.last_evaluated_shard_id() {
                Some(last) => start = Some(last.to_owned()),
                None => return Ok(shards),
            }
        }
    }

    /// Records of one shard after its checkpoint, at most `max`.
    async fn read_shard(&self, shard: &str, max: usize) -> anyhow::Result<Vec<(String, Outgoing)>> {
        let after = self.checkpoints.lock().await.get(shard).cloned();
        let mut iterator = self
            .client
            .get_shard_iterator()
            .stream_arn(&self.stream_arn)
            .shard_id(shard);
        iterator = match &after {
            Some(seq) => iterator
                .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                .sequence_number(seq),
            None => iterator.shard_iterator_type(ShardIteratorType::TrimHorizon),
        };
        let mut next = iterator
            .send()
            .await
            .map_err(|e| {
                anyhow!(
                    "GetShardIterator: {}",
                    aws_sdk_dynamodbstreams::error::DisplayErrorContext(&e)
                )
            })?
            .shard_iterator()
            .map(str::to_owned);
        let mut found = Vec::new();
        // A few pages at most: an empty page does not mean the shard is over.
        for _ in 0..4 {
            let Some(it) = next.take() else { break };
            let page = self
                .client
                .get_records()
                .shard_iterator(it)
                .limit(max as i32)
                .send()
                .await
                .map_err(|e| {
                    anyhow!(
                        "GetRecords: {}",
                        aws_sdk_dynamodbstreams::error::DisplayErrorContext(&e)
                    )
                })?;
            for record in page.records() {
                let Some(change) = record.dynamodb() else {
                    continue;
                };
                let Some(seq) = change.sequence_number() else {
                    continue;
                };
                let position = format!("{shard}/{seq}");
                let is_old = match (self.since, change.approximate_creation_date_time()) {
                    (Some(since), Some(at)) => at.secs() < since.secs(),
                    _ => false,
                };
                let is_insert = record.event_name() == Some(&OperationType::Insert) && !is_old;
                let image = change.new_image().map(item_of);
                let outgoing = match image {
                    Some(item) if is_insert && is_outbox(&item) => outgoing_from(&item)?,
                    _ => None,
                };
                // Records that are not outbox inserts still move the checkpoint: they are
                // acknowledged with the next outbox record, or skipped here when alone.
                match outgoing {
                    Some(o) => found.push((position, o)),
                    None if found.is_empty() => {
                        self.checkpoints
                            .lock()
                            .await
                            .insert(shard.to_owned(), seq.to_owned());
                    }
                    None => {}
                }
                if found.len() >= max {
                    return Ok(found);
                }
            }
            if !found.is_empty() || page.records().is_empty() {
                break;
            }
            next = page.next_shard_iterator().map(str::to_owned);
        }
        Ok(found)
    }
}

fn value_of(v: &StreamValue) -> AttributeValue {
    match v {
        StreamValue::S(x) => AttributeValue::S(x.clone()),
        StreamValue::N(x) => AttributeValue::N(x.clone()),
        StreamValue::Bool(b) => AttributeValue::Bool(*b),
        StreamValue::L(l) => AttributeValue::L(l.iter().map(value_of).collect()),
        StreamValue::M(m) => AttributeValue::M(item_of(m)),
        StreamValue::Ss(x) => AttributeValue::Ss(x.clone()),
        StreamValue::Ns(x) => AttributeValue::Ns(x.clone()),
        _ => AttributeValue::Null(true),
    }
}

fn item_of(image: &HashMap<String, StreamValue>) -> Item {
    image
        .iter()
        .map(|(k, v)| (k.clone(), value_of(v)))
        .collect()
}

#[async_trait]
impl OutboxFeed for StreamFeed {
    async fn next(
        &self,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<(String, Outgoing)>, StoreError> {
        let started = tokio::time::Instant::now();
        loop {
            for shard in self.shards().await? {
                let found = self.read_shard(&shard, max).await?;
                if !found.is_empty() {
                    return Ok(found);
                }
            }
            if started.elapsed() >= wait {
                return Ok(Vec::new());
            }
            tokio::time::sleep(POLL).await;
        }
    }

    async fn ack(&self, position: &str) -> Result<(), StoreError> {
        let (shard, seq) = position
            .split_once('/')
            .ok_or_else(|| anyhow!("not a stream position: {position}"))?;
        self.checkpoints
            .lock()
            .await
            .insert(shard.to_owned(), seq.to_owned());
        Ok(())
    }
}
