//! DynamoDB's TTL for the memory stores: a task that, every minute of the server's clock, drops
//! the records whose `ttl` has passed (idempotency records after 24 h, tickets, sessions,
//! pending signups and uploads, lapsed connections, old rate windows), so a long-running local
//! server returns to its size plus the ledger's (docs/PERFORMANCE.md, "Memory"). Maps that
//! emptied give their tables back (`retain_live`). On DynamoDB there is nothing to sweep.

use chatman::adapters::memory_expiry::Expiring;
use chatman::ports::Clock;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How often the stores are swept: DynamoDB deletes within days; a minute keeps memory flat.
pub const EVERY: Duration = Duration::from_secs(60);

/// The memory stores with expiring records, and how many records it has dropped so far.
pub struct Sweeper {
    stores: Vec<Arc<dyn Expiring>>,
    clock: Arc<dyn Clock>,
    dropped: AtomicU64,
}

impl Sweeper {
    pub fn new(stores: Vec<Arc<dyn Expiring>>, clock: Arc<dyn Clock>) -> Self {
        Self {
            stores,
            clock,
            dropped: AtomicU64::new(0),
        }
    }

    /// Sweeps every store once at the clock's now; returns how many records went.
    pub fn sweep(&self) -> usize {
        let now = self.clock.now();
        let dropped: usize = self.stores.iter().map(|s| s.drop_expired(now)).sum();
        if dropped > 0 {
            self.dropped.fetch_add(dropped as u64, Ordering::Relaxed);
            tracing::debug!(dropped, "expired records dropped");
        }
        dropped
    }

    /// Records dropped since the server started.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Sweeps on a timer until the task is aborted.
    pub async fn run(self: Arc<Self>) {
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            self.sweep();
        }
    }
}
