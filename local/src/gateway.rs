//! The HTTP side of API Gateway: route matching, payload 2.0 events, the function call, and the
//! local-only routes under `/_local/`.

use chatman::adapters::outbox::Outbox;
use chatman::domain::time::rfc3339;
use chatman::error::Error;
use chatman::handlers::{Function, routes};
use chatman::http::apigw::{Incoming, percent_decode, to_event, to_request};
use chatman::http::problem::problem;
use chatman::telemetry::{emf, observe};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming as HyperBody};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

/// API Gateway refuses payloads over 10 MB; the local gateway is stricter, every route is JSON.
pub const MAX_PAYLOAD: usize = 1024 * 1024;

/// Everything the gateway dispatches to.
pub struct Gateway {
    pub functions: HashMap<&'static str, Arc<dyn Function>>,
    pub outbox: Option<Arc<Outbox>>,
    /// `Access-Control-Allow-Origin` for browsers (the HTTP API's CORS configuration in the cloud).
    pub cors_origin: String,
    /// The web app (`web/`, embedded) for GETs that match no API route; `None`: API only.
    pub web: Option<crate::web::WebApp>,
    /// The `Host` values this listener answers (DNS rebinding: `host_check`).
    pub hosts: crate::host_check::AllowedHosts,
}

type HyperResponse = hyper::Response<Full<Bytes>>;

fn from_lambda(response: lambda_http::Response<lambda_http::Body>) -> HyperResponse {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        lambda_http::Body::Empty => Bytes::new(),
        lambda_http::Body::Text(t) => Bytes::from(t),
        lambda_http::Body::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    };
    hyper::Response::from_parts(parts, Full::new(bytes))
}

fn error_response(error: Error) -> HyperResponse {
    from_lambda(problem(&error))
}

impl Gateway {
    /// Serves one request, with CORS headers as API Gateway adds them.
    /// `/_local/*` (the outbox holds every code and reset link) gets no CORS header at all,
    /// whatever `--cors-origin` says: a page from another origin can never read it, and its
    /// preflights fail like any unknown route.
    /// Any request naming another host is 421 before anything else (`host_check`).
    pub async fn serve(&self, req: hyper::Request<HyperBody>, peer: SocketAddr) -> HyperResponse {
        if let Some(refused) = self.hosts.check(&req) {
            return refused;
        }
        if req.uri().path().starts_with("/_local/") {
            return self.dispatch(req, peer).await;
        }
        let preflight = req.method() == hyper::Method::OPTIONS;
        let mut response = if preflight {
            let mut r = hyper::Response::new(Full::new(Bytes::new()));
            *r.status_mut() = hyper::StatusCode::NO_CONTENT;
            r
        } else {
            self.dispatch(req, peer).await
        };
        let headers = response.headers_mut();
        let mut set = |name: &'static str, value: &str| {
            if let Ok(v) = hyper::header::HeaderValue::from_str(value) {
                headers.insert(name, v);
            }
        };
        set("access-control-allow-origin", &self.cors_origin);
        set(
            "access-control-expose-headers",
            "retry-after, idempotent-replayed",
        );
        if preflight {
            set(
                "access-control-allow-methods",
                "GET, POST, PUT, PATCH, DELETE, OPTIONS",
            );
            set(
                "access-control-allow-headers",
                "authorization, content-type, idempotency-key",
            );
            set("access-control-max-age", "600");
        }
        response
    }

    async fn dispatch(&self, req: hyper::Request<HyperBody>, peer: SocketAddr) -> HyperResponse {
        let (parts, body) = req.into_parts();
        let path = parts.uri.path().to_owned();
        let raw_query = parts.uri.query().unwrap_or("").to_owned();
        let method = parts.method.as_str().to_owned();

        if let Some(rest) = path.strip_prefix("/_local/") {
            return self.local_route(&method, rest, &raw_query);
        }
        let Some((route_key, path_params)) = routes::match_route(&method, &path) else {
            return self.web_or_404(&method, &path, &parts.headers);
        };
        let Some(function) = routes::function_of(route_key).and_then(|f| self.functions.get(f))
        else {
            return error_response(Error::NoRoute);
        };
        let body = match Limited::new(body, MAX_PAYLOAD).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => return error_response(Error::PayloadTooLarge { limit: MAX_PAYLOAD }),
        };
        let headers: Vec<(String, String)> = parts
            .headers
            .iter()
            .filter_map(|(k, v)| {
                Some((k.as_str().to_ascii_lowercase(), v.to_str().ok()?.to_owned()))
            })
            .collect();
        let host = headers
            .iter()
            .find(|(k, _)| k == "host")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let event = to_event(&Incoming {
            method: &method,
            path: &path,
            raw_query: &raw_query,
            headers,
            body: &body,
            route_key,
            path_params,
            source_ip: peer.ip().to_string(),
            host,
        });
        match to_request(event) {
            // Logged like Lambda's requests; no CloudWatch here to read the metrics.
            Ok(request) => {
                from_lambda(observe::http(request, &emf::Discard, |req| function.handle(req)).await)
            }
            Err(e) => error_response(Error::Unexpected(
                e.context("building the API Gateway event"),
            )),
        }
    }

    /// A GET that is no API route: a file of the web app, an app path or `/config.json`; else 404.
    fn web_or_404(&self, method: &str, path: &str, headers: &hyper::HeaderMap) -> HyperResponse {
        let host = headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        match &self.web {
            Some(app) if method == "GET" || method == "HEAD" => crate::web::serve(path, host, app),
            _ => None,
        }
        .unwrap_or_else(|| error_response(Error::NoRoute))
    }

    fn local_route(&self, method: &str, rest: &str, raw_query: &str) -> HyperResponse {
        match (method, rest, &self.outbox) {
            ("GET", "outbox", Some(outbox)) => {
                let to = raw_query
                    .split('&')
                    .filter_map(|p| p.split_once('='))
                    .find(|(k, _)| *k == "to")
                    .map(|(_, v)| percent_decode(v, true));
                let items: Vec<_> = outbox
                    .to(to.as_deref())
                    .into_iter()
                    .map(|m| {
                        serde_json::json!({
                            "to": m.mail.to, "subject": m.mail.subject, "text": m.mail.text,
                            "html": m.mail.html, "sent_at": rfc3339(m.sent_at),
                        })
                    })
                    .collect();
                from_lambda(chatman::http::response::json(
                    200,
                    &serde_json::json!({ "items": items }),
                ))
            }
            ("GET", "health", _) => from_lambda(chatman::http::response::json(
                200,
                &serde_json::json!({ "status": "ok" }),
            )),
            _ => error_response(Error::NoRoute),
        }
    }
}
