//! Every HTTP request, observed the same way on Lambda and on the local server: a `request` span
//! around the handler (so each log line names its request), one `answered` line with status and
//! latency, and one EMF line of metrics (`http_metrics` says which).

use super::emf::{MetricSink, Metrics, Unit};
use super::http_metrics;
use crate::handlers::routes;
use crate::http::websocket::{WsRequest, WsResponse};
use crate::http::{Body, Request, Response};
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;
use std::time::Instant;
use tracing::Instrument;

/// Runs `handle` on `req` inside its `request` span, then logs and measures the answer.
pub async fn http<F, Fut>(req: Request, sink: &dyn MetricSink, handle: F) -> Response<Body>
where
    F: FnOnce(Request) -> Fut,
    Fut: std::future::Future<Output = Response<Body>>,
{
    let started = Instant::now();
    let (route, api_request_id) = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => (ctx.route_key.clone(), ctx.request_id.clone()),
        #[allow(unreachable_patterns)]
        _ => (None, None),
    };
    let request_id = req.lambda_context_ref().map(|c| c.request_id.clone());
    let route = route.unwrap_or_else(|| "unknown".to_owned());
    let function = routes::function_of(&route).unwrap_or("unknown");
    let span = tracing::info_span!(
        "request",
        function,
        route = %route,
        request_id = request_id.as_deref().unwrap_or(""),
        api_request_id = api_request_id.as_deref().unwrap_or(""),
        user_id = tracing::field::Empty,
    );
    let response = handle(req).instrument(span.clone()).await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let status = response.status().as_u16();
    span.in_scope(|| {
        if status >= 500 {
            tracing::warn!(status, latency_ms, "answered");
        } else {
            tracing::info!(status, latency_ms, "answered");
        }
    });
    let mut metrics = Metrics::new(function, Some(&route));
    metrics.by_route("Requests", Unit::Count, 1.0);
    metrics.by_route("Errors5xx", Unit::Count, f64::from(u8::from(status >= 500)));
    metrics.by_route("Latency", Unit::Milliseconds, latency_ms);
    http_metrics::business(&route, &response, &mut metrics);
    sink.write(&metrics);
    response
}

/// Names the authenticated caller on the request's log lines: the opaque user id only.
pub fn caller(user_id: &str) {
    tracing::Span::current().record("user_id", user_id);
}

/// A WebSocket event, observed like an HTTP request: its span carries the `connection_id`.
pub async fn websocket<Fut>(
    event: WsRequest,
    request_id: &str,
    sink: &dyn MetricSink,
    handle: impl FnOnce(WsRequest) -> Fut,
) -> WsResponse
where
    Fut: std::future::Future<Output = WsResponse>,
{
    let started = Instant::now();
    let route = event.request_context.route_key.clone();
    let function = routes::ws_function_of(&route).unwrap_or("ws-message");
    let span = tracing::info_span!(
        "request",
        function,
        route = %route,
        request_id,
        api_request_id = event.request_context.request_id.as_deref().unwrap_or(""),
        connection_id = %event.request_context.connection_id,
        user_id = tracing::field::Empty,
    );
    let response = handle(event).instrument(span.clone()).await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let status = response.status_code;
    span.in_scope(|| tracing::info!(status, latency_ms, "answered"));
    let mut metrics = Metrics::new(function, Some(&route));
    metrics.by_route("Requests", Unit::Count, 1.0);
    metrics.by_route("Errors5xx", Unit::Count, f64::from(u8::from(status >= 500)));
    metrics.by_route("Latency", Unit::Milliseconds, latency_ms);
    if status < 300 && route == "send" {
        metrics.by_function("MessagesSent", Unit::Count, 1.0);
    }
    sink.write(&metrics);
    response
}

/// One stream batch of `ws-deliver`: records in, records the batch answered as failed.
pub async fn stream<Fut>(
    records: usize,
    request_id: &str,
    sink: &dyn MetricSink,
    handle: Fut,
) -> serde_json::Value
where
    Fut: std::future::Future<Output = serde_json::Value>,
{
    let started = Instant::now();
    let span = tracing::info_span!("request", function = "ws-deliver", request_id, records);
    let answer = handle.instrument(span.clone()).await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let failed = answer["batchItemFailures"]
        .as_array()
        .map_or(0, |failures| failures.len());
    span.in_scope(|| tracing::info!(failed, latency_ms, "batch delivered"));
    let mut metrics = Metrics::new("ws-deliver", None);
    metrics.by_function("DeliveryBatches", Unit::Count, 1.0);
    metrics.by_function("DeliveryRecords", Unit::Count, records as f64);
    metrics.by_function("DeliveryBatchFailures", Unit::Count, failed as f64);
    metrics.by_function("DeliveryBatchLatency", Unit::Milliseconds, latency_ms);
    sink.write(&metrics);
    answer
}
