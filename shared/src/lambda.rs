//! Running a handler on the Lambda runtime.

use crate::handlers::Function;
use crate::telemetry::{emf, observe};
use std::convert::Infallible;
use std::sync::Arc;

/// Serves `function` until the runtime stops. Handlers always answer, so the runtime never
/// sees an error from us.
pub async fn serve(function: impl Function + 'static) -> Result<(), lambda_http::Error> {
    let function = Arc::new(function);
    let sink = Arc::new(emf::Stdout::from_env());
    lambda_http::run(lambda_http::service_fn(move |req| {
        let (function, sink) = (Arc::clone(&function), Arc::clone(&sink));
        async move {
            let response = observe::http(req, sink.as_ref(), |req| function.handle(req)).await;
            Ok::<_, Infallible>(response)
        }
    }))
    .await
}

/// Builds the function with `init` (reading and checking its configuration) and serves it. If
/// `init` fails, the error (which names the setting, never its value) is reported to the Runtime
/// API's init-error endpoint and returned, so the process exits.
pub async fn start<F: Function + 'static>(
    init: impl FnOnce() -> anyhow::Result<F>,
) -> Result<(), lambda_http::Error> {
    let error = match init() {
        Ok(function) => return serve(function).await,
        Err(error) => format!("{error:#}"),
    };
    tracing::error!(error = %error, "invalid configuration");
    match std::env::var("AWS_LAMBDA_RUNTIME_API") {
        Ok(api) => {
            if let Err(e) = crate::init_error::report(&api, &error).await {
                tracing::error!(error = %e, "could not report the init error");
            }
        }
        Err(_) => tracing::error!("AWS_LAMBDA_RUNTIME_API is not set: not running on Lambda"),
    }
    Err(error.into())
}

/// Serves a WebSocket route's `function` (API Gateway WebSocket events in, proxy responses out).
pub async fn serve_websocket(
    function: impl crate::handlers::websocket::WsFunction + 'static,
) -> Result<(), lambda_http::Error> {
    use crate::http::websocket::WsRequest;
    use lambda_http::lambda_runtime::{LambdaEvent, run, service_fn};
    let function = Arc::new(function);
    let sink = Arc::new(emf::Stdout::from_env());
    run(service_fn(move |event: LambdaEvent<WsRequest>| {
        let (function, sink) = (Arc::clone(&function), Arc::clone(&sink));
        async move {
            let id = event.context.request_id;
            let handle = |payload| function.handle(payload);
            let response = observe::websocket(event.payload, &id, sink.as_ref(), handle).await;
            Ok::<_, Infallible>(response)
        }
    }))
    .await
}

/// Serves `ws-deliver` (DynamoDB stream batches in, partial batch responses out).
pub async fn serve_stream(
    function: crate::handlers::ws_deliver::WsDeliver,
) -> Result<(), lambda_http::Error> {
    use crate::handlers::ws_deliver::StreamEvent;
    use lambda_http::lambda_runtime::{LambdaEvent, run, service_fn};
    let function = Arc::new(function);
    let sink = Arc::new(emf::Stdout::from_env());
    run(service_fn(move |event: LambdaEvent<StreamEvent>| {
        let (function, sink) = (Arc::clone(&function), Arc::clone(&sink));
        async move {
            let (id, records) = (event.context.request_id, event.payload.records.len());
            let batch = function.handle(event.payload);
            Ok::<_, Infallible>(observe::stream(records, &id, sink.as_ref(), batch).await)
        }
    }))
    .await
}
