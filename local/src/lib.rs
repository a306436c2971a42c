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

pub use config::LocalConfig;
pub use server::{Running, start, start_with_clock};
