//! `Files` on Amazon S3 (and on any S3 that checks SigV4, such as the local server's s3s-fs).
//!
//! No S3 SDK client: presigning is one SigV4 signature and the adapter sends only three plain
//! requests (HEAD, CopyObject, DeleteObject), so it signs them with the SDK's own signer
//! (`aws-sigv4`) and sends them over the SDK's HTTPS connector, both already linked for DynamoDB.
//! That keeps `aws-sdk-s3` (about 1.2 MB of each zipped function) out of every binary
//! (docs/PERFORMANCE.md). Credentials, region and an endpoint override come from the same
//! `SdkConfig` as every other client.
//!
//! Presigned PUTs carry `Content-Type` and `Content-Length` as signed headers, so the storage
//! itself refuses any other type or length; the payload stays `UNSIGNED-PAYLOAD` since the bytes
//! come from the client. No checksum is signed (one of an empty body would match no upload).
//!
//! S3 stores some headers a PUT sends even when the signature does not cover them
//! (`Content-Disposition`, `Content-Encoding`, `Cache-Control`...). Two things keep those from
//! reaching a reader: the copy to `files/` replaces the metadata (`x-amz-metadata-directive:
//! REPLACE`, only the declared type), and every presigned GET names its own
//! `response-content-type` and `response-content-disposition`, which S3 answers instead of
//! anything stored.

mod address;
mod presign;
mod requests;
mod signing;

use crate::ports::{Files, Presigned, Serve, StoredObject};
use address::{Address, encode};
use anyhow::Context as _;
use async_trait::async_trait;
use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_smithy_http_client::Connector;
use presign::Presign;
use requests::S3Request;
use std::sync::{Arc, OnceLock};
use time::{Duration, OffsetDateTime};

#[derive(Clone)]
pub struct S3Files {
    inner: Arc<Inner>,
}

struct Inner {
    bucket: String,
    address: Address,
    region: Option<String>,
    credentials: Option<SharedCredentialsProvider>,
    /// Trust the system's roots (an endpoint override) rather than Amazon's alone.
    system_roots: bool,
    /// Built on the first HEAD, copy or delete: functions that only presign never pay for a TLS
    /// configuration at init.
    connector: OnceLock<Connector>,
}

impl S3Files {
    /// Virtual-hosted URLs (`https://{bucket}.s3.{region}.amazonaws.com/...`) on AWS.
    pub fn new(config: &aws_config::SdkConfig, bucket: impl Into<String>) -> Self {
        Self::build(config, bucket.into(), false)
    }

    /// Path-style URLs (`http://host:port/{bucket}/...`), for a local S3 endpoint.
    pub fn path_style(config: &aws_config::SdkConfig, bucket: impl Into<String>) -> Self {
        Self::build(config, bucket.into(), true)
    }

    fn build(config: &aws_config::SdkConfig, bucket: String, path_style: bool) -> Self {
        let region = config.region().map(|r| r.as_ref().to_owned());
        let endpoint = config.endpoint_url();
        let address = Address::new(
            endpoint,
            region.as_deref().unwrap_or("us-east-1"),
            &bucket,
            path_style,
        );
        Self {
            inner: Arc::new(Inner {
                bucket,
                address,
                region,
                credentials: config.credentials_provider(),
                system_roots: endpoint.is_some(),
                connector: OnceLock::new(),
            }),
        }
    }

    pub fn bucket(&self) -> &str {
        &self.inner.bucket
    }

    /// The current credentials (on Lambda the execution role's, session token included) and
    /// the region to sign for.
    async fn signer(&self) -> anyhow::Result<(Credentials, &str)> {
        let provider = self
            .inner
            .credentials
            .as_ref()
            .context("S3: no credentials configured")?;
        let credentials = provider
            .provide_credentials()
            .await
            .map_err(|e| anyhow::anyhow!("S3: credentials: {e}"))?;
        let region = self
            .inner
            .region
            .as_deref()
            .context("S3: no region configured")?;
        Ok((credentials, region))
    }

    fn connector(&self) -> anyhow::Result<&Connector> {
        if let Some(connector) = self.inner.connector.get() {
            return Ok(connector);
        }
        let connector = crate::adapters::aws::https_connector(self.inner.system_roots)?;
        Ok(self.inner.connector.get_or_init(|| connector))
    }

    async fn send(&self, request: S3Request<'_>) -> anyhow::Result<requests::Answer> {
        let (credentials, region) = self.signer().await?;
        request.send(self.connector()?, &credentials, region).await
    }
}

/// What a client gets: the signed URL and the headers it must send with it.
fn presigned(url: String, headers: &[(&str, String)], expires_at: OffsetDateTime) -> Presigned {
    Presigned {
        url,
        headers: headers
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.clone()))
            .collect(),
        expires_at,
    }
}

fn validity(
    now: OffsetDateTime,
    ttl: Duration,
) -> anyhow::Result<(std::time::SystemTime, std::time::Duration)> {
    Ok((
        std::time::SystemTime::from(now),
        ttl.try_into().context("a positive validity")?,
    ))
}

#[async_trait]
impl Files for S3Files {
    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
        now: OffsetDateTime,
        ttl: Duration,
    ) -> anyhow::Result<Presigned> {
        let (start, expires_in) = validity(now, ttl)?;
        let headers = [
            ("content-type", content_type.to_owned()),
            ("content-length", size.to_string()),
        ];
        let presign = Presign {
            method: "PUT",
            url: self.inner.address.url(key),
            query: &[],
            headers: &headers,
            start,
            expires_in,
        };
        let (credentials, region) = self.signer().await?;
        let url = presign.sign(&credentials, region)?;
        Ok(presigned(url, presign.headers, now + ttl))
    }

    async fn presign_get(
        &self,
        key: &str,
        serve: &Serve,
        now: OffsetDateTime,
        ttl: Duration,
    ) -> anyhow::Result<Presigned> {
        let (start, expires_in) = validity(now, ttl)?;
        let mut query = Vec::with_capacity(2);
        if let Some(disposition) = &serve.content_disposition {
            query.push(("response-content-disposition", disposition.as_str()));
        }
        if let Some(content_type) = &serve.content_type {
            query.push(("response-content-type", content_type.as_str()));
        }
        let presign = Presign {
            method: "GET",
            url: self.inner.address.url(key),
            query: &query,
            headers: &[],
            start,
            expires_in,
        };
        let (credentials, region) = self.signer().await?;
        let url = presign.sign(&credentials, region)?;
        Ok(presigned(url, presign.headers, now + ttl))
    }

    async fn head(&self, key: &str) -> anyhow::Result<Option<StoredObject>> {
        let answer = self
            .send(S3Request {
                operation: "HeadObject",
                method: "HEAD",
                url: self.inner.address.url(key),
                headers: Vec::new(),
            })
            .await?;
        match answer.status {
            200 => Ok(Some(StoredObject {
                size: answer
                    .content_length
                    .context("HEAD without a content length")?,
                content_type: answer.content_type,
            })),
            404 => Ok(None),
            _ => Err(answer.error("HeadObject")),
        }
    }

    async fn copy(&self, from: &str, to: &str, content_type: &str) -> anyhow::Result<()> {
        let source = format!("{}/{}", self.inner.bucket, encode(from, true));
        let answer = self
            .send(S3Request {
                operation: "CopyObject",
                method: "PUT",
                url: self.inner.address.url(to),
                headers: vec![
                    ("x-amz-copy-source", source.as_str()),
                    ("x-amz-metadata-directive", "REPLACE"),
                    ("content-type", content_type),
                ],
            })
            .await?;
        // S3 may answer a copy that failed part-way with 200 and an error document.
        if answer.status != 200 || answer.error_code().is_some() {
            return Err(answer.error("CopyObject"));
        }
        Ok(())
    }

    async fn delete(&self, key: &str) -> anyhow::Result<()> {
        // S3 answers 204 for a missing key too.
        let answer = self
            .send(S3Request {
                operation: "DeleteObject",
                method: "DELETE",
                url: self.inner.address.url(key),
                headers: Vec::new(),
            })
            .await?;
        if !(200..300).contains(&answer.status) {
            return Err(answer.error("DeleteObject"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
