//! Logs and metrics.
//!
//! Logs: one JSON object per line on Lambda (CloudWatch Logs Insights reads the fields), readable
//! lines locally (JSON with `chatman-local --log-format json`); level from `RUST_LOG` (default
//! `info`). Every line of a request carries its `request` span: function, route, the Lambda and
//! API Gateway request ids and, once authenticated, the user id (never a username or email).
//! Nothing secret is ever passed to a log call: codes, tokens and passwords only exist in mails
//! and responses, and their types redact themselves in `Debug`.
//!
//! Metrics: CloudWatch Embedded Metric Format lines on standard output (`emf`), one per request,
//! so the hot path makes no metrics API call.

pub mod emf;
mod http_metrics;
pub mod observe;

use tracing_subscriber::{EnvFilter, fmt};

fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Lambda: JSON lines without timestamps (CloudWatch stamps each line).
pub fn init_lambda() {
    let _ = json_lines()
        .with_env_filter(filter())
        .without_time()
        .try_init();
}

/// The local server: readable lines on standard error, or JSON lines when `json`.
pub fn init_local(json: bool) {
    if json {
        let _ = json_lines()
            .with_env_filter(filter())
            .with_writer(std::io::stderr)
            .try_init();
    } else {
        let _ = fmt()
            .with_env_filter(filter())
            .with_target(false)
            .with_writer(std::io::stderr)
            .try_init();
    }
}

/// The one field set of every JSON line: `level`, `message`, the event's fields, and `span`
/// (the request's fields); no span list, no target, no colours. The log-secrecy test reads
/// exactly these lines.
pub fn json_lines()
-> fmt::SubscriberBuilder<fmt::format::JsonFields, fmt::format::Format<fmt::format::Json>> {
    fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_ansi(false)
}
