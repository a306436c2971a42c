//! Every store port in process memory, for the local server and tests. It honours the same
//! conditions as DynamoDB (versions, uniqueness, single-use), so the contract suite holds for both.

use crate::domain::PublicProfile;
use crate::domain::{
    Email, PendingSignup, RefreshRecord, ResetTicket, Session, SessionId, SignupId, Tally,
    TokenHash, User, UserId, Username,
};
use crate::ports::{
    AccountStore, CreateUserError, Page, RateDecision, StoreError, UpdateUserError,
};
use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};
use time::{Duration, OffsetDateTime};

#[derive(Default)]
struct State {
    signups: HashMap<SignupId, PendingSignup>,
    users: HashMap<UserId, User>,
    /// Sorted, so prefix search is a range scan like the DynamoDB index.
    usernames: BTreeMap<String, UserId>,
    emails: HashMap<String, UserId>,
    sessions: HashMap<SessionId, Session>,
    refresh: HashMap<TokenHash, RefreshRecord>,
    resets: HashMap<UserId, ResetTicket>,
    /// With the instant DynamoDB's TTL would drop it (a day past the last write or lock).
    tallies: HashMap<String, (Tally, OffsetDateTime)>,
    rates: HashMap<(String, i64), u32>,
    blocks: BTreeMap<(UserId, UserId), OffsetDateTime>,
}

/// The account store in memory.
#[derive(Default)]
pub struct MemoryAccounts {
    state: Mutex<State>,
}

impl MemoryAccounts {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent data (every write is one statement).
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl AccountStore for MemoryAccounts {
    async fn put_signup(&self, signup: &PendingSignup) -> Result<(), StoreError> {
        self.state().signups.insert(signup.id, signup.clone());
        Ok(())
    }

    async fn signup(&self, id: &SignupId) -> Result<Option<PendingSignup>, StoreError> {
        Ok(self.state().signups.get(id).cloned())
    }

    async fn update_signup(&self, signup: &PendingSignup) -> Result<(), StoreError> {
        let mut state = self.state();
        match state.signups.get_mut(&signup.id) {
            Some(stored) if stored.version == signup.version => {
                *stored = PendingSignup {
                    version: signup.version + 1,
                    ..signup.clone()
                };
                Ok(())
            }
            _ => Err(StoreError::Conflict),
        }
    }

    async fn create_user(&self, user: &User, from: &PendingSignup) -> Result<(), CreateUserError> {
        let mut state = self.state();
        // The signup's own condition first, as the DynamoDB adapter reads its cancellation
        // reasons: a double-submitted verification is a conflict, not a taken name.
        match state.signups.get(&from.id) {
            Some(s) if s.version == from.version => {}
            _ => return Err(CreateUserError::Conflict),
        }
        if state.usernames.contains_key(user.username.as_str()) {
            return Err(CreateUserError::UsernameTaken);
        }
        if state.emails.contains_key(user.email.as_str()) {
            return Err(CreateUserError::EmailTaken);
        }
        state.signups.remove(&from.id);
        state
            .usernames
            .insert(user.username.as_str().to_owned(), user.id);
        state.emails.insert(user.email.as_str().to_owned(), user.id);
        state.users.insert(user.id, user.clone());
        Ok(())
    }

    async fn user(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        Ok(self.state().users.get(id).cloned())
    }

    async fn user_by_username(&self, username: &Username) -> Result<Option<User>, StoreError> {
        let state = self.state();
        Ok(state
            .usernames
            .get(username.as_str())
            .and_then(|id| state.users.get(id))
            .cloned())
    }

    async fn user_by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        let state = self.state();
        Ok(state
            .emails
            .get(email.as_str())
            .and_then(|id| state.users.get(id))
            .cloned())
    }

    async fn users(&self, ids: &[UserId]) -> Result<Vec<User>, StoreError> {
        let state = self.state();
        Ok(ids
            .iter()
            .filter_map(|id| state.users.get(id).cloned())
            .collect())
    }

    async fn update_user(
        &self,
        user: &User,
        previous: Option<&Username>,
    ) -> Result<(), UpdateUserError> {
        let mut state = self.state();
        match state.users.get(&user.id) {
            Some(stored) if stored.version == user.version => {}
            _ => return Err(UpdateUserError::Conflict),
        }
        if let Some(old) = previous {
            if state.usernames.contains_key(user.username.as_str()) {
                return Err(UpdateUserError::UsernameTaken);
            }
            state.usernames.remove(old.as_str());
            state
                .usernames
                .insert(user.username.as_str().to_owned(), user.id);
        }
        state.users.insert(
            user.id,
            User {
                version: user.version + 1,
                ..user.clone()
            },
        );
        Ok(())
    }

    async fn search_users(
        &self,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<PublicProfile>, StoreError> {
        let state = self.state();
        Ok(state
            .usernames
            .range(prefix.to_owned()..)
            .take_while(|(name, _)| name.starts_with(prefix))
            .take(limit)
            .filter_map(|(_, id)| state.users.get(id).map(PublicProfile::from))
            .collect())
    }

    async fn create_session(
        &self,
        session: &Session,
        first: &RefreshRecord,
    ) -> Result<(), StoreError> {
        let mut state = self.state();
        state.sessions.insert(session.id, session.clone());
        state.refresh.insert(first.hash, first.clone());
        Ok(())
    }

    async fn session(&self, id: &SessionId) -> Result<Option<Session>, StoreError> {
        Ok(self.state().sessions.get(id).cloned())
    }

    async fn refresh_token(&self, hash: &TokenHash) -> Result<Option<RefreshRecord>, StoreError> {
        Ok(self.state().refresh.get(hash).cloned())
    }

    async fn rotate_refresh_token(
        &self,
        old: &TokenHash,
        new: &RefreshRecord,
    ) -> Result<(), StoreError> {
        let mut state = self.state();
        match state.refresh.get_mut(old) {
            Some(record) if record.active => record.active = false,
            _ => return Err(StoreError::Conflict),
        }
        state.refresh.insert(new.hash, new.clone());
        Ok(())
    }

    async fn revoke_session(&self, id: &SessionId) -> Result<(), StoreError> {
        if let Some(s) = self.state().sessions.get_mut(id) {
            s.revoked = true;
        }
        Ok(())
    }

    async fn put_reset_ticket(&self, ticket: &ResetTicket) -> Result<(), StoreError> {
        self.state().resets.insert(ticket.user_id, ticket.clone());
        Ok(())
    }

    async fn reset_ticket(&self, user: &UserId) -> Result<Option<ResetTicket>, StoreError> {
        Ok(self.state().resets.get(user).cloned())
    }

    async fn consume_reset_ticket(
        &self,
        ticket: &ResetTicket,
        user: &User,
    ) -> Result<(), StoreError> {
        let mut state = self.state();
        let ticket_current = state
            .resets
            .get(&ticket.user_id)
            .is_some_and(|t| t.secret_hash == ticket.secret_hash);
        let user_current = state
            .users
            .get(&user.id)
            .is_some_and(|u| u.version == user.version);
        if !(ticket_current && user_current) {
            return Err(StoreError::Conflict);
        }
        state.resets.remove(&ticket.user_id);
        state.users.insert(
            user.id,
            User {
                version: user.version + 1,
                ..user.clone()
            },
        );
        Ok(())
    }

    async fn tallies(&self, keys: &[String]) -> Result<Vec<Tally>, StoreError> {
        let state = self.state();
        Ok(keys
            .iter()
            .map(|k| state.tallies.get(k).map(|(t, _)| *t).unwrap_or_default())
            .collect())
    }

    async fn put_tallies(
        &self,
        tallies: &[(String, Tally)],
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut state = self.state();
        let current = |key: &String| state.tallies.get(key).map_or(0, |(t, _)| t.version);
        if tallies.iter().any(|(key, t)| current(key) != t.version) {
            return Err(StoreError::Conflict);
        }
        for (key, t) in tallies {
            let next = Tally {
                version: t.version + 1,
                ..*t
            };
            // The same keep-until as the DynamoDB item's `ttl` (`items::tally_item`).
            let keep_until = t.locked_until.map_or(now, |until| until.max(now)) + Duration::days(1);
            state.tallies.insert(key.clone(), (next, keep_until));
        }
        Ok(())
    }

    async fn clear_tallies(&self, keys: &[String]) -> Result<(), StoreError> {
        let mut state = self.state();
        for key in keys {
            state.tallies.remove(key);
        }
        Ok(())
    }

    async fn hit_rate_limit(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
        now: OffsetDateTime,
    ) -> Result<RateDecision, StoreError> {
        self.hit_rate_limit_by(key, 1, limit, window, now).await
    }

    async fn hit_rate_limit_by(
        &self,
        key: &str,
        events: u32,
        limit: u32,
        window: Duration,
        now: OffsetDateTime,
    ) -> Result<RateDecision, StoreError> {
        let start = crate::ports::window_start(now, window);
        let start_ms = crate::domain::time::to_millis(start);
        let mut state = self.state();
        // Forget windows that ended long ago, so a long-running local server stays small.
        let horizon = start_ms - Duration::days(1).whole_milliseconds() as i64;
        state.rates.retain(|(_, w), _| *w >= horizon);
        let count = state.rates.entry((key.to_owned(), start_ms)).or_insert(0);
        *count = count.saturating_add(events);
        Ok(RateDecision::after(*count, limit, start + window))
    }

    async fn block(
        &self,
        blocker: &UserId,
        blocked: &UserId,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.state()
            .blocks
            .entry((*blocker, *blocked))
            .or_insert(at);
        Ok(())
    }

    async fn unblock(&self, blocker: &UserId, blocked: &UserId) -> Result<(), StoreError> {
        self.state().blocks.remove(&(*blocker, *blocked));
        Ok(())
    }

    async fn is_blocked(&self, blocker: &UserId, blocked: &UserId) -> Result<bool, StoreError> {
        Ok(self.state().blocks.contains_key(&(*blocker, *blocked)))
    }

    async fn blocked_by(
        &self,
        blocker: &UserId,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<UserId>, StoreError> {
        let after = match cursor {
            Some(c) => Some(
                UserId::parse(c)
                    .map_err(|_| StoreError::Unexpected(anyhow::anyhow!("bad cursor")))?,
            ),
            None => None,
        };
        let state = self.state();
        let ids: Vec<UserId> = state
            .blocks
            .range(
                (*blocker, UserId::from_bytes([0; 16]))
                    ..=(*blocker, UserId::from_bytes([0xff; 16])),
            )
            .map(|((_, blocked), _)| *blocked)
            .filter(|id| after.is_none_or(|a| *id > a))
            .take(limit + 1)
            .collect();
        Ok(Page::from_overfetch(ids, limit, ToString::to_string))
    }
}

impl crate::adapters::memory_expiry::Expiring for MemoryAccounts {
    fn drop_expired(&self, now: OffsetDateTime) -> usize {
        use crate::adapters::memory_expiry::retain_live;
        let mut state = self.state();
        let s = &mut *state;
        // Each as its DynamoDB item's `ttl` (`dynamodb::items`): the record's own expiry.
        retain_live(&mut s.signups, |_, p| now < p.expires_at)
            + retain_live(&mut s.sessions, |_, x| now < x.expires_at)
            + retain_live(&mut s.refresh, |_, x| now < x.expires_at)
            + retain_live(&mut s.resets, |_, x| now < x.expires_at)
            + retain_live(&mut s.tallies, |_, (_, keep_until)| now < *keep_until)
            // Rate windows are at most a day long; their items live an hour past the window.
            + retain_live(&mut s.rates, |(_, start_ms), _| {
                *start_ms + (Duration::hours(25).whole_milliseconds() as i64)
                    > crate::domain::time::to_millis(now)
            })
    }
}
