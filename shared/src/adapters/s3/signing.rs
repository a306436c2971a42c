//! SigV4 as S3 wants it, with the SDK's own signer (`aws-sigv4`): single percent-encoding and no
//! path normalisation (an S3 key is taken literally), the session token signed in, the payload
//! either `UNSIGNED-PAYLOAD` (a presigned URL: the client sends the bytes) or the empty body's
//! SHA-256 in `x-amz-content-sha256` (our own HEAD, copy and delete carry no body).

use anyhow::Context as _;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation,
    SigningSettings, UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use std::time::{Duration, SystemTime};

/// How a request carries its signature.
pub(super) enum Placement {
    /// In the query, valid this long: a URL handed to a client.
    Query { expires_in: Duration },
    /// In the `Authorization` header: a request sent now.
    Headers,
}

/// Signs `request` (method, URL and every header it will carry) at `time`, adding the signature
/// to its query or headers.
pub(super) fn sign_request<B>(
    request: &mut http::Request<B>,
    credentials: &Credentials,
    region: &str,
    time: SystemTime,
    placement: Placement,
) -> anyhow::Result<()> {
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    let body = match placement {
        Placement::Query { expires_in } => {
            settings.signature_location = SignatureLocation::QueryParams;
            settings.expires_in = Some(expires_in);
            SignableBody::UnsignedPayload
        }
        Placement::Headers => {
            settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
            SignableBody::Bytes(&[])
        }
    };
    let identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("s3")
        .time(time)
        .settings(settings)
        .build()
        .context("signing parameters")?
        .into();
    let uri = request.uri().to_string();
    let headers = request
        .headers()
        .iter()
        .map(|(name, value)| Ok((name.as_str(), value.to_str()?)))
        .collect::<Result<Vec<_>, http::header::ToStrError>>()
        .context("a header that is not text")?;
    let signable = SignableRequest::new(request.method().as_str(), &uri, headers.into_iter(), body)
        .context("a request SigV4 can sign")?;
    let (instructions, _signature) = sign(signable, &params)
        .context("signing with SigV4")?
        .into_parts();
    instructions.apply_to_request_http1x(request);
    Ok(())
}
