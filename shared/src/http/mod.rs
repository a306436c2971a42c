//! HTTP plumbing shared by every handler: reading requests, writing responses, and the single
//! place where an error becomes `application/problem+json`.

pub mod apigw;
pub mod problem;
pub mod request;
pub mod response;
pub mod websocket;

pub use lambda_http::{Body, Request, Response};
