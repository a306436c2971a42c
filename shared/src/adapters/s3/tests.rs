//! The presigned URLs' shape: what is signed, for how long, for whom; AWS's own published
//! example reproduced to the signature; nothing secret in `Debug`. That S3 accepts and refuses
//! what it should is `local/tests/uploads_s3.rs`, against a signature-checking S3.
#![allow(clippy::unwrap_used)]

use super::*;
use aws_config::{BehaviorVersion, Region, SdkConfig};

const ACCESS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const SESSION_TOKEN: &str = "the-session-token";

fn lambda_like(session_token: Option<&str>) -> SdkConfig {
    let credentials = Credentials::new(
        ACCESS_KEY,
        SECRET_KEY,
        session_token.map(str::to_owned),
        None,
        "test",
    );
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .build()
}

fn at(rfc3339: &str) -> OffsetDateTime {
    OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339).unwrap()
}

fn query(url: &str, name: &str) -> Option<String> {
    let (_, query) = url.split_once('?')?;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
        .map(str::to_owned)
}

#[tokio::test]
async fn a_presigned_get_is_the_one_in_the_aws_documentation() {
    // "Authenticating Requests: Using Query Parameters (AWS Signature Version 4)", example:
    // GET examplebucket/test.txt, 24 hours from 2013-05-24T00:00:00Z, us-east-1.
    let aws = crate::adapters::aws::local_with_credentials(
        "https://s3.amazonaws.com",
        ACCESS_KEY,
        SECRET_KEY,
    );
    let files = S3Files::new(&aws, "examplebucket");
    let get = files
        .presign_get(
            "test.txt",
            &Serve::default(),
            at("2013-05-24T00:00:00Z"),
            Duration::hours(24),
        )
        .await
        .unwrap();
    assert!(
        get.url
            .starts_with("https://examplebucket.s3.amazonaws.com/test.txt?"),
        "{}",
        get.url
    );
    assert_eq!(
        query(&get.url, "X-Amz-Signature").as_deref(),
        Some("aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")
    );
    assert!(get.headers.is_empty());
}

#[tokio::test]
async fn a_presigned_put_signs_its_type_and_length_for_its_validity_only() {
    let files = S3Files::new(&lambda_like(Some(SESSION_TOKEN)), "uploads-bucket");
    let now = at("2026-12-03T10:00:00Z");
    let put = files
        .presign_put("uploads/u/1", "image/png", 1234, now, Duration::minutes(5))
        .await
        .unwrap();
    assert!(
        put.url
            .starts_with("https://uploads-bucket.s3.eu-west-1.amazonaws.com/uploads/u/1?"),
        "{}",
        put.url
    );
    let q = |name| query(&put.url, name);
    assert_eq!(q("X-Amz-Algorithm").as_deref(), Some("AWS4-HMAC-SHA256"));
    assert_eq!(
        q("X-Amz-Credential").as_deref(),
        Some("AKIAIOSFODNN7EXAMPLE%2F20261203%2Feu-west-1%2Fs3%2Faws4_request")
    );
    assert_eq!(q("X-Amz-Date").as_deref(), Some("20261203T100000Z"));
    assert_eq!(q("X-Amz-Expires").as_deref(), Some("300"));
    assert_eq!(
        q("X-Amz-SignedHeaders").as_deref(),
        Some("content-length%3Bcontent-type%3Bhost")
    );
    // The execution role's session token travels with (and under) the signature.
    assert_eq!(q("X-Amz-Security-Token").as_deref(), Some(SESSION_TOKEN));
    assert_eq!(q("X-Amz-Signature").map(|s| s.len()), Some(64));
    assert!(!put.url.contains(SECRET_KEY) && !put.url.contains("wJalr"));
    assert!(!put.url.to_ascii_lowercase().contains("checksum"));
    assert_eq!(
        put.headers,
        vec![
            ("content-type".to_owned(), "image/png".to_owned()),
            ("content-length".to_owned(), "1234".to_owned()),
        ]
    );
    assert_eq!(put.expires_at, now + Duration::minutes(5));
}

#[tokio::test]
async fn a_presigned_get_signs_how_it_must_be_served() {
    let files = S3Files::new(&lambda_like(None), "b");
    let serve = Serve {
        content_type: Some("image/png".into()),
        content_disposition: Some("attachment; filename=\"cat.png\"".into()),
    };
    let get = files
        .presign_get(
            "files/u/1",
            &serve,
            at("2026-12-03T10:00:00Z"),
            Duration::minutes(15),
        )
        .await
        .unwrap();
    assert_eq!(
        query(&get.url, "response-content-disposition").as_deref(),
        Some("attachment%3B%20filename%3D%22cat.png%22")
    );
    assert_eq!(
        query(&get.url, "response-content-type").as_deref(),
        Some("image%2Fpng")
    );
    assert_eq!(
        query(&get.url, "X-Amz-SignedHeaders").as_deref(),
        Some("host")
    );
    assert_eq!(query(&get.url, "X-Amz-Expires").as_deref(), Some("900"));
    assert_eq!(query(&get.url, "X-Amz-Security-Token"), None);
}

#[tokio::test]
async fn debug_shows_no_signature_credential_or_token() {
    let files = S3Files::new(&lambda_like(Some(SESSION_TOKEN)), "b");
    let put = files
        .presign_put(
            "k",
            "image/png",
            1,
            OffsetDateTime::now_utc(),
            Duration::minutes(5),
        )
        .await
        .unwrap();
    let shown = format!("{put:?}");
    for secret in [
        "X-Amz-Signature",
        "X-Amz-Credential",
        SESSION_TOKEN,
        ACCESS_KEY,
    ] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    assert!(
        shown.contains("https://b.s3.eu-west-1.amazonaws.com/k"),
        "{shown}"
    );
}

#[tokio::test]
async fn a_validity_of_zero_negative_or_over_seven_days_is_refused() {
    let files = S3Files::new(&lambda_like(None), "b");
    let now = OffsetDateTime::now_utc();
    for ttl in [Duration::ZERO, Duration::minutes(-1), Duration::days(8)] {
        assert!(
            files
                .presign_put("k", "image/png", 1, now, ttl)
                .await
                .is_err(),
            "{ttl}"
        );
    }
    assert!(
        files
            .presign_put("k", "image/png", 1, now, Duration::days(7))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn no_credentials_is_an_error_not_an_unsigned_url() {
    let config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .build();
    let files = S3Files::new(&config, "b");
    let error = files
        .presign_get(
            "k",
            &Serve::default(),
            OffsetDateTime::now_utc(),
            Duration::minutes(1),
        )
        .await
        .unwrap_err();
    assert!(error.to_string().contains("credentials"), "{error}");
}
