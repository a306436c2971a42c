//! Presigned URLs: a PUT that S3 accepts only with the signed `Content-Type` and
//! `Content-Length`, and a GET whose `response-content-type` / `response-content-disposition`
//! are part of the signature. Pure computation: nothing is sent.

use super::address::encode;
use super::signing::{Placement, sign_request};
use anyhow::Context as _;
use aws_credential_types::Credentials;
use std::time::{Duration, SystemTime};

/// S3 refuses presigned URLs valid longer than seven days.
const LONGEST: Duration = Duration::from_secs(7 * 24 * 3600);

/// Everything one presigned URL is made of.
pub(super) struct Presign<'a> {
    pub method: &'static str,
    /// The object's URL (`Address::url`).
    pub url: String,
    /// Query parameters besides the signature's own (already part of what is signed).
    pub query: &'a [(&'static str, &'a str)],
    /// Headers the client must send as they are, signed alongside `host`.
    pub headers: &'a [(&'static str, String)],
    pub start: SystemTime,
    pub expires_in: Duration,
}

impl Presign<'_> {
    /// The URL with the signature in its query.
    pub(super) fn sign(&self, credentials: &Credentials, region: &str) -> anyhow::Result<String> {
        anyhow::ensure!(
            !self.expires_in.is_zero() && self.expires_in <= LONGEST,
            "a presigned URL lives between a second and seven days"
        );
        let mut url = self.url.clone();
        for (i, (name, value)) in self.query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(&format!("{name}={}", encode(value, false)));
        }
        let mut request = http::Request::builder().method(self.method).uri(&url);
        for (name, value) in self.headers {
            request = request.header(*name, value.as_str());
        }
        let mut request = request.body(()).context("a presignable request")?;
        sign_request(
            &mut request,
            credentials,
            region,
            self.start,
            Placement::Query {
                expires_in: self.expires_in,
            },
        )?;
        Ok(request.uri().to_string())
    }
}
