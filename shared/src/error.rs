//! The errors a caller of a service can branch on, plus one opaque `Unexpected`. They become
//! `application/problem+json` in exactly one place: `http::problem`.

use crate::domain::Invalid;
use crate::ports::{CreateUserError, StoreError, UpdateUserError};

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Collects field errors while parsing a request, so every invalid field is reported at once.
#[derive(Debug, Default)]
pub struct Fields(Vec<FieldError>);

impl Fields {
    /// The parsed value, or `None` after recording why `field` is invalid.
    pub fn take<T>(&mut self, field: &str, parsed: std::result::Result<T, Invalid>) -> Option<T> {
        parsed
            .map_err(|e| self.0.push(FieldError::new(field, e.0)))
            .ok()
    }

    /// `Ok(value)` when no field was invalid, else the collected validation error.
    pub fn finish<T>(self, value: Option<T>) -> Result<T> {
        match value {
            Some(v) if self.0.is_empty() => Ok(v),
            _ => Err(Error::Validation(self.0)),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("payload too large")]
    PayloadTooLarge { limit: usize },
    #[error("unauthorized")]
    Unauthorized,
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("forbidden")]
    Forbidden,
    #[error("not found")]
    NotFound(&'static str),
    /// One of two people blocked the other (403 `blocked`).
    #[error("blocked")]
    Blocked,
    #[error("route not found")]
    NoRoute,
    #[error("username taken")]
    UsernameTaken,
    #[error("email taken")]
    EmailTaken,
    #[error("invalid code")]
    InvalidCode { attempts_left: u32 },
    #[error("code expired")]
    CodeExpired,
    #[error("too many attempts")]
    TooManyAttempts,
    #[error("rate limited")]
    RateLimited {
        retry_after: u64,
        code: &'static str,
    },
    #[error("invalid token")]
    InvalidToken,
    #[error("password mismatch")]
    PasswordMismatch,
    /// The resource changed between read and write; the client may retry.
    #[error("conflict")]
    Conflict,
    /// A business rule refused the request (422), e.g. `self_block`.
    #[error("refused: {0}")]
    Refused(&'static str),
    /// The payment would pass the payer's rolling 24-hour outgoing cap (422 `limit_exceeded`):
    /// the cap, what is left of it, and when enough frees up for this amount (`None`: never, the
    /// amount alone is over the cap).
    #[error("daily outgoing limit exceeded")]
    LimitExceeded {
        limit: i64,
        remaining: i64,
        frees_at: Option<time::OffsetDateTime>,
    },
    /// Authenticated but refused for a reason with its own code (403), e.g. `blocked`.
    #[error("denied: {0}")]
    Denied(&'static str),
    /// The resource existed but is over (410), e.g. `link_expired`.
    #[error("gone: {0}")]
    Gone(&'static str),
    /// A money-moving request came without an `Idempotency-Key` (400).
    #[error("idempotency key required")]
    IdempotencyKeyRequired,
    /// Another request with the same idempotency key is still running (409).
    #[error("request in progress")]
    RequestInProgress,
    #[error("email could not be sent")]
    MailUnavailable,
    /// An upload was refused or cannot be attached (`services::uploads`).
    #[error("upload refused: {0:?}")]
    Upload(crate::services::uploads::UploadRefusal),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl Error {
    /// A single-field validation error.
    pub fn field(field: &str, invalid: Invalid) -> Self {
        Self::Validation(vec![FieldError::new(field, invalid.0)])
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => Self::Unexpected(anyhow::anyhow!("unresolved write conflict")),
            StoreError::Unexpected(e) => Self::Unexpected(e),
        }
    }
}

impl From<CreateUserError> for Error {
    fn from(e: CreateUserError) -> Self {
        match e {
            CreateUserError::UsernameTaken => Self::UsernameTaken,
            CreateUserError::EmailTaken => Self::EmailTaken,
            CreateUserError::Conflict => Self::Unexpected(anyhow::anyhow!("signup raced")),
            CreateUserError::Unexpected(e) => Self::Unexpected(e),
        }
    }
}

impl From<UpdateUserError> for Error {
    fn from(e: UpdateUserError) -> Self {
        match e {
            UpdateUserError::UsernameTaken => Self::UsernameTaken,
            UpdateUserError::Conflict => Self::Conflict,
            UpdateUserError::Unexpected(e) => Self::Unexpected(e),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
