//! Running a handler on the Lambda runtime.

use crate::handlers::Function;
use std::convert::Infallible;
use std::sync::Arc;

/// Serves `function` until the runtime stops. Handlers always answer, so the runtime never
/// sees an error from us.
pub async fn serve(function: impl Function + 'static) -> Result<(), lambda_http::Error> {
    let function = Arc::new(function);
    lambda_http::run(lambda_http::service_fn(move |req| {
        let function = Arc::clone(&function);
        async move { Ok::<_, Infallible>(function.handle(req).await) }
    }))
    .await
}
