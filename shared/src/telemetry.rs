//! Logging. Structured, one line per event, level from `RUST_LOG` (default `info`). Nothing
//! secret is ever passed to a log call: codes, tokens and passwords only exist in mails and
//! responses, and their types redact themselves in `Debug`.

use tracing_subscriber::{EnvFilter, fmt};

/// Lambda: no colours and no timestamps (CloudWatch stamps each line).
pub fn init_lambda() {
    let _ = fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_ansi(false)
        .without_time()
        .with_target(false)
        .try_init();
}

/// The local server: readable lines on standard error.
pub fn init_local() {
    let _ = fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_target(false)
        .with_writer(std::io::stderr)
        .try_init();
}
