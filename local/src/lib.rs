//! The local server: every Chatman handler in one process, behind an emulation of API Gateway's
//! HTTP API (payload 2.0 events, route keys, path parameters), with embedded stand-ins for AWS:
//! the memory store (or DynamoDB Local), the outbox mailer, an ephemeral signing key.
//! The WebSocket API and upload storage slot in beside `gateway` as their own listeners.

pub mod config;
pub mod expiry;
pub mod gateway;
pub mod host_check;
pub mod realtime;
pub mod s3;
pub mod server;
pub mod web;
pub mod websocket;

/// The local server's allocator. With the memory store, records are freed in the middle of a
/// long run (idempotency records and tickets expire while the ledger's entries stay); glibc's
/// allocator keeps most of those holes resident, while mimalloc keeps each size class on its
/// own pages and returns pages that empty (measured: docs/PERFORMANCE.md, "Memory over a
/// day"). The Lambda functions do not link this crate.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub use config::{LocalConfig, LogFormat};
pub use server::{Running, start, start_with_clock};
