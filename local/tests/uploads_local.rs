//! Uploads end to end on the local server, as a person with curl does it: ask for an upload,
//! PUT the bytes with plain HTTP to the returned URL and headers (the in-process S3 checks the
//! signature), attach them as an avatar, see the avatar in the profile and download the same
//! bytes. On the memory store and on DynamoDB Local.
#![allow(clippy::unwrap_used)]

use chatman_local::{LocalConfig, Running, start};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";
const PICTURE: &[u8] = b"\x89PNG\r\n\x1a\n not really a picture, but the storage does not mind";

struct Http {
    base: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Http {
    /// Any request to any URL (the API or the storage), exactly these headers.
    async fn raw(
        &self,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> (u16, Vec<u8>) {
        let mut req = hyper::Request::builder().method(method).uri(url);
        for (k, v) in headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let res = self
            .client
            .request(req.body(Full::new(Bytes::copy_from_slice(body))).unwrap())
            .await
            .unwrap();
        let status = res.status().as_u16();
        (
            status,
            res.into_body().collect().await.unwrap().to_bytes().to_vec(),
        )
    }

    async fn api(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> (u16, Value) {
        let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
        if let Some(t) = token {
            headers.push(("authorization".to_owned(), format!("Bearer {t}")));
        }
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let (status, out) = self
            .raw(method, &format!("{}{path}", self.base), &headers, &bytes)
            .await;
        (
            status,
            if out.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&out).unwrap()
            },
        )
    }

    /// Signs up and verifies through the outbox; the access token.
    async fn register(&self, username: &str) -> String {
        let email = format!("{username}@example.com");
        let (status, started) = self
            .api(
                "POST",
                "/auth/signup",
                Some(json!({"username": username, "email": email, "password": PASSWORD})),
                None,
            )
            .await;
        assert_eq!(status, 202, "{started}");
        let (_, outbox) = self
            .api(
                "GET",
                &format!("/_local/outbox?to={username}%40example.com"),
                None,
                None,
            )
            .await;
        let code = outbox["items"][0]["subject"]
            .as_str()
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_owned();
        let (status, verified) = self
            .api(
                "POST",
                "/auth/signup/verify",
                Some(json!({"signup_id": started["signup_id"], "code": code})),
                None,
            )
            .await;
        assert_eq!(status, 201, "{verified}");
        verified["tokens"]["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// POST /uploads; the answer.
    async fn ask(&self, token: &str, purpose: &str, content_type: &str, size: usize) -> Value {
        let (status, body) = self
            .api("POST", "/uploads", Some(json!({"purpose": purpose, "filename": "me.png", "content_type": content_type, "size": size})), Some(token))
            .await;
        assert_eq!(status, 201, "{body}");
        body
    }

    /// PUTs `bytes` to an upload's URL with its headers, as returned.
    async fn put(&self, upload: &Value, headers: &[(String, String)], bytes: &[u8]) -> u16 {
        self.raw("PUT", upload["url"].as_str().unwrap(), headers, bytes)
            .await
            .0
    }

    async fn set_avatar(&self, token: &str, id: &Value) -> (u16, Value) {
        self.api(
            "PATCH",
            "/me",
            Some(json!({"avatar_upload_id": id})),
            Some(token),
        )
        .await
    }
}

fn headers_of(upload: &Value) -> Vec<(String, String)> {
    upload["headers"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect()
}

/// The URL with one character of its signature changed.
fn tampered(url: &str) -> String {
    let at = url.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let mut out = url.to_owned();
    let flipped = if &out[at..at + 1] == "0" { "1" } else { "0" };
    out.replace_range(at..at + 1, flipped);
    out
}

fn replaced(headers: &[(String, String)], name: &str, value: &str) -> Vec<(String, String)> {
    let mut out: Vec<_> = headers.iter().filter(|(k, _)| k != name).cloned().collect();
    out.push((name.to_owned(), value.to_owned()));
    out
}

async fn server(config: LocalConfig) -> (Running, Http) {
    let running = start(config).await.unwrap();
    let http = Http {
        base: running.http_url(),
        client: Client::builder(TokioExecutor::new()).build_http(),
    };
    (running, http)
}

fn dynamodb_config() -> LocalConfig {
    let endpoint = std::env::var("CHATMAN_TEST_DYNAMODB").expect(
        "CHATMAN_TEST_DYNAMODB: these tests also run on DynamoDB Local (scripts/test starts it)",
    );
    LocalConfig {
        dynamodb_endpoint: Some(endpoint),
        table: format!("local-uploads-{}", uuid::Uuid::now_v7().simple()),
        ..LocalConfig::embedded()
    }
}

async fn an_avatar_goes_up_with_curl_and_comes_back_byte_for_byte(config: LocalConfig) {
    let (running, http) = server(config).await;
    let alice = http.register("alice").await;
    let bob = http.register("bob").await;

    let upload = http.ask(&alice, "avatar", "image/png", PICTURE.len()).await;
    assert_eq!(upload["method"], "PUT");
    let url = upload["url"].as_str().unwrap();
    assert!(url.starts_with(&running.s3.endpoint()), "{url}");
    let headers = headers_of(&upload);
    assert_eq!(http.put(&upload, &headers, PICTURE).await, 200);

    let (status, me) = http.set_avatar(&alice, &upload["upload_id"]).await;
    assert_eq!(status, 200, "{me}");
    let avatar_url = me["avatar_url"].as_str().unwrap().to_owned();
    let (status, bytes) = http.raw("GET", &avatar_url, &[], b"").await;
    assert_eq!((status, bytes.as_slice()), (200, PICTURE));

    // Bob sees it on alice's public profile and in search, and it downloads for him too.
    let (_, profile) = http.api("GET", "/users/alice", None, Some(&bob)).await;
    let (status, bytes) = http
        .raw("GET", profile["avatar_url"].as_str().unwrap(), &[], b"")
        .await;
    assert_eq!((status, bytes.as_slice()), (200, PICTURE));
    let (_, found) = http.api("GET", "/users?q=ali", None, Some(&bob)).await;
    assert!(found["items"][0]["avatar_url"].as_str().is_some());
    let (_, mine) = http.api("GET", "/me", None, Some(&alice)).await;
    assert!(mine["avatar_url"].as_str().is_some());

    // A download URL with a changed signature is refused by the storage.
    assert_eq!(
        http.raw("GET", &tampered(&avatar_url), &[], b"").await.0,
        403
    );
    running.stop();
}

async fn the_storage_refuses_what_was_not_declared_and_attaching_follows_the_rules(
    config: LocalConfig,
) {
    let (running, http) = server(config).await;
    let alice = http.register("alice").await;
    let bob = http.register("bob").await;

    let upload = http.ask(&alice, "avatar", "image/png", PICTURE.len()).await;
    let headers = headers_of(&upload);
    let mut longer = PICTURE.to_vec();
    longer.push(0);
    let one_more = replaced(&headers, "content-length", &longer.len().to_string());
    assert_eq!(
        http.put(&upload, &one_more, &longer).await,
        403,
        "one byte more"
    );
    let gif = replaced(&headers, "content-type", "image/gif");
    assert_eq!(http.put(&upload, &gif, PICTURE).await, 403, "another type");
    let url = upload["url"].as_str().unwrap();
    assert_eq!(
        http.raw("PUT", &tampered(url), &headers, PICTURE).await.0,
        403,
        "a tampered signature"
    );

    // Nothing arrived yet: attaching is upload_missing.
    let (status, problem) = http.set_avatar(&alice, &upload["upload_id"]).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (400, Some("upload_missing"))
    );
    assert_eq!(http.put(&upload, &headers, PICTURE).await, 200);

    // Someone else's upload is not found for bob.
    let (status, _) = http.set_avatar(&bob, &upload["upload_id"]).await;
    assert_eq!(status, 404);
    // A message upload is no avatar.
    let for_message = http
        .ask(&alice, "message", "image/png", PICTURE.len())
        .await;
    assert_eq!(
        http.put(&for_message, &headers_of(&for_message), PICTURE)
            .await,
        200
    );
    let (status, problem) = http.set_avatar(&alice, &for_message["upload_id"]).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (400, Some("upload_purpose_mismatch"))
    );
    // Attached once: after another avatar replaced it, the first cannot come back.
    assert_eq!(http.set_avatar(&alice, &upload["upload_id"]).await.0, 200);
    let second = http.ask(&alice, "avatar", "image/png", PICTURE.len()).await;
    assert_eq!(http.put(&second, &headers_of(&second), PICTURE).await, 200);
    assert_eq!(http.set_avatar(&alice, &second["upload_id"]).await.0, 200);
    let (status, problem) = http.set_avatar(&alice, &upload["upload_id"]).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("upload_already_attached"))
    );
    running.stop();
}

#[tokio::test]
async fn an_avatar_round_trip_on_the_memory_store() {
    an_avatar_goes_up_with_curl_and_comes_back_byte_for_byte(LocalConfig::embedded()).await;
}

#[tokio::test]
async fn an_avatar_round_trip_on_dynamodb_local() {
    an_avatar_goes_up_with_curl_and_comes_back_byte_for_byte(dynamodb_config()).await;
}

#[tokio::test]
async fn storage_and_attach_rules_on_the_memory_store() {
    the_storage_refuses_what_was_not_declared_and_attaching_follows_the_rules(
        LocalConfig::embedded(),
    )
    .await;
}

#[tokio::test]
async fn storage_and_attach_rules_on_dynamodb_local() {
    the_storage_refuses_what_was_not_declared_and_attaching_follows_the_rules(dynamodb_config())
        .await;
}

/// Twenty PATCH /me at once, each with its own uploaded avatar: every upload either becomes the
/// avatar or is given back (the account write lost the race), and one avatar wins.
async fn racing_avatars_leave_one_winner_and_free_the_rest(config: LocalConfig) {
    let (running, http) = server(config).await;
    let http = std::sync::Arc::new(http);
    let alice = http.register("alice").await;
    let mut uploads = Vec::new();
    for _ in 0..20 {
        let upload = http.ask(&alice, "avatar", "image/png", PICTURE.len()).await;
        assert_eq!(http.put(&upload, &headers_of(&upload), PICTURE).await, 200);
        uploads.push(upload["upload_id"].clone());
    }
    let tasks: Vec<_> = uploads
        .iter()
        .map(|id| {
            let (http, alice, id) = (http.clone(), alice.clone(), id.clone());
            tokio::spawn(async move { http.set_avatar(&alice, &id).await })
        })
        .collect();
    let mut winners = Vec::new();
    for (task, id) in tasks.into_iter().zip(&uploads) {
        let (status, body) = task.await.unwrap();
        match status {
            200 => winners.push(id.clone()),
            409 => assert_eq!(body["code"], "conflict", "{body}"),
            _ => panic!("{status} {body}"),
        }
    }
    assert!(!winners.is_empty());
    // Every loser was released: each can still become the avatar now, one after another.
    for id in &uploads {
        if !winners.contains(id) {
            let (status, body) = http.set_avatar(&alice, id).await;
            assert_eq!(status, 200, "{body}");
        }
    }
    running.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_avatars_on_the_memory_store() {
    racing_avatars_leave_one_winner_and_free_the_rest(LocalConfig::embedded()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_avatars_on_dynamodb_local() {
    racing_avatars_leave_one_winner_and_free_the_rest(dynamodb_config()).await;
}
