//! The three requests the adapter itself sends (HEAD, CopyObject, DeleteObject): signed in the
//! `Authorization` header and sent over the SDK's own HTTPS connector, retried a few times on
//! what S3 documents as transient (5xx, throttling, a lost connection). An error names the
//! operation, the status and S3's error code; never the signature or the credentials.

use super::signing::{Placement, sign_request};
use anyhow::Context as _;
use aws_credential_types::Credentials;
use aws_smithy_runtime_api::client::http::HttpConnector;
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_types::body::SdkBody;
use http_body_util::BodyExt as _;
use std::time::{Duration, SystemTime};

/// Attempts per request (the SDK's standard retry mode also makes three).
const ATTEMPTS: u32 = 3;
/// Wait before the second attempt; doubled before the third.
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
/// S3's error answers are a few hundred bytes; anything longer is not read further.
const ERROR_BODY_LIMIT: usize = 16 * 1024;

/// A request to send: its operation's name (for errors), method, URL and headers to sign.
pub(super) struct S3Request<'a> {
    pub operation: &'static str,
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(&'static str, &'a str)>,
}

/// What came back.
pub(super) struct Answer {
    pub status: u16,
    pub content_length: Option<u64>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl Answer {
    /// S3's `<Code>` in an error document, if there is one.
    pub(super) fn error_code(&self) -> Option<&str> {
        let text = std::str::from_utf8(&self.body).ok()?;
        let start = text.find("<Code>")? + "<Code>".len();
        let end = start + text[start..].find("</Code>")?;
        Some(&text[start..end])
    }

    /// `operation: status code` for a refused request.
    pub(super) fn error(&self, operation: &str) -> anyhow::Error {
        anyhow::anyhow!(
            "S3 {operation}: {} {}",
            self.status,
            self.error_code().unwrap_or("(no error code)")
        )
    }
}

fn transient(status: u16) -> bool {
    matches!(status, 500 | 502 | 503 | 504)
}

impl S3Request<'_> {
    /// Sends the request, signing each attempt afresh; the last answer or error.
    pub(super) async fn send(
        &self,
        connector: &dyn HttpConnector,
        credentials: &Credentials,
        region: &str,
    ) -> anyhow::Result<Answer> {
        let mut backoff = FIRST_BACKOFF;
        for attempt in 1..=ATTEMPTS {
            let last = attempt == ATTEMPTS;
            match self.attempt(connector, credentials, region).await {
                Ok(answer) if last || !transient(answer.status) => return Ok(answer),
                Err(e) if last => return Err(e),
                _ => {
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                }
            }
        }
        unreachable!("the last attempt returns")
    }

    async fn attempt(
        &self,
        connector: &dyn HttpConnector,
        credentials: &Credentials,
        region: &str,
    ) -> anyhow::Result<Answer> {
        let operation = self.operation;
        let mut request = http::Request::builder().method(self.method).uri(&self.url);
        for (name, value) in &self.headers {
            request = request.header(*name, *value);
        }
        let mut request = request
            .body(SdkBody::empty())
            .with_context(|| format!("S3 {operation}: a request"))?;
        sign_request(
            &mut request,
            credentials,
            region,
            SystemTime::now(),
            Placement::Headers,
        )?;
        let request =
            HttpRequest::try_from(request).with_context(|| format!("S3 {operation}: a request"))?;
        // The connector's error says what failed on the wire (connect, timeout, I/O); the
        // request and its signature are not part of it.
        let response = connector
            .call(request)
            .await
            .map_err(|e| anyhow::anyhow!("S3 {operation}: {e}"))?;
        let header = |name: &str| response.headers().get(name).map(str::to_owned);
        let status = response.status().as_u16();
        let content_length = header("content-length").and_then(|n| n.parse().ok());
        let content_type = header("content-type");
        let body = read_limited(response.into_body())
            .await
            .with_context(|| format!("S3 {operation}: reading the answer"))?;
        Ok(Answer {
            status,
            content_length,
            content_type,
            body,
        })
    }
}

/// The body, up to `ERROR_BODY_LIMIT` bytes (our requests' answers are empty or small XML).
async fn read_limited(mut body: SdkBody) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| anyhow::anyhow!("{e}"))?;
        if let Some(data) = frame.data_ref() {
            out.extend_from_slice(data);
            if out.len() >= ERROR_BODY_LIMIT {
                out.truncate(ERROR_BODY_LIMIT);
                break;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_names_the_operation_status_and_code_only() {
        let answer = Answer {
            status: 403,
            content_length: None,
            content_type: None,
            body: b"<?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code>\
                <StringToSign>AWS4-HMAC-SHA256...</StringToSign></Error>"
                .to_vec(),
        };
        let message = answer.error("CopyObject").to_string();
        assert_eq!(message, "S3 CopyObject: 403 SignatureDoesNotMatch");
    }

    #[test]
    fn only_server_errors_are_retried() {
        assert!(transient(503) && transient(500));
        assert!(!transient(404) && !transient(403) && !transient(200));
    }
}
