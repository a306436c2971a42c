//! The delivery worker: takes outbox records (`ports::outbox`) to people's sockets, after the
//! request that recorded them has answered. On AWS it is the `ws-deliver` function, fed by the
//! table's stream; on the local server `DeliveryLoop` feeds it from the store's outbox (memory
//! queue or DynamoDB Local's stream), the same way the event source mapping does.
//!
//! A record is delivered at least once: a batch that fails part-way is retried from the first
//! record that failed (the ones before it are acknowledged), so a socket may see an event twice
//! and the client drops the repeat (events carry the room's seq); nothing is stored twice,
//! because the history was written before the record existed.

use crate::domain::{Room, RoomId, SUBSCRIPTION_SHARDS, UserId};
use crate::ports::{Audience, ChatStore, Clock, ConnectionStore, OutboxFeed, Outgoing, Push};
use futures_util::stream::{self, StreamExt};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Rooms delivered at once within a batch; each room's records go one after another.
const ROOMS_AT_ONCE: usize = 8;
/// How often a busy large room (one with a subscription index) moves up its members' chat
/// lists (each move writes one item per member): a 10,000-member channel costs ~30,000 write
/// units per move, so once per this interval however many messages it gets, not per message.
pub const CHANNEL_CHAT_LIST_EVERY: time::Duration = time::Duration::minutes(5);

pub struct Delivery {
    chat: Arc<dyn ChatStore>,
    push: Arc<dyn Push>,
    connections: Arc<dyn ConnectionStore>,
    clock: Arc<dyn Clock>,
}

impl Delivery {
    pub fn new(
        chat: Arc<dyn ChatStore>,
        push: Arc<dyn Push>,
        connections: Arc<dyn ConnectionStore>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            chat,
            push,
            connections,
            clock,
        }
    }

    /// Delivers one record to its audience as it is now.
    pub async fn deliver(&self, record: &Outgoing) -> anyhow::Result<()> {
        match &record.audience {
            Audience::Users(users) => self.push.push(users, &record.event).await,
            Audience::Members => {
                let Some(room) = self.chat.room(&record.room).await? else {
                    return Ok(()); // deleted meanwhile: nobody to tell
                };
                if room.subscribed {
                    self.split(&room, record).await
                } else {
                    let members = self.member_ids(&room.id).await?;
                    if record.event.kind == "message" {
                        // The room moves up every member's chat list: here, not in the send,
                        // so the sender's answer never waits for it.
                        self.chat.touch_inbox(&room.id, &members, record.at).await;
                    }
                    self.push.push(&members, &record.event).await
                }
            }
            Audience::Shard(shard) => {
                let audience = self
                    .connections
                    .room_subscribers(&record.room, *shard, self.clock.now())
                    .await?;
                if audience.is_empty() {
                    return Ok(()); // nobody of this shard is online
                }
                self.push.push_to(&audience, &record.event).await
            }
        }
    }

    async fn member_ids(&self, room: &RoomId) -> anyhow::Result<Vec<UserId>> {
        Ok(self
            .chat
            .members(room)
            .await?
            .into_iter()
            .map(|m| m.user_id)
            .collect())
    }

    /// A large room's record becomes one record per subscription shard, written back to the
    /// outbox: each is its own partition, so the stream hands them to invocations side by side
    /// and no invocation carries the whole room. A message moves the members' chat lists at
    /// most once per `CHANNEL_CHAT_LIST_EVERY` (each move writes one item per member).
    async fn split(&self, room: &Room, record: &Outgoing) -> anyhow::Result<()> {
        if record.event.kind == "message"
            && self
                .chat
                .claim_chat_list_move(&room.id, record.at, CHANNEL_CHAT_LIST_EVERY)
                .await?
        {
            let members = self.member_ids(&room.id).await?;
            self.chat.touch_inbox(&room.id, &members, record.at).await;
        }
        let shards: Vec<Outgoing> = (0..SUBSCRIPTION_SHARDS)
            .map(|s| record.for_shard(s))
            .collect();
        Ok(self.chat.publish(&shards).await?)
    }

    /// Delivers `batch`, each room's records (and each shard's of a large room) in order, rooms
    /// and shards side by side. `Err(i)`: record
    /// `i` failed, and so may have any after it; every record before `i` was delivered.
    pub async fn deliver_batch(&self, batch: &[Outgoing]) -> Result<(), usize> {
        // One lane per outbox partition: a room's records, or one shard of a large room's.
        let mut by_room: BTreeMap<_, Vec<usize>> = BTreeMap::new();
        for (i, record) in batch.iter().enumerate() {
            let shard = match record.audience {
                Audience::Shard(s) => Some(s),
                _ => None,
            };
            by_room.entry((record.room, shard)).or_default().push(i);
        }
        let failures: Vec<usize> = stream::iter(by_room.into_values())
            .map(|indexes| async move {
                for i in indexes {
                    if let Err(e) = self.deliver(&batch[i]).await {
                        tracing::warn!(error = %e, kind = batch[i].event.kind, room_id = %batch[i].room, "delivery failed");
                        return Some(i);
                    }
                }
                None
            })
            .buffer_unordered(ROOMS_AT_ONCE)
            .filter_map(|failed| async move { failed })
            .collect()
            .await;
        match failures.into_iter().min() {
            None => Ok(()),
            Some(first) => Err(first),
        }
    }
}

/// What a `DeliveryLoop` has done: the local server's view of an event source mapping's metrics.
#[derive(Debug, Default)]
pub struct DeliveryStats {
    pub delivered: AtomicU64,
    pub retried: AtomicU64,
    /// Records given up on after `MAX_ATTEMPTS` (the cloud's dead-letter queue).
    pub dead_letters: AtomicU64,
}

/// How often one record is tried before it goes to the dead letters (as the event source
/// mapping's `MaximumRetryAttempts`).
pub const MAX_ATTEMPTS: u32 = 10;
/// Records read at once (as the mapping's `BatchSize`).
pub const BATCH_SIZE: usize = 100;

/// Reads a store's outbox and delivers it, acknowledging what was delivered: the local server's
/// event source mapping.
pub struct DeliveryLoop {
    feed: Arc<dyn OutboxFeed>,
    delivery: Arc<Delivery>,
    pub stats: Arc<DeliveryStats>,
    /// One reader at a time, as the mapping reads a shard: two would deliver each record twice.
    reading: tokio::sync::Mutex<()>,
    /// The first retry's wait; each next one doubles it (up to 128 times).
    backoff: Duration,
}

impl DeliveryLoop {
    pub fn new(feed: Arc<dyn OutboxFeed>, delivery: Arc<Delivery>) -> Self {
        Self {
            feed,
            delivery,
            stats: Arc::default(),
            reading: tokio::sync::Mutex::new(()),
            backoff: Duration::from_millis(10),
        }
    }

    /// Waits `first` before the first retry (tests make it short).
    pub fn with_backoff(self, first: Duration) -> Self {
        Self {
            backoff: first,
            ..self
        }
    }

    /// Delivers until the feed has nothing left, retrying failures with backoff; `true` when
    /// something was read. A record that fails `MAX_ATTEMPTS` times is dropped with an error
    /// log and counted in `dead_letters`.
    pub async fn drain(&self) -> anyhow::Result<bool> {
        let _reading = self.reading.lock().await;
        let mut read_any = false;
        let mut attempts = 0u32;
        loop {
            let batch = self.feed.next(BATCH_SIZE, Duration::ZERO).await?;
            if batch.is_empty() {
                return Ok(read_any);
            }
            read_any = true;
            let records: Vec<Outgoing> = batch.iter().map(|(_, o)| o.clone()).collect();
            match self.delivery.deliver_batch(&records).await {
                Ok(()) => {
                    attempts = 0;
                    self.stats
                        .delivered
                        .fetch_add(records.len() as u64, Ordering::Relaxed);
                    self.feed.ack(&batch[batch.len() - 1].0).await?;
                }
                Err(failed) => {
                    if failed > 0 {
                        attempts = 0;
                        self.stats
                            .delivered
                            .fetch_add(failed as u64, Ordering::Relaxed);
                        self.feed.ack(&batch[failed - 1].0).await?;
                        continue;
                    }
                    attempts += 1;
                    if attempts >= MAX_ATTEMPTS {
                        tracing::error!(kind = records[0].event.kind, room_id = %records[0].room, record = %records[0].id, "delivery given up: dead letter");
                        self.stats.dead_letters.fetch_add(1, Ordering::Relaxed);
                        self.feed.ack(&batch[0].0).await?;
                        attempts = 0;
                        continue;
                    }
                    self.stats.retried.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(self.backoff * (1u32 << attempts.min(7))).await;
                }
            }
        }
    }

    /// Delivers for ever, waiting up to `idle` for new records between reads.
    pub async fn run(self, idle: Duration) {
        loop {
            match self.drain().await {
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "reading the outbox failed"),
            }
            // Waits for the next record without taking it (drain reads it again).
            if let Err(e) = self.feed.next(1, idle).await {
                tracing::warn!(error = %e, "waiting on the outbox failed");
                tokio::time::sleep(idle).await;
            }
        }
    }
}
