//! What the account store keeps. Plain data; the rules that change them live in `services/`.
//! Every record that can be raced on carries a `version` that stores check on write.

use super::{Email, Role, SessionId, SignupId, UserId, Username};
use time::OffsetDateTime;

/// SHA-256 of a secret (refresh token, reset secret). Only the hash is ever stored.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

impl TokenHash {
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn from_hex(hex: &str) -> Option<Self> {
        if hex.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, chunk) in hex.as_bytes().chunks(2).enumerate() {
            let pair = std::str::from_utf8(chunk).ok()?;
            out[i] = u8::from_str_radix(pair, 16).ok()?;
        }
        Some(Self(out))
    }
}

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenHash(..)")
    }
}

/// An active account. `Debug` leaves out the email and the password hash (see below).
#[derive(Clone, PartialEq)]
pub struct User {
    pub id: UserId,
    pub username: Username,
    pub email: Email,
    /// argon2id PHC string.
    pub password_hash: String,
    pub first_name: String,
    pub last_name: String,
    pub bio: String,
    /// Storage key of the avatar image, set by the uploads feature.
    pub avatar_key: Option<String>,
    /// Granted by an operator only (see `domain::role`).
    pub role: Role,
    /// Whether others add this person to groups directly or invite them.
    pub group_adds: super::GroupAdds,
    pub created_at: OffsetDateTime,
    /// Bumped by logout-all, password reset and change: tokens of an older epoch are dead.
    pub session_epoch: u64,
    pub version: u64,
}

/// A signup waiting for its emailed code. One record per signup, so a second signup for the
/// same email never touches the first one's code. `Debug` leaves out the email, the password hash
/// and the code hash.
#[derive(Clone, PartialEq)]
pub struct PendingSignup {
    pub id: SignupId,
    pub username: Username,
    pub email: Email,
    pub password_hash: String,
    pub first_name: String,
    pub last_name: String,
    pub bio: String,
    /// The email belonged to an active account when this signup was made: its owner was sent a
    /// notice instead of a code, and no code can verify this signup.
    pub email_taken: bool,
    /// Keyed hash of the current code (see `security::otp`).
    pub code_hash: [u8; 32],
    /// Which code this is: a new one is derived only after the previous one expired.
    pub code_round: u32,
    pub code_expires_at: OffsetDateTime,
    pub failed_attempts: u32,
    pub resends: u32,
    pub last_sent_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
    /// The whole pending record dies 24 h after signup.
    pub expires_at: OffsetDateTime,
    pub version: u64,
}

// Records end up in `{:?}` of errors and traces: these two print only what identifies them and
// their state, never the email (personal data) or any hash (offline guessing material).
impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("role", &self.role)
            .field("created_at", &self.created_at)
            .field("session_epoch", &self.session_epoch)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for PendingSignup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingSignup")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("email_taken", &self.email_taken)
            .field("code_round", &self.code_round)
            .field("code_expires_at", &self.code_expires_at)
            .field("failed_attempts", &self.failed_attempts)
            .field("resends", &self.resends)
            .field("last_sent_at", &self.last_sent_at)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// One login and the refresh-token chain rotating from it.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    pub epoch: u64,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub revoked: bool,
}

/// A refresh token, stored by the hash of its secret. A retired one presented again means the
/// chain leaked: the whole session is revoked.
#[derive(Debug, Clone, PartialEq)]
pub struct RefreshRecord {
    pub hash: TokenHash,
    pub session_id: SessionId,
    pub user_id: UserId,
    pub active: bool,
    pub expires_at: OffsetDateTime,
}

/// The newest password-reset link of a user; a new one replaces it, using it deletes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ResetTicket {
    pub user_id: UserId,
    pub secret_hash: TokenHash,
    pub expires_at: OffsetDateTime,
}

/// A count of password guesses under one key (an account, an unknown login name, or either of
/// them from one client address), and the lock it earned. Counted *before* the guess is checked,
/// so parallel guesses cannot slip past a lock decided from a stale read.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Tally {
    pub count: u32,
    pub locked_until: Option<OffsetDateTime>,
    /// The stored version this was read at (0: nothing stored); writes are conditioned on it.
    pub version: u64,
}

impl Tally {
    pub fn is_locked(&self, now: OffsetDateTime) -> bool {
        self.locked_until.is_some_and(|until| now < until)
    }
}
