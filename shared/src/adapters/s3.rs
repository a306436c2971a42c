//! `Files` on Amazon S3 (and on any S3 that checks SigV4, such as the local server's s3s-fs).
//!
//! The client is built once per cold start from the shared lean configuration (`adapters::aws`).
//! Presigned PUTs carry `Content-Type` and `Content-Length` as signed headers, so the storage
//! itself refuses any other type or length; the payload stays `UNSIGNED-PAYLOAD` since the bytes
//! come from the client. The SDK's default request checksums are off: a presigned URL would
//! otherwise sign a checksum of an empty body that no real upload matches.
//!
//! S3 stores some headers a PUT sends even when the signature does not cover them
//! (`Content-Disposition`, `Content-Encoding`, `Cache-Control`...). Two things keep those from
//! reaching a reader: the copy to `files/` replaces the metadata (`MetadataDirective: REPLACE`,
//! only the declared type), and every presigned GET names its own `response-content-type` and
//! `response-content-disposition`, which S3 answers instead of anything stored.

use crate::ports::{Files, Presigned, Serve, StoredObject};
use anyhow::{Context as _, anyhow};
use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::{RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::presigning::{PresignedRequest, PresigningConfig};
use std::time::SystemTime;
use time::{Duration, OffsetDateTime};

#[derive(Clone)]
pub struct S3Files {
    client: Client,
    bucket: String,
}

impl S3Files {
    /// Virtual-hosted URLs (`https://{bucket}.s3.{region}.amazonaws.com/...`) on AWS.
    pub fn new(config: &aws_config::SdkConfig, bucket: impl Into<String>) -> Self {
        Self::build(config, bucket, false)
    }

    /// Path-style URLs (`http://host:port/{bucket}/...`), for a local S3 endpoint.
    pub fn path_style(config: &aws_config::SdkConfig, bucket: impl Into<String>) -> Self {
        Self::build(config, bucket, true)
    }

    fn build(config: &aws_config::SdkConfig, bucket: impl Into<String>, path_style: bool) -> Self {
        let s3 = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(path_style)
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
            .build();
        Self {
            client: Client::from_conf(s3),
            bucket: bucket.into(),
        }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }
}

fn presigning(now: OffsetDateTime, ttl: Duration) -> anyhow::Result<PresigningConfig> {
    PresigningConfig::builder()
        .start_time(SystemTime::from(now))
        .expires_in(ttl.try_into().context("a positive validity")?)
        .build()
        .context("presigning configuration")
}

fn presigned(request: PresignedRequest, expires_at: OffsetDateTime) -> Presigned {
    Presigned {
        url: request.uri().to_owned(),
        headers: request
            .headers()
            .filter(|(name, _)| !name.eq_ignore_ascii_case("host"))
            .map(|(name, value)| (name.to_ascii_lowercase(), value.to_owned()))
            .collect(),
        expires_at,
    }
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
        let length = i64::try_from(size).context("size")?;
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(length)
            .presigned(presigning(now, ttl)?)
            .await
            .map_err(|e| {
                anyhow!(
                    "presigning a PUT: {}",
                    aws_sdk_s3::error::DisplayErrorContext(&e)
                )
            })?;
        Ok(presigned(request, now + ttl))
    }

    async fn presign_get(
        &self,
        key: &str,
        serve: &Serve,
        now: OffsetDateTime,
        ttl: Duration,
    ) -> anyhow::Result<Presigned> {
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .set_response_content_type(serve.content_type.clone())
            .set_response_content_disposition(serve.content_disposition.clone())
            .presigned(presigning(now, ttl)?)
            .await
            .map_err(|e| {
                anyhow!(
                    "presigning a GET: {}",
                    aws_sdk_s3::error::DisplayErrorContext(&e)
                )
            })?;
        Ok(presigned(request, now + ttl))
    }

    async fn head(&self, key: &str) -> anyhow::Result<Option<StoredObject>> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => Ok(Some(StoredObject {
                size: out
                    .content_length()
                    .and_then(|n| u64::try_from(n).ok())
                    .context("HEAD without a content length")?,
                content_type: out.content_type().map(str::to_owned),
            })),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) => Err(anyhow!(
                "S3 HeadObject: {}",
                aws_sdk_s3::error::DisplayErrorContext(&e)
            )),
        }
    }

    async fn copy(&self, from: &str, to: &str, content_type: &str) -> anyhow::Result<()> {
        self.client
            .copy_object()
            .bucket(&self.bucket)
            .copy_source(format!("{}/{from}", self.bucket))
            .key(to)
            .metadata_directive(aws_sdk_s3::types::MetadataDirective::Replace)
            .content_type(content_type)
            .send()
            .await
            .map_err(|e| {
                anyhow!(
                    "S3 CopyObject: {}",
                    aws_sdk_s3::error::DisplayErrorContext(&e)
                )
            })?;
        Ok(())
    }

    async fn delete(&self, key: &str) -> anyhow::Result<()> {
        // S3 answers 204 for a missing key too.
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| {
                anyhow!(
                    "S3 DeleteObject: {}",
                    aws_sdk_s3::error::DisplayErrorContext(&e)
                )
            })?;
        Ok(())
    }
}
