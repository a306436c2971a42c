//! Reading requests: route, path and query parameters, the bearer token, and bounded JSON bodies.

use super::Request;
use crate::domain::ClientAddress;
use crate::error::{Error, FieldError, Result};
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;
use serde::de::DeserializeOwned;

/// Largest JSON body any accounts route accepts.
pub const MAX_BODY: usize = 16 * 1024;

/// The client address API Gateway saw (`requestContext.http.sourceIp`): the key of per-address
/// throttles. Headers such as `X-Forwarded-For` are ignored: any client can write them.
pub fn client_address(req: &Request) -> ClientAddress {
    let source_ip = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.as_deref(),
        #[allow(unreachable_patterns)]
        _ => None,
    };
    ClientAddress::from_source_ip(source_ip)
}

/// The API Gateway route key, e.g. `POST /auth/token`.
pub fn route_key(req: &Request) -> Option<&str> {
    match req.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => ctx.route_key.as_deref(),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

pub fn path_param(req: &Request, name: &str) -> Option<String> {
    req.path_parameters_ref()
        .and_then(|p| p.first(name))
        .map(str::to_owned)
}

pub fn query_param(req: &Request, name: &str) -> Option<String> {
    req.query_string_parameters_ref()
        .and_then(|q| q.first(name))
        .map(str::to_owned)
}

/// `?limit=`: `default` when absent, 1..=`max` otherwise.
pub fn limit(req: &Request, default: usize, max: usize) -> Result<usize> {
    match query_param(req, "limit") {
        None => Ok(default),
        Some(raw) => match raw.trim().parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(Error::Validation(vec![FieldError::new(
                "limit",
                format!("must be a whole number from 1 to {max}"),
            )])),
        },
    }
}

/// The token of an `Authorization: Bearer <token>` header, if any.
pub fn bearer(req: &Request) -> Option<&str> {
    let value = req.headers().get("authorization")?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

fn is_json(req: &Request) -> bool {
    let Some(value) = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let media = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
}

/// Parses the JSON body into `T`: 415 for another media type, 413 past `MAX_BODY`,
/// `invalid_json` for broken syntax, `validation_failed` naming the field for wrong shapes.
pub fn json_body<T: DeserializeOwned>(req: &Request) -> Result<T> {
    let bytes: &[u8] = req.body().as_ref();
    if bytes.len() > MAX_BODY {
        return Err(Error::PayloadTooLarge { limit: MAX_BODY });
    }
    if !is_json(req) {
        return Err(Error::UnsupportedMediaType);
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::InvalidJson("the body is empty".into()));
    }
    // Syntax first, so broken JSON is always `invalid_json`, whatever shape it started with.
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| Error::InvalidJson(without_position(&e.to_string())))?;
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = without_position(&e.into_inner().to_string());
        Error::Validation(vec![FieldError::new(field_of(&path, &message), message)])
    })
}

fn without_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// The field an error is about: the path, or for a missing field the parent path plus its name.
fn field_of(path: &str, message: &str) -> String {
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next());
    match (missing, path) {
        (Some(name), ".") => name.to_owned(),
        (Some(name), parent) => format!("{parent}.{name}"),
        (None, ".") => "body".to_owned(),
        (None, path) => path.to_owned(),
    }
}

/// Reads an already-parsed JSON value (a WebSocket frame) into `T`, with the same
/// `validation_failed` naming the field as a body.
pub fn from_json_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = without_position(&e.into_inner().to_string());
        Error::Validation(vec![FieldError::new(field_of(&path, &message), message)])
    })
}
