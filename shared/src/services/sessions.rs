//! Sessions: login with lockout, rotating refresh tokens with reuse detection, logout and
//! logout-all. A refresh token presented twice means it leaked: the whole session dies. A
//! session that ends takes its WebSockets with it (`SocketSweep`).

use super::socket_sweep::SocketSweep;
use super::{CONFLICT_RETRIES, lockout, throttle};
use crate::domain::{
    ClientAddress, Email, Password, RefreshRecord, Session, SessionId, User, Username,
};
use crate::error::{Error, Result};
use crate::ports::{AccountStore, StoreError, UpdateUserError};
use crate::security::{jwt::TokenSigner, passwords, secrets};
use crate::settings::Limits;
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

pub const REFRESH_TTL: Duration = Duration::days(30);

/// The pair handed to a client.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: i64,
}

pub struct SessionService {
    store: Arc<dyn AccountStore>,
    signer: TokenSigner,
    limits: Limits,
    /// Closes an ended session's sockets; `None` where sessions are only opened (verify-otp).
    sockets: Option<SocketSweep>,
}

/// The window of `Limits::login_attempts_per_address`.
pub const LOGIN_ATTEMPTS_WINDOW: Duration = Duration::minutes(15);

impl SessionService {
    pub fn new(store: Arc<dyn AccountStore>, signer: TokenSigner, limits: Limits) -> Self {
        Self {
            store,
            signer,
            limits,
            sockets: None,
        }
    }

    /// Also closes the sockets of the sessions it ends (logout, a reused refresh token).
    pub fn ending_sockets(mut self, sockets: SocketSweep) -> Self {
        self.sockets = Some(sockets);
        self
    }

    /// Revokes `session` of `user` and closes the sockets it opened.
    async fn end(&self, user: &crate::domain::UserId, session: &SessionId) -> Result<()> {
        self.store.revoke_session(session).await?;
        if let Some(sockets) = &self.sockets {
            sockets.end_session(user, session).await;
        }
        Ok(())
    }

    /// POST /auth/token. Unknown login and wrong password look the same, in body and in time.
    /// The guess is counted before the password is checked (see `lockout`).
    pub async fn login(
        &self,
        login: &str,
        password: &Password,
        from: &ClientAddress,
        now: OffsetDateTime,
    ) -> Result<Tokens> {
        let store = self.store.as_ref();
        let limit = self.limits.login_attempts_per_address;
        throttle::per_address(store, "login", from, limit, LOGIN_ATTEMPTS_WINDOW, now).await?;
        let user = self.find_login(login).await?;
        let guess = match &user {
            Some(u) => lockout::Guess::on_account(&u.id, from),
            None => lockout::Guess::on_unknown_login(login, from),
        };
        let reserved = lockout::reserve(store, &guess, &self.limits, now).await?;
        let ok =
            passwords::verify(password, user.as_ref().map(|u| u.password_hash.as_str())).await?;
        let Some(user) = user.filter(|_| ok) else {
            tracing::info!("login refused");
            return Err(Error::InvalidCredentials);
        };
        lockout::succeeded(store, reserved).await?;
        tracing::info!(user_id = %user.id, "login");
        self.open(&user, now).await
    }

    async fn find_login(&self, login: &str) -> Result<Option<User>> {
        if login.contains('@') {
            match Email::parse(login) {
                Ok(email) => Ok(self.store.user_by_email(&email).await?),
                Err(_) => Ok(None),
            }
        } else {
            match Username::parse(login) {
                Ok(username) => Ok(self.store.user_by_username(&username).await?),
                Err(_) => Ok(None),
            }
        }
    }

    /// Starts a session for `user` (after login or verification) and issues its first pair.
    pub async fn open(&self, user: &User, now: OffsetDateTime) -> Result<Tokens> {
        let session = Session {
            id: SessionId::new(),
            user_id: user.id,
            epoch: user.session_epoch,
            created_at: now,
            expires_at: now + REFRESH_TTL,
            revoked: false,
        };
        let (refresh_token, hash) = secrets::new_refresh_token();
        let record = RefreshRecord {
            hash,
            session_id: session.id,
            user_id: user.id,
            active: true,
            expires_at: session.expires_at,
        };
        self.store.create_session(&session, &record).await?;
        self.pair(user, &session, refresh_token, now)
    }

    fn pair(
        &self,
        user: &User,
        session: &Session,
        refresh_token: String,
        now: OffsetDateTime,
    ) -> Result<Tokens> {
        let (access_token, expires_in) =
            self.signer
                .access_token(&user.id, &session.id, user.session_epoch, now)?;
        Ok(Tokens {
            access_token,
            refresh_token,
            expires_in,
        })
    }

    /// POST /auth/token/refresh: retires the presented token and returns a new pair.
    pub async fn refresh(&self, presented: &str, now: OffsetDateTime) -> Result<Tokens> {
        let hash = secrets::refresh_token_hash(presented).ok_or(Error::Unauthorized)?;
        let record = self
            .store
            .refresh_token(&hash)
            .await?
            .ok_or(Error::Unauthorized)?;
        if !record.active {
            self.end(&record.user_id, &record.session_id).await?;
            tracing::warn!(session_id = %record.session_id, "retired refresh token reused: session revoked");
            return Err(Error::Unauthorized);
        }
        let session = self
            .store
            .session(&record.session_id)
            .await?
            .ok_or(Error::Unauthorized)?;
        let user = self
            .store
            .user(&record.user_id)
            .await?
            .ok_or(Error::Unauthorized)?;
        if session.revoked
            || now >= session.expires_at
            || now >= record.expires_at
            || session.epoch != user.session_epoch
        {
            return Err(Error::Unauthorized);
        }
        let (refresh_token, new_hash) = secrets::new_refresh_token();
        let next = RefreshRecord {
            hash: new_hash,
            active: true,
            ..record
        };
        match self.store.rotate_refresh_token(&hash, &next).await {
            Ok(()) => self.pair(&user, &session, refresh_token, now),
            // Someone rotated this token at the same moment: one of the two is a thief.
            Err(StoreError::Conflict) => {
                self.end(&user.id, &session.id).await?;
                tracing::warn!(session_id = %session.id, "concurrent refresh: session revoked");
                Err(Error::Unauthorized)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// POST /auth/logout: ends the session of this refresh token. Unknown tokens are fine.
    pub async fn logout(&self, presented: &str) -> Result<()> {
        let Some(hash) = secrets::refresh_token_hash(presented) else {
            return Ok(());
        };
        if let Some(record) = self.store.refresh_token(&hash).await? {
            self.end(&record.user_id, &record.session_id).await?;
            tracing::info!(session_id = %record.session_id, "logout");
        }
        Ok(())
    }
}

/// POST /auth/logout-all: every token of the user dies, and every socket they opened.
pub async fn end_all_sessions(
    store: &dyn AccountStore,
    sockets: &SocketSweep,
    user: &User,
) -> Result<()> {
    let mut user = user.clone();
    for _ in 0..CONFLICT_RETRIES {
        user.session_epoch += 1;
        match store.update_user(&user, None).await {
            Ok(()) => {
                tracing::info!(user_id = %user.id, "all sessions ended");
                sockets
                    .end_epochs_before(&user.id, user.session_epoch)
                    .await;
                return Ok(());
            }
            Err(UpdateUserError::Conflict) => {
                user = store.user(&user.id).await?.ok_or(Error::Unauthorized)?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Unexpected(anyhow::anyhow!(
        "logout-all kept conflicting"
    )))
}
