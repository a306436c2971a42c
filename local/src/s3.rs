//! The local server's S3: `s3s` (the S3 protocol, with SigV4 header and presigned-URL
//! verification) over `s3s-fs` (objects as files under a data directory), in process on its own
//! port. The real `S3Files` adapter signs against it exactly as against AWS.
//!
//! What it refuses, and why that is enough for uploads: a presigned PUT signs `content-type`
//! and `content-length` as headers, so s3s recomputes the signature over the headers the client
//! actually sent and any other type or length (one byte more included) fails it; a changed
//! signature, key or query fails it; s3s compares `X-Amz-Date + X-Amz-Expires` with its clock,
//! so a late PUT is refused. A request without a signature is refused (no anonymous access).
//! `local/tests/uploads_s3.rs` checks each of these against this very server.
//!
//! The signing keys are made at start-up: nothing outside this process can sign for it.
//!
//! A GET answers the `response-content-type` / `response-content-disposition` its (signed)
//! query names, as S3 does, and every answer carries `X-Content-Type-Options: nosniff`.
//!
//! Like the deployed bucket's CORS rule, it answers browsers' preflights and lets the page at
//! `cors_origin` read its answers, so a web app on this machine can PUT and GET directly.

use anyhow::Context as _;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use tokio::net::TcpListener;

/// The bucket the local server stores uploads in.
pub const BUCKET: &str = "chatman-uploads";

/// A running local S3.
pub struct LocalS3 {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    pub access_key: String,
    pub secret_key: String,
    /// Whether `stop` deletes `data_dir` (servers made for one test).
    pub ephemeral: bool,
    task: tokio::task::JoinHandle<()>,
}

impl LocalS3 {
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// An SDK configuration that signs with this server's keys.
    pub fn sdk_config(&self) -> aws_config::SdkConfig {
        chatman::adapters::aws::local_with_credentials(
            &self.endpoint(),
            &self.access_key,
            &self.secret_key,
        )
    }

    /// Stops serving; an ephemeral server also deletes its files.
    pub fn stop(&self) {
        self.task.abort();
        self.remove_if_ephemeral();
    }

    fn remove_if_ephemeral(&self) {
        if self.ephemeral
            && self.data_dir.exists()
            && let Err(e) = std::fs::remove_dir_all(&self.data_dir)
        {
            tracing::warn!(error = %e, dir = %self.data_dir.display(), "could not remove the S3 data");
        }
    }
}

/// A test's server leaves no files behind, stopped or not.
impl Drop for LocalS3 {
    fn drop(&mut self) {
        self.task.abort();
        self.remove_if_ephemeral();
    }
}

fn random_key(bytes: usize) -> String {
    (0..bytes)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect()
}

/// Adds the CORS headers of the deployed bucket's rule (PUT, GET and HEAD from `origin`).
fn with_cors<B>(
    mut res: hyper::Response<B>,
    origin: &hyper::header::HeaderValue,
) -> hyper::Response<B> {
    let headers = res.headers_mut();
    headers.insert("access-control-allow-origin", origin.clone());
    headers.insert(
        "access-control-expose-headers",
        hyper::header::HeaderValue::from_static("etag"),
    );
    headers.insert("vary", hyper::header::HeaderValue::from_static("origin"));
    res
}

fn preflight(origin: &hyper::header::HeaderValue) -> hyper::Response<s3s::Body> {
    let mut res = hyper::Response::new(s3s::Body::empty());
    *res.status_mut() = hyper::StatusCode::NO_CONTENT;
    let headers = res.headers_mut();
    headers.insert(
        "access-control-allow-methods",
        hyper::header::HeaderValue::from_static("PUT, GET, HEAD"),
    );
    headers.insert(
        "access-control-allow-headers",
        hyper::header::HeaderValue::from_static("content-type"),
    );
    headers.insert(
        "access-control-max-age",
        hyper::header::HeaderValue::from_static("600"),
    );
    with_cors(res, origin)
}

/// The `response-content-type` / `response-content-disposition` of a GET's query, which S3
/// answers instead of the stored headers (s3s checks they are signed; s3s-fs ignores them).
fn response_overrides<B>(req: &hyper::Request<B>) -> Vec<(&'static str, String)> {
    if req.method() != hyper::Method::GET {
        return vec![];
    }
    let query = req.uri().query().unwrap_or("");
    [
        ("response-content-type", "content-type"),
        ("response-content-disposition", "content-disposition"),
    ]
    .into_iter()
    .filter_map(|(param, header)| {
        let raw = query
            .split('&')
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| *k == param)?
            .1;
        Some((header, chatman::http::apigw::percent_decode(raw, true)))
    })
    .collect()
}

/// Applies the signed overrides to a successful GET, and `X-Content-Type-Options: nosniff` to
/// every answer (S3 itself cannot add it; see docs/UPLOADS.md).
fn serve_as_signed<B>(res: &mut hyper::Response<B>, overrides: &[(&'static str, String)]) {
    let ok = res.status().is_success();
    let headers = res.headers_mut();
    headers.insert(
        "x-content-type-options",
        hyper::header::HeaderValue::from_static("nosniff"),
    );
    if !ok {
        return;
    }
    for (name, value) in overrides {
        if let Ok(v) = hyper::header::HeaderValue::from_str(value) {
            headers.insert(*name, v);
        }
    }
}

/// Serves S3 on `host:port` (0: a free port), storing under `data_dir/{BUCKET}`, readable by
/// pages from `cors_origin`.
pub async fn start(
    host: &str,
    port: u16,
    data_dir: &Path,
    cors_origin: &str,
) -> anyhow::Result<LocalS3> {
    let origin = hyper::header::HeaderValue::from_str(cors_origin)
        .with_context(|| format!("CORS origin {cors_origin:?}"))?;
    std::fs::create_dir_all(data_dir.join(BUCKET))
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let fs = s3s_fs::FileSystem::new(data_dir)
        .map_err(|e| anyhow::anyhow!("opening {}: {e:?}", data_dir.display()))?;
    let access_key = format!("chatman-{}", random_key(6));
    let secret_key = random_key(24);
    let service = {
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(
            access_key.clone(),
            secret_key.clone(),
        ));
        builder.build()
    };
    let listener = TcpListener::bind((host, port))
        .await
        .with_context(|| format!("binding the local S3 on {host}:{port}"))?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "local S3 accept failed");
                    continue;
                }
            };
            let (service, origin) = (service.clone(), origin.clone());
            let cors = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                let (service, origin) = (service.clone(), origin.clone());
                async move {
                    if req.method() == hyper::Method::OPTIONS {
                        return Ok::<_, s3s::HttpError>(preflight(&origin));
                    }
                    let overrides = response_overrides(&req);
                    let mut res = hyper::service::Service::call(&service, req).await?;
                    serve_as_signed(&mut res, &overrides);
                    Ok(with_cors(res, &origin))
                }
            });
            tokio::spawn(async move {
                if let Err(e) = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), cors)
                    .await
                {
                    tracing::debug!(error = %e, "local S3 connection ended");
                }
            });
        }
    });
    Ok(LocalS3 {
        addr,
        data_dir: data_dir.to_owned(),
        access_key,
        secret_key,
        ephemeral: false,
        task,
    })
}
