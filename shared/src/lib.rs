//! Chatman: the library every Lambda function and the local server share.
//!
//! `domain` holds values and rules, `ports` the traits of collaborators, `services` the use cases,
//! `adapters` the AWS and in-memory implementations, `http` request/response plumbing, and
//! `handlers` one module per Lambda function. `lambda` and `config` wire them for AWS.

pub mod adapters;
pub mod config;
pub mod domain;
pub mod error;
pub mod first_use;
pub mod handlers;
pub mod http;
pub mod init_error;
pub mod lambda;
pub mod ports;
pub mod security;
pub mod services;
pub mod settings;
pub mod telemetry;
