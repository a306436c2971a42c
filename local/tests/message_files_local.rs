//! Files in chat end to end on the local server, as people with curl and a WebSocket client do
//! it: ask for an upload, PUT the exact bytes to the in-process S3 with the returned headers,
//! send them in a message over HTTP and over WebSocket, the other member gets the `message`
//! event with a download URL and downloads the same bytes; a non-member never gets a URL; a
//! room avatar shows in the chat list; a file that is no app image downloads as an attachment
//! under its name with `nosniff` (an unsigned header added to its PUT changes nothing) and is
//! gone once its message is deleted. On the memory store and on DynamoDB Local.
#![allow(clippy::unwrap_used)]

mod ws_support;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use ws_support::*;

const PHOTO: &[u8] = b"\x89PNG\r\n\x1a\n a holiday photo, as far as the storage can tell";

/// Plain HTTP to the storage: exactly these headers.
async fn raw(method: &str, url: &str, headers: &[(String, String)], body: &[u8]) -> (u16, Vec<u8>) {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
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

/// Asks for an upload of `purpose` and PUTs `PHOTO` with the returned URL and headers; its id.
async fn upload(local: &Local, who: &Person, purpose: &str) -> String {
    let (status, up) = local
        .send(
            "POST",
            "/uploads",
            Some(json!({"purpose": purpose, "filename": "holiday.png", "content_type": "image/png", "size": PHOTO.len()})),
            Some(&who.token),
        )
        .await;
    assert_eq!(status, 201, "{up}");
    let headers: Vec<(String, String)> = up["headers"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(
        raw("PUT", up["url"].as_str().unwrap(), &headers, PHOTO)
            .await
            .0,
        200
    );
    up["upload_id"].as_str().unwrap().to_owned()
}

async fn downloads_the_photo(url: &Value) {
    let (status, bytes) = raw("GET", url.as_str().unwrap(), &[], b"").await;
    assert_eq!((status, bytes.as_slice()), (200, PHOTO), "{url}");
}

/// The next `message` event on `socket` (other events skipped).
async fn next_message(socket: &mut Socket) -> Value {
    loop {
        let event = next_json(socket).await;
        if event["type"] == "message" {
            return event;
        }
    }
}

async fn a_photo_goes_through_the_chat_over_http_and_websocket(local: Local) {
    let (alice, bob, carol) = (
        local.person("alice").await,
        local.person("bob").await,
        local.person("carol").await,
    );
    let (status, room) = local
        .send(
            "POST",
            "/rooms",
            Some(json!({"kind": "group", "name": "Trip", "members": ["bob"]})),
            Some(&alice.token),
        )
        .await;
    assert_eq!(status, 201, "{room}");
    let room = room["id"].as_str().unwrap().to_owned();
    let mut bobs = local.connect(&bob).await;
    let mut carols = local.connect(&carol).await;
    let mut alices = local.connect(&alice).await;

    // Over HTTP.
    let first = upload(&local, &alice, "message").await;
    let (status, sent) = local
        .send(
            "POST",
            &format!("/rooms/{room}/messages"),
            Some(json!({"text": "look", "upload_ids": [first]})),
            Some(&alice.token),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    assert_eq!(sent["kind"], "files");
    downloads_the_photo(&sent["files"][0]["url"]).await;
    let event = next_message(&mut bobs).await;
    assert_eq!(event["message"]["files"][0]["upload_id"], first.as_str());
    assert_eq!(event["message"]["files"][0]["size"], PHOTO.len());
    downloads_the_photo(&event["message"]["files"][0]["url"]).await;
    next_message(&mut alices).await;

    // Over WebSocket.
    let second = upload(&local, &alice, "message").await;
    send_json(
        &mut alices,
        json!({"action": "send", "room_id": room, "upload_ids": [second], "client_id": "w-1"}),
    )
    .await;
    let event = next_message(&mut bobs).await;
    assert_eq!(event["message"]["client_id"], "w-1");
    assert_eq!(event["message"]["text"], "");
    assert_eq!(event["message"]["files"][0]["filename"], "holiday.png");
    downloads_the_photo(&event["message"]["files"][0]["url"]).await;
    next_message(&mut alices).await;

    // The same upload again is refused to the sender alone; nobody else hears of it.
    send_json(
        &mut alices,
        json!({"action": "send", "room_id": room, "upload_ids": [second], "client_id": "w-2"}),
    )
    .await;
    let refused = next_json(&mut alices).await;
    assert_eq!(
        (refused["type"].as_str(), refused["code"].as_str()),
        (Some("error"), Some("upload_already_attached")),
        "{refused}"
    );
    silent_for(&mut bobs, 300).await;

    // Bob's history downloads both; Carol, not a member, gets 404 and never a URL or an event.
    let (_, history) = local
        .send(
            "GET",
            &format!("/rooms/{room}/messages"),
            None,
            Some(&bob.token),
        )
        .await;
    for item in history["items"].as_array().unwrap() {
        downloads_the_photo(&item["files"][0]["url"]).await;
    }
    let (status, hidden) = local
        .send(
            "GET",
            &format!("/rooms/{room}/messages"),
            None,
            Some(&carol.token),
        )
        .await;
    assert_eq!(status, 404);
    assert!(!hidden.to_string().contains(&local.running.s3.endpoint()));
    send_json(&mut carols, json!({"action": "send", "room_id": room, "upload_ids": [upload(&local, &carol, "message").await]})).await;
    let refused = next_json(&mut carols).await;
    assert_eq!(refused["code"], "not_found", "{refused}");
    silent_for(&mut carols, 300).await;
    silent_for(&mut bobs, 100).await;

    // A room avatar: set by the owner, in everyone's chat list, downloadable.
    let pic = upload(&local, &alice, "room_avatar").await;
    let (status, patched) = local
        .send(
            "PATCH",
            &format!("/rooms/{room}"),
            Some(json!({"avatar_upload_id": pic})),
            Some(&alice.token),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    let (_, list) = local.send("GET", "/rooms", None, Some(&bob.token)).await;
    let entry = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == room.as_str())
        .unwrap()
        .clone();
    downloads_the_photo(&entry["avatar_url"]).await;
    downloads_the_photo(&entry["last_message"]["files"][0]["url"]).await;
    local.running.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_in_the_chat_on_the_memory_store() {
    a_photo_goes_through_the_chat_over_http_and_websocket(local().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_in_the_chat_on_dynamodb_local() {
    a_photo_goes_through_the_chat_over_http_and_websocket(local_on_dynamodb().await).await;
}

/// Like `raw`, with the answer's headers.
async fn raw_with_headers(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> (u16, hyper::HeaderMap) {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let mut req = hyper::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let res = client
        .request(req.body(Full::new(Bytes::copy_from_slice(body))).unwrap())
        .await
        .unwrap();
    (res.status().as_u16(), res.headers().clone())
}

const PAGE: &[u8] = b"<script>alert(document.domain)</script>";

/// A text file named like a web page, PUT with an extra unsigned `Content-Disposition: inline`:
/// the other member's download is an attachment under its name, `text/plain`, `nosniff`, never
/// the uploader's header; once the message is deleted its URL finds nothing.
async fn a_file_downloads_as_an_attachment_and_goes_with_its_message(local: Local) {
    let (alice, bob) = (local.person("alice").await, local.person("bob").await);
    let (status, room) = local
        .send(
            "POST",
            "/rooms",
            Some(json!({"kind": "group", "name": "Docs", "members": ["bob"]})),
            Some(&alice.token),
        )
        .await;
    assert_eq!(status, 201, "{room}");
    let room = room["id"].as_str().unwrap().to_owned();
    let (status, up) = local
        .send(
            "POST",
            "/uploads",
            Some(json!({"purpose": "message", "filename": "page.html", "content_type": "text/plain", "size": PAGE.len()})),
            Some(&alice.token),
        )
        .await;
    assert_eq!(status, 201, "{up}");
    let mut headers: Vec<(String, String)> = up["headers"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    headers.push(("content-disposition".into(), "inline".into()));
    let (put, _) = raw_with_headers("PUT", up["url"].as_str().unwrap(), &headers, PAGE).await;
    assert_eq!(put, 200, "the storage took the bytes");
    let (status, sent) = local
        .send(
            "POST",
            &format!("/rooms/{room}/messages"),
            Some(json!({"upload_ids": [up["upload_id"]]})),
            Some(&alice.token),
        )
        .await;
    assert_eq!(status, 201, "{sent}");

    let (status, history) = local
        .send(
            "GET",
            &format!("/rooms/{room}/messages"),
            None,
            Some(&bob.token),
        )
        .await;
    assert_eq!(status, 200, "{history}");
    let url = history["items"][0]["files"][0]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, answer) = raw_with_headers("GET", &url, &[], b"").await;
    assert_eq!(status, 200);
    let header = |name: &str| {
        answer
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(
        header("content-disposition").as_deref(),
        Some("attachment; filename=\"page.html\"; filename*=UTF-8''page.html")
    );
    assert_eq!(header("content-type").as_deref(), Some("text/plain"));
    assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"));

    let message = sent["id"].as_str().unwrap();
    let (status, _) = local
        .send(
            "DELETE",
            &format!("/rooms/{room}/messages/{message}"),
            None,
            Some(&alice.token),
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(
        raw("GET", &url, &[], b"").await.0,
        404,
        "the bytes went with the message"
    );
    local.running.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_is_an_attachment_and_goes_with_its_message_on_the_memory_store() {
    a_file_downloads_as_an_attachment_and_goes_with_its_message(local().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_is_an_attachment_and_goes_with_its_message_on_dynamodb_local() {
    a_file_downloads_as_an_attachment_and_goes_with_its_message(local_on_dynamodb().await).await;
}
