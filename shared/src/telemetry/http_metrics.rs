//! The business counters an operator alarms on, read from what a request answered: its route,
//! status, problem `code`, `Idempotent-Replayed` header and, for money, the `transfer.amount` it moved.
//! Reading the answer keeps metrics out of the services: a counter is one line here.

use super::emf::{Metrics, Unit};
use crate::http::{Body, Response};
use serde_json::Value;

/// Routes that move money, with the counter and the amount metric of each success.
const MONEY: &[(&str, &str, &str)] = &[
    ("POST /wallet/transfers", "Transfers", "TransferredAmount"),
    ("POST /wallet/deposits", "Deposits", "DepositedAmount"),
    ("POST /donate-links/{id}/pay", "Donations", "DonatedAmount"),
    (
        "POST /wallet/transfers/{id}/refunds",
        "Refunds",
        "RefundedAmount",
    ),
];

/// Routes where a wrong password or code is guessed.
const GUESSES: &[&str] = &[
    "POST /auth/token",
    "POST /auth/password/change",
    "POST /auth/signup/verify",
];

pub fn business(route: &str, response: &Response<Body>, metrics: &mut Metrics) {
    let status = response.status().as_u16();
    let replayed = response.headers().contains_key("idempotent-replayed");
    if replayed {
        metrics.by_function("IdempotentReplays", Unit::Count, 1.0);
    }
    let body = || serde_json::from_slice::<Value>(response.body().as_ref()).ok();
    if (200..300).contains(&status) && !replayed {
        if let Some((_, count, amount)) = MONEY.iter().find(|(r, ..)| *r == route) {
            metrics.by_function(count, Unit::Count, 1.0);
            if let Some(moved) = body().and_then(|b| b["transfer"]["amount"].as_i64()) {
                metrics.by_function(amount, Unit::Count, moved as f64);
            }
        }
        if route == "POST /rooms/{id}/messages" {
            metrics.by_function("MessagesSent", Unit::Count, 1.0);
        }
        return;
    }
    if status < 400 {
        return;
    }
    let code = body().and_then(|b| b["code"].as_str().map(str::to_owned));
    let code = code.as_deref().unwrap_or("");
    if GUESSES.contains(&route) {
        match (status, code) {
            (401 | 400, "invalid_credentials" | "invalid_code") => {
                metrics.by_function("LoginFailures", Unit::Count, 1.0)
            }
            (429, "too_many_attempts") => metrics.by_function("LockedOut", Unit::Count, 1.0),
            _ => {}
        }
    }
    if status == 429 {
        metrics.by_function("RateLimited", Unit::Count, 1.0);
    }
    if code == "insufficient_funds" {
        metrics.by_function("InsufficientFunds", Unit::Count, 1.0);
    }
    // Many of these from one account is what a stolen session trying to drain a wallet looks like.
    if code == "limit_exceeded" {
        metrics.by_function("DailyLimitExceeded", Unit::Count, 1.0);
    }
}
