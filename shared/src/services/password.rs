//! Forgotten and changed passwords. A reset link is single-use, valid 5 minutes, only the newest
//! works, and using it (or changing the password) ends every session of the account and closes
//! every socket those sessions opened.

use super::socket_sweep::SocketSweep;
use super::{CONFLICT_RETRIES, lockout, mails, sessions::LOGIN_ATTEMPTS_WINDOW, throttle};
use crate::domain::{ClientAddress, Email, Password, ResetTicket, User, UserId};
use crate::error::{Error, FieldError, Result};
use crate::ports::{AccountStore, Mailer, RateDecision, StoreError};
use crate::security::{passwords, secrets};
use crate::settings::Settings;
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

pub const RESET_TTL: Duration = Duration::minutes(5);
/// A forgot-password request answers no sooner than this after it arrived, whether the email has
/// an account (a write and a mail) or not (one read): the time to answer must not tell which.
/// Above a typical SES send; a slower send still completes before the answer (nothing is lost),
/// and only that rare tail shows.
pub const FORGOT_ANSWER_FLOOR: std::time::Duration = std::time::Duration::from_millis(250);
/// Reset mails per address per 15 minutes; past that requests are accepted but not mailed.
pub const RESETS_PER_EMAIL: u32 = 3;

pub struct PasswordService {
    store: Arc<dyn AccountStore>,
    mailer: Arc<dyn Mailer>,
    settings: Arc<Settings>,
    sockets: SocketSweep,
}

/// A reset token carries the user id and a 256-bit secret; only the secret's hash is stored.
fn new_reset_token(user: &UserId) -> (String, [u8; 32]) {
    let secret: [u8; 32] = secrets::random_bytes();
    let mut raw = user.as_bytes().to_vec();
    raw.extend_from_slice(&secret);
    (secrets::encode(&raw), secret)
}

fn parse_reset_token(token: &str) -> Option<(UserId, [u8; 32])> {
    let raw = secrets::decode(token)?;
    if raw.len() != 48 {
        return None;
    }
    let mut id = [0u8; 16];
    id.copy_from_slice(&raw[..16]);
    let mut secret = [0u8; 32];
    secret.copy_from_slice(&raw[16..]);
    Some((UserId::from_bytes(id), secret))
}

impl PasswordService {
    pub fn new(
        store: Arc<dyn AccountStore>,
        mailer: Arc<dyn Mailer>,
        settings: Arc<Settings>,
        sockets: SocketSweep,
    ) -> Self {
        Self {
            store,
            mailer,
            settings,
            sockets,
        }
    }

    /// POST /auth/password/forgot: always accepted; mails a link only to an existing account,
    /// answering after `FORGOT_ANSWER_FLOOR` either way.
    pub async fn forgot(
        &self,
        email: &Email,
        from: &ClientAddress,
        now: OffsetDateTime,
    ) -> Result<()> {
        let store = self.store.as_ref();
        let per_address = self.settings.limits.resets_per_address;
        throttle::per_address(store, "reset", from, per_address, Duration::hours(1), now).await?;
        let answer_at = tokio::time::Instant::now() + FORGOT_ANSWER_FLOOR;
        let outcome = self.mail_reset_link(email, now).await;
        tokio::time::sleep_until(answer_at).await;
        outcome
    }

    async fn mail_reset_link(&self, email: &Email, now: OffsetDateTime) -> Result<()> {
        let limit = self
            .store
            .hit_rate_limit(
                &format!("reset:{email}"),
                RESETS_PER_EMAIL,
                Duration::minutes(15),
                now,
            )
            .await?;
        if let RateDecision::Limited { .. } = limit {
            tracing::info!("password reset request over the limit: not mailed");
            return Ok(());
        }
        let Some(user) = self.store.user_by_email(email).await? else {
            return Ok(());
        };
        let (token, secret) = new_reset_token(&user.id);
        let ticket = ResetTicket {
            user_id: user.id,
            secret_hash: secrets::hash(&secret),
            expires_at: now + RESET_TTL,
        };
        self.store.put_reset_ticket(&ticket).await?;
        let mail = mails::reset_link(user.email.as_str(), &self.settings.app_url, &token);
        if let Err(e) = self.mailer.send(mail).await {
            // Still 202: the answer must not depend on whether the account exists.
            tracing::error!(error = %e, user_id = %user.id, "reset mail failed");
        } else {
            tracing::info!(user_id = %user.id, "password reset link sent");
        }
        Ok(())
    }

    /// POST /auth/password/reset.
    pub async fn reset(
        &self,
        token: &str,
        new_password: &str,
        confirm: &str,
        from: &ClientAddress,
        now: OffsetDateTime,
    ) -> Result<()> {
        if new_password != confirm {
            return Err(Error::PasswordMismatch);
        }
        let (user_id, secret) = parse_reset_token(token).ok_or(Error::InvalidToken)?;
        let presented = secrets::hash(&secret);
        for _ in 0..CONFLICT_RETRIES {
            let ticket = self
                .store
                .reset_ticket(&user_id)
                .await?
                .ok_or(Error::InvalidToken)?;
            if !secrets::same(&ticket.secret_hash, &presented) || now >= ticket.expires_at {
                return Err(Error::InvalidToken);
            }
            let mut user = self
                .store
                .user(&user_id)
                .await?
                .ok_or(Error::InvalidToken)?;
            let password = Password::new_for(new_password, &user.username, &user.email)
                .map_err(|e| Error::field("new_password", e))?;
            user.password_hash = passwords::hash(&password).await?;
            user.session_epoch += 1;
            match self.store.consume_reset_ticket(&ticket, &user).await {
                Ok(()) => {
                    tracing::info!(user_id = %user.id, "password reset; all sessions ended");
                    self.sockets
                        .end_epochs_before(&user.id, user.session_epoch)
                        .await;
                    lockout::forget(self.store.as_ref(), &user.id, from).await?;
                    self.notify_changed(&user).await;
                    return Ok(());
                }
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::InvalidToken)
    }

    /// POST /auth/password/change: needs the current password; ends every session.
    pub async fn change(
        &self,
        user: &User,
        current: &str,
        new_password: &str,
        from: &ClientAddress,
        now: OffsetDateTime,
    ) -> Result<()> {
        let current =
            Password::presented(current).map_err(|e| Error::field("current_password", e))?;
        // Guessing through this route is throttled like login, on the same tallies.
        let store = self.store.as_ref();
        let limits = &self.settings.limits;
        let per_address = limits.login_attempts_per_address;
        throttle::per_address(
            store,
            "login",
            from,
            per_address,
            LOGIN_ATTEMPTS_WINDOW,
            now,
        )
        .await?;
        let guess = lockout::Guess::on_account(&user.id, from);
        let reserved = lockout::reserve(store, &guess, limits, now).await?;
        if !passwords::verify(&current, Some(&user.password_hash)).await? {
            return Err(Error::Validation(vec![FieldError::new(
                "current_password",
                "is not your current password",
            )]));
        }
        lockout::succeeded(store, reserved).await?;
        let password = Password::new_for(new_password, &user.username, &user.email)
            .map_err(|e| Error::field("new_password", e))?;
        if password.expose() == current.expose() {
            return Err(Error::Validation(vec![FieldError::new(
                "new_password",
                "must differ from the current password",
            )]));
        }
        let mut updated = user.clone();
        updated.password_hash = passwords::hash(&password).await?;
        // One write: the new hash and the epoch bump that ends every session land together.
        updated.session_epoch += 1;
        self.store.update_user(&updated, None).await?;
        tracing::info!(user_id = %user.id, "password changed; all sessions ended");
        self.sockets
            .end_epochs_before(&user.id, updated.session_epoch)
            .await;
        self.notify_changed(user).await;
        Ok(())
    }

    /// Best effort: the password has changed whether or not the notice goes out.
    async fn notify_changed(&self, user: &User) {
        let mail = mails::password_changed(user.email.as_str(), &self.settings.app_url);
        if let Err(e) = self.mailer.send(mail).await {
            tracing::error!(error = %e, user_id = %user.id, "password-changed notice failed");
        }
    }
}
