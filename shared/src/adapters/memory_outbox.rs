//! The outbox of the in-memory chat store: an in-process queue in commit order (the memory
//! store appends to it while it holds its own lock, so the queue's order is the order the
//! changes happened). It is read like a stream: records stay until acknowledged, so a worker
//! that dies mid-batch hands its records to the next one (at least once, never lost).

use crate::ports::{OutboxFeed, Outgoing, StoreError};
use async_trait::async_trait;
use std::collections::VecDeque;
use std::sync::Mutex;
use tokio::sync::Notify;

/// Records kept at most while nobody reads them; beyond it the oldest are dropped (with a
/// warning), so a store without a worker cannot grow without bound.
const CAPACITY: usize = 100_000;

#[derive(Default)]
struct Queue {
    /// Position of `records[0]`.
    first: u64,
    records: VecDeque<Outgoing>,
    /// Everything before this position was acknowledged.
    acked: u64,
}

#[derive(Default)]
pub struct MemoryOutbox {
    queue: Mutex<Queue>,
    arrived: Notify,
}

impl MemoryOutbox {
    pub fn new() -> Self {
        Self::default()
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends records (called by the store with its own lock held).
    pub fn append(&self, records: impl IntoIterator<Item = Outgoing>) {
        let mut q = self.queue();
        q.records.extend(records);
        while q.records.len() > CAPACITY {
            q.records.pop_front();
            q.first += 1;
            tracing::warn!("memory outbox full: the oldest undelivered event was dropped");
        }
        q.acked = q.acked.max(q.first);
        drop(q);
        self.arrived.notify_waiters();
        self.arrived.notify_one();
    }

    /// Records not yet acknowledged.
    pub fn pending(&self) -> usize {
        let q = self.queue();
        q.records.len() - (q.acked - q.first) as usize
    }

    fn take(&self, max: usize) -> Vec<(String, Outgoing)> {
        let q = self.queue();
        let skip = (q.acked - q.first) as usize;
        q.records
            .iter()
            .enumerate()
            .skip(skip)
            .take(max)
            .map(|(i, o)| ((q.first + i as u64).to_string(), o.clone()))
            .collect()
    }
}

#[async_trait]
impl OutboxFeed for MemoryOutbox {
    async fn next(
        &self,
        max: usize,
        wait: std::time::Duration,
    ) -> Result<Vec<(String, Outgoing)>, StoreError> {
        let arrived = self.arrived.notified();
        let batch = self.take(max);
        if !batch.is_empty() || wait.is_zero() {
            return Ok(batch);
        }
        let _ = tokio::time::timeout(wait, arrived).await;
        Ok(self.take(max))
    }

    async fn ack(&self, position: &str) -> Result<(), StoreError> {
        let position: u64 = position
            .parse()
            .map_err(|_| anyhow::anyhow!("not a memory outbox position: {position}"))?;
        let mut q = self.queue();
        let next = (position + 1).max(q.acked);
        // Acknowledged records are dropped from the front: only the unread tail is kept.
        while q.first < next && !q.records.is_empty() {
            q.records.pop_front();
            q.first += 1;
        }
        q.acked = next.max(q.first);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::RoomId;
    use crate::ports::{Audience, Event};
    use serde_json::json;
    use std::time::Duration;
    use time::OffsetDateTime;

    fn record(n: u64) -> Outgoing {
        Outgoing::new(
            RoomId::new(),
            Audience::Members,
            Event::new("message", json!({ "seq": n })),
            OffsetDateTime::UNIX_EPOCH,
        )
    }

    #[tokio::test]
    async fn records_come_back_in_order_until_acknowledged() {
        let outbox = MemoryOutbox::new();
        outbox.append((1..=5).map(record));
        let first = outbox.next(3, Duration::ZERO).await.unwrap();
        assert_eq!(first.len(), 3);
        // Not acknowledged: a second reader (a restarted worker) gets the same ones.
        let again = outbox.next(3, Duration::ZERO).await.unwrap();
        assert_eq!(first, again);
        outbox.ack(&first[1].0).await.unwrap();
        let rest = outbox.next(10, Duration::ZERO).await.unwrap();
        assert_eq!(rest.len(), 3);
        assert_eq!(rest[0].1, first[2].1);
        outbox.ack(&rest[2].0).await.unwrap();
        assert_eq!(outbox.pending(), 0);
    }

    #[tokio::test]
    async fn a_waiting_reader_wakes_when_a_record_arrives() {
        let outbox = std::sync::Arc::new(MemoryOutbox::new());
        let reader = {
            let outbox = outbox.clone();
            tokio::spawn(async move { outbox.next(10, Duration::from_secs(5)).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        outbox.append([record(1)]);
        let got = tokio::time::timeout(Duration::from_secs(1), reader)
            .await
            .expect("woken before the wait ran out")
            .unwrap()
            .unwrap();
        assert_eq!(got.len(), 1);
    }
}
