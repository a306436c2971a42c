//! The account store: users and the records around them (pending signups, sessions, refresh
//! tokens, reset tickets, login failures, rate limits, blocks). Rate-limit and lockout state lives
//! here, not in process memory, so it holds across Lambda instances.

use crate::domain::PublicProfile;
use crate::domain::{
    Email, PendingSignup, RefreshRecord, ResetTicket, Session, SessionId, SignupId, Tally,
    TokenHash, User, UserId, Username,
};
use async_trait::async_trait;
use time::{Duration, OffsetDateTime};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A conditional write lost a race (the record changed since it was read, or is gone).
    #[error("the record changed concurrently")]
    Conflict,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    #[error("username taken")]
    UsernameTaken,
    #[error("email taken")]
    EmailTaken,
    /// The pending signup changed or vanished (another verification won, or it was spent).
    #[error("signup changed concurrently")]
    Conflict,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

#[derive(Debug, thiserror::Error)]
pub enum UpdateUserError {
    #[error("username taken")]
    UsernameTaken,
    #[error("user changed concurrently")]
    Conflict,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Outcome of counting one event against a fixed-window limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    Allowed,
    /// Over the limit until this instant.
    Limited {
        until: OffsetDateTime,
    },
}

impl RateDecision {
    /// The decision after the `count`-th event of a window that ends at `window_end`.
    pub fn after(count: u32, limit: u32, window_end: OffsetDateTime) -> Self {
        if count > limit {
            Self::Limited { until: window_end }
        } else {
            Self::Allowed
        }
    }
}

/// A slice of a listing and the opaque cursor of the next one.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// From up to `limit + 1` fetched items: the extra one only proves a next page exists, whose
    /// cursor is made from the last item kept.
    pub fn from_overfetch(
        mut items: Vec<T>,
        limit: usize,
        cursor_of: impl Fn(&T) -> String,
    ) -> Self {
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().map(cursor_of)
        } else {
            None
        };
        Self { items, next_cursor }
    }
}

#[async_trait]
pub trait AccountStore: Send + Sync {
    // --- pending signups ---
    async fn put_signup(&self, signup: &PendingSignup) -> Result<(), StoreError>;
    async fn signup(&self, id: &SignupId) -> Result<Option<PendingSignup>, StoreError>;
    /// Writes `signup` with `version + 1` if the stored version is still `signup.version`.
    async fn update_signup(&self, signup: &PendingSignup) -> Result<(), StoreError>;

    // --- users ---
    /// In one transaction: claims the username and email (both must be free), writes the user
    /// and deletes the pending signup (which must still be at `from.version`).
    async fn create_user(&self, user: &User, from: &PendingSignup) -> Result<(), CreateUserError>;
    async fn user(&self, id: &UserId) -> Result<Option<User>, StoreError>;
    async fn user_by_username(&self, username: &Username) -> Result<Option<User>, StoreError>;
    async fn user_by_email(&self, email: &Email) -> Result<Option<User>, StoreError>;
    /// Users by id, in no particular order; unknown ids are left out.
    async fn users(&self, ids: &[UserId]) -> Result<Vec<User>, StoreError>;
    /// Writes `user` with `version + 1` if the stored version is still `user.version`. When the
    /// username changed (`previous` is the old one) the username claim moves in the same
    /// transaction.
    async fn update_user(
        &self,
        user: &User,
        previous: Option<&Username>,
    ) -> Result<(), UpdateUserError>;
    /// Public profiles of the users whose username starts with `prefix` (lower-case), in username
    /// order. Only public fields: the DynamoDB index it reads holds nothing else.
    async fn search_users(
        &self,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<PublicProfile>, StoreError>;

    // --- sessions and refresh tokens ---
    async fn create_session(
        &self,
        session: &Session,
        first: &RefreshRecord,
    ) -> Result<(), StoreError>;
    async fn session(&self, id: &SessionId) -> Result<Option<Session>, StoreError>;
    async fn refresh_token(&self, hash: &TokenHash) -> Result<Option<RefreshRecord>, StoreError>;
    /// Retires `old` (which must still be active, else `Conflict`) and stores `new`, atomically.
    async fn rotate_refresh_token(
        &self,
        old: &TokenHash,
        new: &RefreshRecord,
    ) -> Result<(), StoreError>;
    async fn revoke_session(&self, id: &SessionId) -> Result<(), StoreError>;

    // --- password reset ---
    /// Stores the user's newest reset ticket, replacing any older one.
    async fn put_reset_ticket(&self, ticket: &ResetTicket) -> Result<(), StoreError>;
    async fn reset_ticket(&self, user: &UserId) -> Result<Option<ResetTicket>, StoreError>;
    /// Deletes `ticket` (which must still be the stored one) and writes `user` (version-checked)
    /// in one transaction, so a link is used at most once.
    async fn consume_reset_ticket(
        &self,
        ticket: &ResetTicket,
        user: &User,
    ) -> Result<(), StoreError>;

    // --- throttles ---
    /// The tallies under `keys`, in the same order; a key with nothing stored reads as
    /// `Tally::default()` (version 0).
    async fn tallies(&self, keys: &[String]) -> Result<Vec<Tally>, StoreError>;
    /// Writes each `(key, tally)` as version `tally.version + 1`, all or nothing, if every stored
    /// version is still `tally.version` (0: still absent); otherwise `Conflict` and nothing
    /// changes. Stored tallies expire a day after `now` or after their lock, whichever is later.
    async fn put_tallies(
        &self,
        tallies: &[(String, Tally)],
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Forgets the tallies under `keys` (a successful login).
    async fn clear_tallies(&self, keys: &[String]) -> Result<(), StoreError>;
    /// Counts one event under `key` in the current fixed window of length `window`.
    async fn hit_rate_limit(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
        now: OffsetDateTime,
    ) -> Result<RateDecision, StoreError>;
    /// Counts `events` events at once under `key` (one atomic add, so parallel callers never
    /// both fit in the last units): `Limited` when the window's count passes `limit` with them.
    async fn hit_rate_limit_by(
        &self,
        key: &str,
        events: u32,
        limit: u32,
        window: Duration,
        now: OffsetDateTime,
    ) -> Result<RateDecision, StoreError>;

    // --- blocks ---
    async fn block(
        &self,
        blocker: &UserId,
        blocked: &UserId,
        at: OffsetDateTime,
    ) -> Result<(), StoreError>;
    async fn unblock(&self, blocker: &UserId, blocked: &UserId) -> Result<(), StoreError>;
    async fn is_blocked(&self, blocker: &UserId, blocked: &UserId) -> Result<bool, StoreError>;
    /// Whom `blocker` blocked, oldest block first.
    async fn blocked_by(
        &self,
        blocker: &UserId,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<UserId>, StoreError>;
}

/// Fixed-window start for `now`: windows are aligned to the epoch so every instance agrees.
pub fn window_start(now: OffsetDateTime, window: Duration) -> OffsetDateTime {
    let w = window.whole_milliseconds().max(1);
    let ms = crate::domain::time::to_millis(now) as i128;
    crate::domain::time::from_millis((ms - ms.rem_euclid(w)) as i64)
}
