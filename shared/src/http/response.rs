//! Successful responses.

use super::{Body, Response};
use serde::Serialize;

pub fn json_with_type<T: Serialize>(status: u16, body: &T, content_type: &str) -> Response<Body> {
    // Serializing our own view types cannot fail; if it ever did, say so without details.
    let (status, text) = match serde_json::to_string(body) {
        Ok(text) => (status, text),
        Err(e) => {
            tracing::error!(error = %e, "response serialization failed");
            (500, r#"{"type":"about:blank","title":"Internal Server Error","status":500,"code":"internal_error"}"#.to_owned())
        }
    };
    let mut response = Response::new(Body::Text(text));
    *response.status_mut() = http_status(status);
    if let Ok(value) = content_type.parse() {
        response.headers_mut().insert("content-type", value);
    }
    response.headers_mut().insert(
        "cache-control",
        lambda_http::http::HeaderValue::from_static("no-store"),
    );
    response
}

pub fn json<T: Serialize>(status: u16, body: &T) -> Response<Body> {
    json_with_type(status, body, "application/json")
}

pub fn no_content() -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = http_status(204);
    response.headers_mut().insert(
        "cache-control",
        lambda_http::http::HeaderValue::from_static("no-store"),
    );
    response
}

fn http_status(code: u16) -> lambda_http::http::StatusCode {
    lambda_http::http::StatusCode::from_u16(code)
        .unwrap_or(lambda_http::http::StatusCode::INTERNAL_SERVER_ERROR)
}
