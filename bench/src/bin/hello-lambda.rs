//! The baseline of the cold-start benchmark: the smallest `lambda_http` function there is, built
//! with the same release profile and runtime flavour as ours. It answers 200 text to anything.

use lambda_http::{Body, Error, Request, Response, run, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    run(service_fn(|_req: Request| async {
        Response::builder()
            .status(200)
            .header("content-type", "text/plain")
            .body(Body::from("Hello, world!"))
            .map_err(Error::from)
    }))
    .await
}
