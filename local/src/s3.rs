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

use anyhow::Context as _;
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
        if self.ephemeral
            && let Err(e) = std::fs::remove_dir_all(&self.data_dir)
        {
            tracing::warn!(error = %e, dir = %self.data_dir.display(), "could not remove the S3 data");
        }
    }
}

fn random_key(bytes: usize) -> String {
    (0..bytes)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect()
}

/// Serves S3 on `host:port` (0: a free port), storing under `data_dir/{BUCKET}`.
pub async fn start(host: &str, port: u16, data_dir: &Path) -> anyhow::Result<LocalS3> {
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
            let service = service.clone();
            tokio::spawn(async move {
                if let Err(e) = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
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
