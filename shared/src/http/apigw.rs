//! HTTP requests as API Gateway HTTP API (payload format 2.0) events, built as JSON and read by
//! `lambda_http` exactly as in Lambda, so handlers cannot tell the local server (or a test) from
//! AWS. Used by the local server, the handler tests and the benchmarks; never on a Lambda path.

use base64::{Engine, engine::general_purpose::STANDARD};
use lambda_http::request::LambdaRequest;
use serde_json::{Map, Value, json};

/// What the gateway knows about one request.
pub struct Incoming<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub raw_query: &'a str,
    pub headers: Vec<(String, String)>,
    pub body: &'a [u8],
    pub route_key: &'a str,
    pub path_params: Vec<(String, String)>,
    pub source_ip: String,
    pub host: String,
}

/// Percent-decoding as API Gateway applies it to path and query parameters.
pub fn percent_decode(raw: &str, plus_is_space: bool) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' if plus_is_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn joined(pairs: impl IntoIterator<Item = (String, String)>) -> Map<String, Value> {
    let mut map: Map<String, Value> = Map::new();
    for (k, v) in pairs {
        match map.get_mut(&k) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(&v);
            }
            _ => {
                map.insert(k, Value::String(v));
            }
        }
    }
    map
}

/// The payload 2.0 event for a request.
pub fn to_event(r: &Incoming<'_>) -> Value {
    let now = time::OffsetDateTime::now_utc();
    let query = (!r.raw_query.is_empty()).then(|| {
        joined(
            r.raw_query
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|pair| {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    (percent_decode(k, true), percent_decode(v, true))
                }),
        )
    });
    let cookies: Vec<String> = r
        .headers
        .iter()
        .filter(|(k, _)| k == "cookie")
        .flat_map(|(_, v)| v.split(';').map(|c| c.trim().to_owned()))
        .collect();
    let headers = joined(r.headers.iter().filter(|(k, _)| k != "cookie").cloned());
    let path_params = (!r.path_params.is_empty()).then(|| {
        joined(
            r.path_params
                .iter()
                .map(|(k, v)| (k.clone(), percent_decode(v, false))),
        )
    });
    let (body, is_base64) = match std::str::from_utf8(r.body) {
        _ if r.body.is_empty() => (Value::Null, false),
        Ok(text) => (Value::String(text.to_owned()), false),
        Err(_) => (Value::String(STANDARD.encode(r.body)), true),
    };
    json!({
        "version": "2.0",
        "routeKey": r.route_key,
        "rawPath": r.path,
        "rawQueryString": r.raw_query,
        "cookies": if cookies.is_empty() { Value::Null } else { json!(cookies) },
        "headers": headers,
        "queryStringParameters": query,
        "pathParameters": path_params,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": r.host,
            "domainPrefix": "local",
            "http": {
                "method": r.method,
                "path": r.path,
                "protocol": "HTTP/1.1",
                "sourceIp": r.source_ip,
                "userAgent": r.headers.iter().find(|(k, _)| k == "user-agent").map(|(_, v)| v.as_str()).unwrap_or(""),
            },
            "requestId": uuid::Uuid::now_v7().to_string(),
            "routeKey": r.route_key,
            "stage": "$default",
            "time": now.format(&time::format_description::well_known::Rfc2822).unwrap_or_default(),
            "timeEpoch": (now.unix_timestamp_nanos() / 1_000_000) as i64,
        },
        "body": body,
        "isBase64Encoded": is_base64,
    })
}

/// Reads an event the way the Lambda runtime does.
pub fn to_request(event: Value) -> anyhow::Result<lambda_http::Request> {
    let parsed: LambdaRequest = serde_json::from_value(event)?;
    Ok(parsed.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_follows_the_gateway() {
        assert_eq!(percent_decode("%40al%20ice", false), "@al ice");
        assert_eq!(percent_decode("a+b", true), "a b");
        assert_eq!(percent_decode("a+b", false), "a+b");
        assert_eq!(percent_decode("100%", false), "100%");
        assert_eq!(percent_decode("%zz", false), "%zz");
    }
}
