//! A Lambda function whose handler is built by the first request rather than at init, for the
//! functions that need a secret: the secret is fetched then, so init stays as fast as before.
//! A build that fails (Secrets Manager unreachable, a malformed key) answers that request with a
//! 500 problem, is logged without any secret, and is tried again by the next request. A request
//! for a route this function does not serve is answered 404 without building anything, so only
//! real traffic ever reads a secret.

use crate::error::Error;
use crate::handlers::{Function, routes};
use crate::http::{Body, Request, Response, problem::problem, request};
use async_trait::async_trait;
use std::future::Future;
use std::pin::Pin;
use tokio::sync::OnceCell;

type Build<F> =
    Box<dyn Fn() -> Pin<Box<dyn Future<Output = anyhow::Result<F>> + Send>> + Send + Sync>;

/// Builds `F` on the first request for one of its routes, then serves every request with it.
pub struct OnFirstUse<F> {
    /// The function's name in the route table (`handlers::routes`).
    function: &'static str,
    build: Build<F>,
    built: OnceCell<F>,
}

impl<F: Function> OnFirstUse<F> {
    pub fn new<Fut>(function: &'static str, build: impl Fn() -> Fut + Send + Sync + 'static) -> Self
    where
        Fut: Future<Output = anyhow::Result<F>> + Send + 'static,
    {
        Self {
            function,
            build: Box::new(move || Box::pin(build())),
            built: OnceCell::new(),
        }
    }

    /// Whether the handler has been built (tests, diagnostics).
    pub fn is_built(&self) -> bool {
        self.built.initialized()
    }
}

#[async_trait]
impl<F: Function> Function for OnFirstUse<F> {
    async fn handle(&self, req: Request) -> Response<Body> {
        let ours = request::route_key(&req).and_then(routes::function_of) == Some(self.function);
        if !ours && !self.is_built() {
            return problem(&Error::NoRoute);
        }
        match self.built.get_or_try_init(|| (self.build)()).await {
            Ok(function) => function.handle(req).await,
            Err(e) => problem(&Error::Unexpected(
                e.context("building the handler on first use"),
            )),
        }
    }
}
