//! The real S3 adapter against the local server's signature-checking S3 (s3s + s3s-fs): a
//! presigned PUT stores exactly the declared bytes, and the storage itself refuses one byte more,
//! another content type, a missing type, a late PUT, a tampered signature and an unsigned request.
//! A download answers the type and `Content-Disposition` its URL signs and `nosniff`, never a
//! header a PUT added without signing it; a deleted object is gone.
#![allow(clippy::unwrap_used)]

use chatman::adapters::s3::S3Files;
use chatman::ports::{Files, Presigned, Serve};
use chatman_local::s3::{BUCKET, LocalS3};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use time::{Duration, OffsetDateTime};

/// A fresh local S3 (its files deleted when it is dropped) and the real adapter signing for it.
async fn storage() -> (Stopping, S3Files) {
    let dir =
        std::env::temp_dir().join(format!("chatman-s3-test-{}", uuid::Uuid::now_v7().simple()));
    let mut s3 = chatman_local::s3::start("127.0.0.1", 0, &dir, "http://localhost:5173")
        .await
        .unwrap();
    s3.ephemeral = true;
    let files = S3Files::path_style(&s3.sdk_config(), BUCKET);
    (Stopping(s3), files)
}

/// Stops the server (and deletes its data) at the end of a test.
struct Stopping(LocalS3);

impl Drop for Stopping {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// Sends `body` to `url` with exactly `headers`, like curl; the status and body that came back.
async fn send(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> (u16, Vec<u8>) {
    let client = Client::builder(TokioExecutor::new()).build_http();
    let mut req = hyper::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let res = client
        .request(req.body(Full::new(Bytes::copy_from_slice(body))).unwrap())
        .await
        .unwrap();
    let status = res.status().as_u16();
    (
        status,
        res.into_body().collect().await.unwrap().to_bytes().to_vec(),
    )
}

fn header<'a>(p: &'a Presigned, name: &str) -> &'a str {
    &p.headers.iter().find(|(k, _)| k == name).unwrap().1
}

fn with(headers: &[(String, String)], name: &str, value: &str) -> Vec<(String, String)> {
    let mut out: Vec<_> = headers.iter().filter(|(k, _)| k != name).cloned().collect();
    out.push((name.to_owned(), value.to_owned()));
    out
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n pretend this is a small picture";

async fn presign_png(files: &S3Files, key: &str, now: OffsetDateTime) -> Presigned {
    files
        .presign_put(
            key,
            "image/png",
            PNG.len() as u64,
            now,
            Duration::minutes(5),
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn a_presigned_put_stores_exactly_the_declared_bytes_and_a_presigned_get_returns_them() {
    let (_s3, files) = storage().await;
    let now = OffsetDateTime::now_utc();
    let put = presign_png(&files, "uploads/u/1", now).await;
    assert_eq!(header(&put, "content-type"), "image/png");
    assert_eq!(header(&put, "content-length"), PNG.len().to_string());
    assert!(
        put.url
            .contains("X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost"),
        "{}",
        put.url
    );
    assert!(!put.url.contains("checksum"), "{}", put.url);
    assert_eq!(put.expires_at, now + Duration::minutes(5));
    assert_eq!(files.head("uploads/u/1").await.unwrap(), None);

    let (status, body) = send("PUT", &put.url, &put.headers, PNG).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let stored = files.head("uploads/u/1").await.unwrap().unwrap();
    assert_eq!(stored.size, PNG.len() as u64);
    assert_eq!(stored.content_type.as_deref(), Some("image/png"));

    files
        .copy("uploads/u/1", "files/u/1", "image/png")
        .await
        .unwrap();
    let get = files
        .presign_get("files/u/1", &Serve::default(), now, Duration::minutes(15))
        .await
        .unwrap();
    let (status, body) = send("GET", &get.url, &get.headers, b"").await;
    assert_eq!(status, 200);
    assert_eq!(body, PNG);
}

#[tokio::test]
async fn the_storage_refuses_one_byte_more_or_less() {
    let (_s3, files) = storage().await;
    let put = presign_png(&files, "uploads/u/2", OffsetDateTime::now_utc()).await;
    let mut longer = PNG.to_vec();
    longer.push(b'!');
    let headers = with(&put.headers, "content-length", &longer.len().to_string());
    let (status, _) = send("PUT", &put.url, &headers, &longer).await;
    assert_eq!(status, 403);
    let shorter = &PNG[..PNG.len() - 1];
    let headers = with(&put.headers, "content-length", &shorter.len().to_string());
    let (status, _) = send("PUT", &put.url, &headers, shorter).await;
    assert_eq!(status, 403);
    assert_eq!(
        files.head("uploads/u/2").await.unwrap(),
        None,
        "nothing stored"
    );
}

#[tokio::test]
async fn the_storage_refuses_another_content_type_or_none() {
    let (_s3, files) = storage().await;
    let put = presign_png(&files, "uploads/u/3", OffsetDateTime::now_utc()).await;
    let html = with(&put.headers, "content-type", "text/html");
    assert_eq!(send("PUT", &put.url, &html, PNG).await.0, 403);
    let none: Vec<_> = put
        .headers
        .iter()
        .filter(|(k, _)| k != "content-type")
        .cloned()
        .collect();
    assert_eq!(send("PUT", &put.url, &none, PNG).await.0, 403);
    assert_eq!(
        files.head("uploads/u/3").await.unwrap(),
        None,
        "nothing stored"
    );
}

#[tokio::test]
async fn the_storage_refuses_a_late_put() {
    let (_s3, files) = storage().await;
    // Signed six minutes ago for five minutes: expired a minute ago.
    let put = presign_png(
        &files,
        "uploads/u/4",
        OffsetDateTime::now_utc() - Duration::minutes(6),
    )
    .await;
    let (status, body) = send("PUT", &put.url, &put.headers, PNG).await;
    assert_eq!(status, 403, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("expired"));
    assert_eq!(files.head("uploads/u/4").await.unwrap(), None);
}

#[tokio::test]
async fn the_storage_refuses_a_tampered_signature_key_or_expiry() {
    let (_s3, files) = storage().await;
    let put = presign_png(&files, "uploads/u/5", OffsetDateTime::now_utc()).await;
    let at = put.url.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let mut tampered = put.url.clone();
    let flipped = if &tampered[at..at + 1] == "0" {
        "1"
    } else {
        "0"
    };
    tampered.replace_range(at..at + 1, flipped);
    assert_eq!(send("PUT", &tampered, &put.headers, PNG).await.0, 403);
    let other_key = put.url.replace("uploads/u/5", "uploads/u/6");
    assert_eq!(send("PUT", &other_key, &put.headers, PNG).await.0, 403);
    let longer_life = put.url.replace("X-Amz-Expires=300", "X-Amz-Expires=86400");
    assert_ne!(longer_life, put.url);
    assert_eq!(send("PUT", &longer_life, &put.headers, PNG).await.0, 403);
    assert_eq!(files.head("uploads/u/5").await.unwrap(), None);
    assert_eq!(files.head("uploads/u/6").await.unwrap(), None);
}

#[tokio::test]
async fn unsigned_requests_are_refused() {
    let (s3, files) = storage().await;
    let put = presign_png(&files, "uploads/u/7", OffsetDateTime::now_utc()).await;
    assert_eq!(send("PUT", &put.url, &put.headers, PNG).await.0, 200);
    let bare = format!("{}/{BUCKET}/uploads/u/7", s3.0.endpoint());
    assert_eq!(send("GET", &bare, &[], b"").await.0, 403);
    let bare_put = vec![("content-type".to_owned(), "image/png".to_owned())];
    assert_eq!(
        send("PUT", &format!("{bare}x"), &bare_put, PNG).await.0,
        403
    );
}

#[tokio::test]
async fn a_web_app_may_put_and_get_from_its_origin() {
    let (_s3, files) = storage().await;
    let put = presign_png(&files, "uploads/u/8", OffsetDateTime::now_utc()).await;
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let preflight = hyper::Request::builder()
        .method("OPTIONS")
        .uri(&put.url)
        .header("origin", "http://localhost:5173")
        .header("access-control-request-method", "PUT")
        .header("access-control-request-headers", "content-type")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let res = client.request(preflight).await.unwrap();
    assert_eq!(res.status().as_u16(), 204);
    let allowed = |name: &str| {
        res.headers()
            .get(name)
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        allowed("access-control-allow-origin"),
        "http://localhost:5173"
    );
    assert!(allowed("access-control-allow-methods").contains("PUT"));
    assert!(allowed("access-control-allow-headers").contains("content-type"));
    assert_eq!(
        files.head("uploads/u/8").await.unwrap(),
        None,
        "a preflight stores nothing"
    );
}

/// Like `send`, with the answer's headers.
async fn send_seeing_headers(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> (u16, hyper::HeaderMap, Vec<u8>) {
    let client = Client::builder(TokioExecutor::new()).build_http();
    let mut req = hyper::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let res = client
        .request(req.body(Full::new(Bytes::copy_from_slice(body))).unwrap())
        .await
        .unwrap();
    let (status, answer) = (res.status().as_u16(), res.headers().clone());
    let body = res.into_body().collect().await.unwrap().to_bytes().to_vec();
    (status, answer, body)
}

fn value<'a>(headers: &'a hyper::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn a_download_answers_what_its_url_signs_never_what_a_put_added_unsigned() {
    let (_s3, files) = storage().await;
    let now = OffsetDateTime::now_utc();
    let put = presign_png(&files, "uploads/u/8", now).await;
    // The uploader adds headers the signature does not cover, hoping the storage keeps them.
    let sneaky = with(
        &with(
            &put.headers,
            "content-disposition",
            "inline; filename=\"page.html\"",
        ),
        "cache-control",
        "public, max-age=31536000",
    );
    let (status, _, _) = send_seeing_headers("PUT", &put.url, &sneaky, PNG).await;
    if status == 200 {
        // This S3, like AWS's, kept them on the pending object...
        let pending = files
            .presign_get("uploads/u/8", &Serve::default(), now, Duration::minutes(15))
            .await
            .unwrap();
        let (_, headers, _) = send_seeing_headers("GET", &pending.url, &[], b"").await;
        assert_eq!(
            value(&headers, "content-disposition"),
            Some("inline; filename=\"page.html\""),
            "the storage keeps unsigned headers: the copy must drop them"
        );
    } else {
        assert_eq!(status, 403, "refused, if not kept");
        assert_eq!(send("PUT", &put.url, &put.headers, PNG).await.0, 200);
    }
    // ...and attaching copies the bytes with the declared type alone.
    files
        .copy("uploads/u/8", "files/u/8", "image/png")
        .await
        .unwrap();
    let plain = files
        .presign_get("files/u/8", &Serve::default(), now, Duration::minutes(15))
        .await
        .unwrap();
    let (status, headers, body) = send_seeing_headers("GET", &plain.url, &[], b"").await;
    assert_eq!(status, 200);
    assert_eq!(body, PNG);
    assert_eq!(value(&headers, "content-disposition"), None, "not kept");
    assert_eq!(value(&headers, "cache-control"), None, "not kept");
    assert_eq!(value(&headers, "content-type"), Some("image/png"));

    // The URL the app hands out names the disposition and the type; the storage answers them.
    let serve = Serve {
        content_type: Some("image/png".into()),
        content_disposition: Some("attachment; filename=\"cat.png\"".into()),
    };
    let get = files
        .presign_get("files/u/8", &serve, now, Duration::minutes(15))
        .await
        .unwrap();
    let (status, headers, _) = send_seeing_headers("GET", &get.url, &[], b"").await;
    assert_eq!(status, 200);
    assert_eq!(
        value(&headers, "content-disposition"),
        Some("attachment; filename=\"cat.png\"")
    );
    assert_eq!(value(&headers, "content-type"), Some("image/png"));
    assert_eq!(value(&headers, "x-content-type-options"), Some("nosniff"));

    // The disposition is part of the signature: another one is refused.
    let forged = get.url.replace("attachment", "inline");
    assert_ne!(forged, get.url);
    let (status, _, _) = send_seeing_headers("GET", &forged, &[], b"").await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn a_deleted_object_is_gone_and_deleting_again_is_harmless() {
    let (_s3, files) = storage().await;
    let now = OffsetDateTime::now_utc();
    let put = presign_png(&files, "uploads/u/9", now).await;
    assert_eq!(send("PUT", &put.url, &put.headers, PNG).await.0, 200);
    files
        .copy("uploads/u/9", "files/u/9", "image/png")
        .await
        .unwrap();
    let get = files
        .presign_get("files/u/9", &Serve::default(), now, Duration::minutes(15))
        .await
        .unwrap();
    files.delete("files/u/9").await.unwrap();
    assert_eq!(files.head("files/u/9").await.unwrap(), None);
    assert_eq!(
        send("GET", &get.url, &[], b"").await.0,
        404,
        "a URL handed out before finds nothing"
    );
    files.delete("files/u/9").await.unwrap();
}
