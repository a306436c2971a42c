//! Errors as `application/problem+json` (RFC 9457). The only place an `Error` becomes a
//! response; internals of `Unexpected` are logged here and never returned.

use super::{Body, Response};
use crate::error::Error;
use serde::Serialize;

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    title: &'a str,
    status: u16,
    code: &'a str,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<Vec<FieldErrorOut<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attempts_left: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after: Option<u64>,
    /// `limit_exceeded`: the cap, what is left, and when enough frees up (null: never).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    limit: Option<LimitOut>,
}

#[derive(Serialize)]
struct LimitOut {
    limit: i64,
    remaining: i64,
    frees_at: Option<String>,
}

#[derive(Serialize)]
struct FieldErrorOut<'a> {
    field: &'a str,
    message: &'a str,
}

fn title(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        410 => "Gone",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    }
}

/// Turns any error into its problem response.
pub fn problem(error: &Error) -> Response<Body> {
    let (status, code, detail): (u16, &str, String) = match error {
        Error::Validation(_) => (400, "validation_failed", "Some fields are invalid.".into()),
        Error::InvalidJson(why) => (
            400,
            "invalid_json",
            format!("The body is not valid JSON: {why}"),
        ),
        Error::UnsupportedMediaType => (
            415,
            "unsupported_media_type",
            "Send the body as application/json.".into(),
        ),
        Error::PayloadTooLarge { limit } => (
            413,
            "payload_too_large",
            format!("The body may be at most {limit} bytes."),
        ),
        Error::Unauthorized => (
            401,
            "unauthorized",
            "Missing, invalid or expired credentials.".into(),
        ),
        Error::InvalidCredentials => (
            401,
            "invalid_credentials",
            "The login or password is wrong.".into(),
        ),
        Error::Forbidden => (403, "forbidden", "You are not allowed to do this.".into()),
        Error::Blocked => (403, "blocked", "One of you blocked the other.".into()),
        Error::NotFound(what) => (404, "not_found", format!("No such {what}.")),
        Error::NoRoute => (404, "not_found", "No such route.".into()),
        Error::UsernameTaken => (409, "username_taken", "That username is taken.".into()),
        Error::EmailTaken => (
            409,
            "email_taken",
            "That email belongs to another account.".into(),
        ),
        Error::InvalidCode { .. } => (400, "invalid_code", "That code is wrong.".into()),
        Error::CodeExpired => (
            410,
            "code_expired",
            "That code expired; ask for a new one.".into(),
        ),
        Error::TooManyAttempts => (
            429,
            "too_many_attempts",
            "Too many wrong codes: start the signup again.".into(),
        ),
        Error::RateLimited { code, retry_after } => (
            429,
            code,
            format!("Too many requests; retry in {retry_after} s."),
        ),
        Error::InvalidToken => (
            400,
            "invalid_token",
            "That link is invalid, used or expired.".into(),
        ),
        Error::PasswordMismatch => (400, "password_mismatch", "The two passwords differ.".into()),
        Error::Refused(code) => (
            422,
            code,
            "This request was refused by a business rule.".into(),
        ),
        Error::LimitExceeded {
            remaining,
            frees_at,
            ..
        } => (
            422,
            "limit_exceeded",
            match frees_at {
                Some(at) => format!(
                    "This would pass your 24-hour sending limit ({remaining} minor units left); it fits from {}.",
                    crate::domain::time::rfc3339(*at)
                ),
                None => format!(
                    "This amount is over your 24-hour sending limit ({remaining} minor units left now)."
                ),
            },
        ),
        Error::Conflict => (
            409,
            "conflict",
            "The resource changed meanwhile; try again.".into(),
        ),
        Error::Denied(code) => (403, code, "You are not allowed to do this.".into()),
        Error::Gone(code) => (410, code, "This is no longer available.".into()),
        Error::IdempotencyKeyRequired => (
            400,
            "idempotency_key_required",
            "Send an Idempotency-Key header (1 to 255 printable characters).".into(),
        ),
        Error::RequestInProgress => (
            409,
            "request_in_progress",
            "A request with this Idempotency-Key is still running; retry shortly.".into(),
        ),
        Error::MailUnavailable => (
            503,
            "mail_unavailable",
            "The email could not be sent; try again shortly.".into(),
        ),
        Error::Upload(refusal) => refusal.problem(),
        Error::Unexpected(e) => {
            tracing::error!(error = ?e, "unexpected error");
            (
                500,
                "internal_error",
                "Something went wrong on our side.".into(),
            )
        }
    };
    let errors = match error {
        Error::Validation(list) => Some(
            list.iter()
                .map(|f| FieldErrorOut {
                    field: &f.field,
                    message: &f.message,
                })
                .collect(),
        ),
        _ => None,
    };
    let (attempts_left, retry_after) = match error {
        Error::InvalidCode { attempts_left } => (Some(*attempts_left), None),
        Error::RateLimited { retry_after, .. } => (None, Some(*retry_after)),
        _ => (None, None),
    };
    let limit = match error {
        Error::LimitExceeded {
            limit,
            remaining,
            frees_at,
        } => Some(LimitOut {
            limit: *limit,
            remaining: *remaining,
            frees_at: frees_at.map(crate::domain::time::rfc3339),
        }),
        _ => None,
    };
    let body = Problem {
        kind: "about:blank",
        title: title(status),
        status,
        code,
        detail,
        errors,
        attempts_left,
        retry_after,
        limit,
    };
    let mut response = super::response::json_with_type(status, &body, "application/problem+json");
    if let Some(value) = retry_after.and_then(|s| s.to_string().parse().ok()) {
        response.headers_mut().insert("retry-after", value);
    }
    response
}
