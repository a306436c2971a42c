//! Signup: a pending record per signup with its own emailed code; verification creates the
//! account atomically. Fixes by design the Django system's "sometimes the OTP is invalid" bug:
//! codes are random-looking strings with a real 10-minute expiry, one per signup, case-blind email.

use super::{CONFLICT_RETRIES, mails, throttle};
use crate::domain::{
    Bio, ClientAddress, Email, OtpCode, Password, PendingSignup, PersonName, SignupId, User,
    UserId, Username,
};
use crate::error::{Error, Fields, Result};
use crate::ports::{AccountStore, Mailer, RateDecision, StoreError};
use crate::security::{otp::OtpKey, passwords, secrets};
use crate::settings::Settings;
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

pub const CODE_TTL: Duration = Duration::minutes(10);
pub const SIGNUP_TTL: Duration = Duration::hours(24);
pub const MAX_WRONG_CODES: u32 = 5;
pub const RESEND_COOLDOWN: Duration = Duration::seconds(60);
pub const MAX_RESENDS: u32 = 5;
/// Signups (and so mails) per email address per hour: stops mail flooding of one inbox.
pub const SIGNUPS_PER_EMAIL_PER_HOUR: u32 = 5;
const HOUR: Duration = Duration::hours(1);

/// A signup request, as received (unparsed strings, so every field error can be reported).
#[derive(Debug, Default)]
pub struct SignupForm {
    pub username: String,
    pub email: String,
    pub password: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub bio: Option<String>,
}

/// Answer to a signup: the same shape whether or not the email already had an account.
#[derive(Debug, Clone)]
pub struct SignupStarted {
    pub signup_id: SignupId,
    pub email: Email,
    pub expires_at: OffsetDateTime,
}

pub struct SignupService {
    store: Arc<dyn AccountStore>,
    mailer: Arc<dyn Mailer>,
    otp: OtpKey,
    settings: Arc<Settings>,
}

struct ValidForm {
    username: Username,
    email: Email,
    password: Password,
    first_name: PersonName,
    last_name: PersonName,
    bio: Bio,
}

fn validate(form: &SignupForm) -> Result<ValidForm> {
    let mut fields = Fields::default();
    let text = |raw: &Option<String>| raw.as_deref().unwrap_or("").to_owned();
    let username = fields.take("username", Username::parse(&form.username));
    let email = fields.take("email", Email::parse(&form.email));
    let password = fields.take(
        "password",
        match (&username, &email) {
            (Some(u), Some(e)) => Password::new_for(&form.password, u, e),
            _ => Password::new(&form.password),
        },
    );
    let first_name = fields.take("first_name", PersonName::parse(&text(&form.first_name)));
    let last_name = fields.take("last_name", PersonName::parse(&text(&form.last_name)));
    let bio = fields.take("bio", Bio::parse(&text(&form.bio)));
    let valid = (|| {
        Some(ValidForm {
            username: username?,
            email: email?,
            password: password?,
            first_name: first_name?,
            last_name: last_name?,
            bio: bio?,
        })
    })();
    fields.finish(valid)
}

impl SignupService {
    pub fn new(
        store: Arc<dyn AccountStore>,
        mailer: Arc<dyn Mailer>,
        otp: OtpKey,
        settings: Arc<Settings>,
    ) -> Self {
        Self {
            store,
            mailer,
            otp,
            settings,
        }
    }

    /// POST /auth/signup.
    pub async fn start(
        &self,
        form: SignupForm,
        from: &ClientAddress,
        now: OffsetDateTime,
    ) -> Result<SignupStarted> {
        let form = validate(&form)?;
        let per_address = self.settings.limits.signups_per_address;
        throttle::per_address(self.store.as_ref(), "signup", from, per_address, HOUR, now).await?;
        let limit_key = format!("signup:{}", form.email);
        if let RateDecision::Limited { until } = self
            .store
            .hit_rate_limit(
                &limit_key,
                SIGNUPS_PER_EMAIL_PER_HOUR,
                Duration::hours(1),
                now,
            )
            .await?
        {
            return Err(Error::RateLimited {
                retry_after: crate::domain::time::seconds_until(now, until),
                code: "rate_limited",
            });
        }
        let (holder, email_owner) = tokio::try_join!(
            self.store.user_by_username(&form.username),
            self.store.user_by_email(&form.email)
        )?;
        if holder.is_some() {
            return Err(Error::UsernameTaken);
        }
        let email_taken = email_owner.is_some();
        let password_hash = passwords::hash(&form.password).await?;

        let id = SignupId::new();
        let code = self.otp.code(&id, 0);
        let signup = PendingSignup {
            id,
            username: form.username,
            email: form.email,
            password_hash,
            first_name: form.first_name.as_str().to_owned(),
            last_name: form.last_name.as_str().to_owned(),
            bio: form.bio.as_str().to_owned(),
            email_taken,
            // A signup for a taken email can never be verified: its stored hash matches no code.
            code_hash: if email_taken {
                secrets::random_bytes()
            } else {
                self.otp.hash(&id, &code)
            },
            code_round: 0,
            code_expires_at: now + CODE_TTL,
            failed_attempts: 0,
            resends: 0,
            last_sent_at: now,
            created_at: now,
            expires_at: now + SIGNUP_TTL,
            version: 0,
        };
        self.store.put_signup(&signup).await?;
        self.mail(&signup, &code).await?;
        tracing::info!(signup_id = %signup.id, "signup started");
        Ok(SignupStarted {
            signup_id: signup.id,
            email: signup.email,
            expires_at: signup.code_expires_at,
        })
    }

    /// POST /auth/signup/resend: the same code while it is valid, a new one after it expired.
    pub async fn resend(
        &self,
        id: &SignupId,
        from: &ClientAddress,
        now: OffsetDateTime,
    ) -> Result<OffsetDateTime> {
        let per_address = self.settings.limits.resends_per_address;
        throttle::per_address(self.store.as_ref(), "resend", from, per_address, HOUR, now).await?;
        for _ in 0..CONFLICT_RETRIES {
            let mut signup = self.live_signup(id, now).await?;
            if signup.failed_attempts >= MAX_WRONG_CODES {
                return Err(Error::TooManyAttempts);
            }
            let next_allowed = signup.last_sent_at + RESEND_COOLDOWN;
            if now < next_allowed {
                return Err(Error::RateLimited {
                    retry_after: crate::domain::time::seconds_until(now, next_allowed),
                    code: "rate_limited",
                });
            }
            if signup.resends >= MAX_RESENDS {
                return Err(Error::RateLimited {
                    retry_after: crate::domain::time::seconds_until(now, signup.expires_at),
                    code: "too_many_resends",
                });
            }
            if now >= signup.code_expires_at {
                signup.code_round += 1;
                signup.code_expires_at = now + CODE_TTL;
                if !signup.email_taken {
                    let code = self.otp.code(&signup.id, signup.code_round);
                    signup.code_hash = self.otp.hash(&signup.id, &code);
                }
            }
            signup.resends += 1;
            signup.last_sent_at = now;
            match self.store.update_signup(&signup).await {
                Ok(()) => {
                    let code = self.otp.code(&signup.id, signup.code_round);
                    self.mail(&signup, &code).await?;
                    tracing::info!(signup_id = %signup.id, resends = signup.resends, "signup code resent");
                    return Ok(signup.code_expires_at);
                }
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Unexpected(anyhow::anyhow!(
            "resend kept conflicting"
        )))
    }

    /// POST /auth/signup/verify: checks the code and creates the account in one transaction.
    pub async fn verify(&self, id: &SignupId, code: &OtpCode, now: OffsetDateTime) -> Result<User> {
        for _ in 0..CONFLICT_RETRIES {
            let mut signup = self.live_signup(id, now).await?;
            if signup.failed_attempts >= MAX_WRONG_CODES {
                return Err(Error::TooManyAttempts);
            }
            if now >= signup.code_expires_at {
                return Err(Error::CodeExpired);
            }
            if !self.otp.matches(&signup.id, code, &signup.code_hash) {
                signup.failed_attempts += 1;
                match self.store.update_signup(&signup).await {
                    Ok(()) if signup.failed_attempts >= MAX_WRONG_CODES => {
                        return Err(Error::TooManyAttempts);
                    }
                    Ok(()) => {
                        return Err(Error::InvalidCode {
                            attempts_left: MAX_WRONG_CODES - signup.failed_attempts,
                        });
                    }
                    Err(StoreError::Conflict) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            let user = User {
                id: UserId::new(),
                username: signup.username.clone(),
                email: signup.email.clone(),
                password_hash: signup.password_hash.clone(),
                first_name: signup.first_name.clone(),
                last_name: signup.last_name.clone(),
                bio: signup.bio.clone(),
                avatar_key: None,
                role: self.settings.initial_role(&signup.username),
                group_adds: Default::default(),
                created_at: now,
                session_epoch: 0,
                version: 0,
            };
            return match self.store.create_user(&user, &signup).await {
                Ok(()) => {
                    tracing::info!(user_id = %user.id, signup_id = %signup.id, "account created");
                    Ok(user)
                }
                // Lost a race. A wrong code counted meanwhile changed the signup: read it again.
                // Another verification of this very signup won: it is gone, and this request
                // (a double submit) is told so rather than that its own name is taken.
                Err(crate::ports::CreateUserError::Conflict) => {
                    if self.store.signup(id).await?.is_none() {
                        return Err(Error::Conflict);
                    }
                    continue;
                }
                Err(e) => Err(e.into()),
            };
        }
        Err(Error::Unexpected(anyhow::anyhow!(
            "verification kept conflicting"
        )))
    }

    async fn live_signup(&self, id: &SignupId, now: OffsetDateTime) -> Result<PendingSignup> {
        match self.store.signup(id).await? {
            Some(s) if now < s.expires_at => Ok(s),
            _ => Err(Error::NotFound("signup")),
        }
    }

    async fn mail(&self, signup: &PendingSignup, code: &OtpCode) -> Result<()> {
        let mail = if signup.email_taken {
            mails::signup_notice(signup.email.as_str(), &self.settings.app_url)
        } else {
            mails::signup_code(signup.email.as_str(), code)
        };
        self.mailer.send(mail).await.map_err(|e| {
            tracing::error!(error = %e, signup_id = %signup.id, "signup mail failed");
            Error::MailUnavailable
        })
    }
}
