//! Who is calling: a bearer access token checked against its signature, its user's session
//! epoch and its session, so logout, logout-all and password changes take effect at once.

use crate::domain::{SessionId, User};
use crate::error::{Error, Result};
use crate::ports::AccountStore;
use crate::security::jwt::TokenVerifier;
use std::sync::Arc;
use time::OffsetDateTime;

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: User,
    pub session_id: SessionId,
}

#[derive(Clone)]
pub struct Authenticator {
    store: Arc<dyn AccountStore>,
    verifier: TokenVerifier,
}

impl Authenticator {
    pub fn new(store: Arc<dyn AccountStore>, verifier: TokenVerifier) -> Self {
        Self { store, verifier }
    }

    /// 401 for a missing, malformed, foreign, expired or revoked token.
    pub async fn principal(&self, bearer: Option<&str>, now: OffsetDateTime) -> Result<Principal> {
        let claims = bearer
            .and_then(|t| self.verifier.verify(t, now))
            .ok_or(Error::Unauthorized)?;
        let (user, session) = tokio::try_join!(
            self.store.user(&claims.user_id),
            self.store.session(&claims.session_id)
        )?;
        let user = user.ok_or(Error::Unauthorized)?;
        let session = session.ok_or(Error::Unauthorized)?;
        let live = !session.revoked
            && session.user_id == user.id
            && now < session.expires_at
            && claims.epoch == user.session_epoch;
        if !live {
            return Err(Error::Unauthorized);
        }
        crate::telemetry::observe::caller(&user.id.to_string());
        Ok(Principal {
            user,
            session_id: claims.session_id,
        })
    }
}
