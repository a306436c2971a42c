//! An account store that forces the interleaving a race test needs, so the test does not depend
//! on which request the scheduler happens to run first.
//!
//! Once armed for `readers` signup reads, those reads are held until all of them have read (so
//! every request decides from the same, soon stale, state) and an account is created only after a
//! counted wrong code has changed the signup. A verification decided from a read taken before that
//! count must then lose; with the defect it would create the account anyway.

use async_trait::async_trait;
use chatman::domain::{
    Email, PendingSignup, PublicProfile, RefreshRecord, ResetTicket, Session, SessionId, SignupId,
    Tally, TokenHash, User, UserId, Username,
};
use chatman::ports::{
    AccountStore, CreateUserError, Page, RateDecision, StoreError, UpdateUserError,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration as StdDuration;
use time::{Duration, OffsetDateTime};
use tokio::sync::{Barrier, Notify};

/// Longest a held call waits: a gate that never opens fails the test instead of hanging it.
const PATIENCE: StdDuration = StdDuration::from_secs(20);

pub struct StaleReads {
    inner: Arc<dyn AccountStore>,
    held_reads: AtomicUsize,
    readers: std::sync::Mutex<Option<Arc<Barrier>>>,
    counted: AtomicBool,
    counted_now: Notify,
}

impl StaleReads {
    pub fn new(inner: Arc<dyn AccountStore>) -> Self {
        Self {
            inner,
            held_reads: AtomicUsize::new(0),
            readers: std::sync::Mutex::new(None),
            counted: AtomicBool::new(false),
            counted_now: Notify::new(),
        }
    }

    /// Holds the next `readers` signup reads until all have read, and account creation until a
    /// wrong code has been counted.
    pub fn arm(&self, readers: usize) {
        self.counted.store(false, Ordering::SeqCst);
        self.held_reads.store(readers, Ordering::SeqCst);
        *self.readers.lock().expect("gate") = Some(Arc::new(Barrier::new(readers)));
    }

    fn take_read_slot(&self) -> Option<Arc<Barrier>> {
        let held = self
            .held_reads
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if held {
            self.readers.lock().expect("gate").clone()
        } else {
            None
        }
    }

    fn armed(&self) -> bool {
        self.readers.lock().expect("gate").is_some()
    }

    async fn until_counted(&self) {
        let wait = async {
            loop {
                let notified = self.counted_now.notified();
                if self.counted.load(Ordering::SeqCst) {
                    return;
                }
                notified.await;
            }
        };
        let _ = tokio::time::timeout(PATIENCE, wait).await;
    }
}

#[async_trait]
impl AccountStore for StaleReads {
    async fn put_signup(&self, signup: &PendingSignup) -> Result<(), StoreError> {
        self.inner.put_signup(signup).await
    }
    async fn signup(&self, id: &SignupId) -> Result<Option<PendingSignup>, StoreError> {
        let read = self.inner.signup(id).await;
        if let Some(barrier) = self.take_read_slot() {
            let _ = tokio::time::timeout(PATIENCE, barrier.wait()).await;
        }
        read
    }
    async fn update_signup(&self, signup: &PendingSignup) -> Result<(), StoreError> {
        let written = self.inner.update_signup(signup).await;
        if written.is_ok() {
            self.counted.store(true, Ordering::SeqCst);
            self.counted_now.notify_waiters();
        }
        written
    }
    async fn create_user(&self, user: &User, from: &PendingSignup) -> Result<(), CreateUserError> {
        if self.armed() {
            self.until_counted().await;
        }
        self.inner.create_user(user, from).await
    }
    async fn user(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        self.inner.user(id).await
    }
    async fn user_by_username(&self, username: &Username) -> Result<Option<User>, StoreError> {
        self.inner.user_by_username(username).await
    }
    async fn user_by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        self.inner.user_by_email(email).await
    }
    async fn users(&self, ids: &[UserId]) -> Result<Vec<User>, StoreError> {
        self.inner.users(ids).await
    }
    async fn update_user(
        &self,
        user: &User,
        previous: Option<&Username>,
    ) -> Result<(), UpdateUserError> {
        self.inner.update_user(user, previous).await
    }
    async fn search_users(
        &self,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<PublicProfile>, StoreError> {
        self.inner.search_users(prefix, limit).await
    }
    async fn create_session(
        &self,
        session: &Session,
        first: &RefreshRecord,
    ) -> Result<(), StoreError> {
        self.inner.create_session(session, first).await
    }
    async fn session(&self, id: &SessionId) -> Result<Option<Session>, StoreError> {
        self.inner.session(id).await
    }
    async fn refresh_token(&self, hash: &TokenHash) -> Result<Option<RefreshRecord>, StoreError> {
        self.inner.refresh_token(hash).await
    }
    async fn rotate_refresh_token(
        &self,
        old: &TokenHash,
        new: &RefreshRecord,
    ) -> Result<(), StoreError> {
        self.inner.rotate_refresh_token(old, new).await
    }
    async fn revoke_session(&self, id: &SessionId) -> Result<(), StoreError> {
        self.inner.revoke_session(id).await
    }
    async fn put_reset_ticket(&self, ticket: &ResetTicket) -> Result<(), StoreError> {
        self.inner.put_reset_ticket(ticket).await
    }
    async fn reset_ticket(&self, user: &UserId) -> Result<Option<ResetTicket>, StoreError> {
        self.inner.reset_ticket(user).await
    }
    async fn consume_reset_ticket(
        &self,
        ticket: &ResetTicket,
        user: &User,
    ) -> Result<(), StoreError> {
        self.inner.consume_reset_ticket(ticket, user).await
    }
    async fn tallies(&self, keys: &[String]) -> Result<Vec<Tally>, StoreError> {
        self.inner.tallies(keys).await
    }
    async fn put_tallies(
        &self,
        tallies: &[(String, Tally)],
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.inner.put_tallies(tallies, now).await
    }
    async fn clear_tallies(&self, keys: &[String]) -> Result<(), StoreError> {
        self.inner.clear_tallies(keys).await
    }
    async fn hit_rate_limit(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
        now: OffsetDateTime,
    ) -> Result<RateDecision, StoreError> {
        self.inner.hit_rate_limit(key, limit, window, now).await
    }
    async fn hit_rate_limit_by(
        &self,
        key: &str,
        events: u32,
        limit: u32,
        window: Duration,
        now: OffsetDateTime,
    ) -> Result<RateDecision, StoreError> {
        self.inner
            .hit_rate_limit_by(key, events, limit, window, now)
            .await
    }
    async fn block(
        &self,
        blocker: &UserId,
        blocked: &UserId,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.inner.block(blocker, blocked, at).await
    }
    async fn unblock(&self, blocker: &UserId, blocked: &UserId) -> Result<(), StoreError> {
        self.inner.unblock(blocker, blocked).await
    }
    async fn is_blocked(&self, blocker: &UserId, blocked: &UserId) -> Result<bool, StoreError> {
        self.inner.is_blocked(blocker, blocked).await
    }
    async fn blocked_by(
        &self,
        blocker: &UserId,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<UserId>, StoreError> {
        self.inner.blocked_by(blocker, limit, cursor).await
    }
}
