//! The chat as a new user tries it with curl on the local server, over real HTTP, on the
//! in-memory store and on DynamoDB Local: two people open a direct room and exchange messages, a
//! third is added to a group and promoted, the group's posting is set to admins, a message is
//! deleted, and reads move the unread counts of the chat list.

use chatman_local::{LocalConfig, start};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

struct Http {
    base: String,
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
}

impl Http {
    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> (u16, Value) {
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        let bytes = body.map(|b| b.to_string()).unwrap_or_default();
        let req = req
            .body(Full::new(Bytes::from(bytes)))
            .expect("a valid request");
        let res = self.client.request(req).await.expect("the server answers");
        let status = res.status().as_u16();
        let bytes = res
            .into_body()
            .collect()
            .await
            .expect("a whole body")
            .to_bytes();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("JSON")
        };
        (status, value)
    }

    /// Signs up through the outbox and returns the access token.
    async fn person(&self, name: &str) -> String {
        let email = format!("{name}@example.com");
        let (status, started) = self
            .call("POST", "/auth/signup", Some(json!({"username": name, "email": email, "password": "correct horse battery staple"})), None)
            .await;
        assert_eq!(status, 202, "{started}");
        let (_, outbox) = self
            .call("GET", &format!("/_local/outbox?to={email}"), None, None)
            .await;
        let code = outbox["items"][0]["subject"]
            .as_str()
            .expect("a mail")
            .split_whitespace()
            .next()
            .expect("code")
            .to_owned();
        let (status, verified) = self
            .call(
                "POST",
                "/auth/signup/verify",
                Some(json!({"signup_id": started["signup_id"], "code": code})),
                None,
            )
            .await;
        assert_eq!(status, 201, "{verified}");
        verified["tokens"]["access_token"]
            .as_str()
            .expect("token")
            .to_owned()
    }

    /// `token`'s chat list as `(room id, unread count)`, most recently active first.
    async fn unread(&self, token: &str) -> Vec<(String, u64)> {
        let (status, list) = self.call("GET", "/rooms", None, Some(token)).await;
        assert_eq!(status, 200, "{list}");
        list["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|s| {
                (
                    s["id"].as_str().expect("id").to_owned(),
                    s["unread_count"].as_u64().expect("count"),
                )
            })
            .collect()
    }
}

async fn journey(config: LocalConfig) {
    let running = start(config).await.expect("the local server starts");
    let http = Http {
        base: running.http_url(),
        client: Client::builder(TokioExecutor::new()).build_http(),
    };
    let (alice, bob, carol) = (
        http.person("alice").await,
        http.person("bob").await,
        http.person("carol").await,
    );

    // Alice and Bob open their direct room and talk.
    let (status, direct) = http
        .call(
            "POST",
            "/rooms",
            Some(json!({"kind": "direct", "username": "bob"})),
            Some(&alice),
        )
        .await;
    assert_eq!(status, 201, "{direct}");
    let dm = direct["id"].as_str().expect("id").to_owned();
    let (status, again) = http
        .call(
            "POST",
            "/rooms",
            Some(json!({"kind": "direct", "username": "alice"})),
            Some(&bob),
        )
        .await;
    assert_eq!((status, again["id"].as_str()), (200, Some(dm.as_str())));
    let say = |token: &str, room: &str, text: &str| {
        let (token, path, body) = (
            token.to_owned(),
            format!("/rooms/{room}/messages"),
            json!({"text": text}),
        );
        let http = &http;
        async move { http.call("POST", &path, Some(body), Some(&token)).await }
    };
    let (status, hi) = say(&alice, &dm, "hi Bob").await;
    assert_eq!(status, 201, "{hi}");
    let (_, reply) = say(&bob, &dm, "hi Alice").await;
    assert_eq!(http.unread(&alice).await, vec![(dm.clone(), 1)]);
    // Replying marks what came before as read.
    assert_eq!(http.unread(&bob).await, vec![(dm.clone(), 0)]);
    let (status, _) = http
        .call(
            "POST",
            &format!("/rooms/{dm}/read"),
            Some(json!({"message_id": reply["id"]})),
            Some(&alice),
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(http.unread(&alice).await, vec![(dm.clone(), 0)]);

    // A group: Carol is added, promoted, and posting is set to admins.
    let (status, group) = http
        .call(
            "POST",
            "/rooms",
            Some(json!({"kind": "group", "name": "Climbing", "members": ["bob"]})),
            Some(&alice),
        )
        .await;
    assert_eq!(status, 201, "{group}");
    let g = group["id"].as_str().expect("id").to_owned();
    let (status, added) = http
        .call(
            "POST",
            &format!("/rooms/{g}/members"),
            Some(json!({"usernames": ["carol"]})),
            Some(&alice),
        )
        .await;
    assert_eq!(
        (status, added["members"].as_array().map(Vec::len)),
        (200, Some(3))
    );
    let (status, _) = http
        .call(
            "PATCH",
            &format!("/rooms/{g}/members/carol"),
            Some(json!({"role": "admin"})),
            Some(&alice),
        )
        .await;
    assert_eq!(status, 200);
    let (status, room) = http
        .call(
            "PATCH",
            &format!("/rooms/{g}"),
            Some(json!({"posting": "admins"})),
            Some(&carol),
        )
        .await;
    assert_eq!((status, room["posting"].as_str()), (200, Some("admins")));
    let (status, refused) = say(&bob, &g, "can I?").await;
    assert_eq!((status, refused["code"].as_str()), (403, Some("forbidden")));
    let (_, news) = say(&carol, &g, "Saturday 10:00").await;
    let (_, oops) = say(&carol, &g, "wrong room, sorry").await;
    assert_eq!(
        http.unread(&bob).await,
        vec![(g.clone(), 2), (dm.clone(), 0)],
        "most recent first"
    );

    // A message is deleted: gone from history, the list and the count.
    let (status, _) = http
        .call(
            "DELETE",
            &format!("/rooms/{g}/messages/{}", oops["id"].as_str().expect("id")),
            None,
            Some(&alice),
        )
        .await;
    assert_eq!(status, 204);
    let (_, history) = http
        .call("GET", &format!("/rooms/{g}/messages"), None, Some(&bob))
        .await;
    assert_eq!(history["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(history["items"][0]["id"], news["id"]);
    assert_eq!(
        http.unread(&bob).await,
        vec![(g.clone(), 1), (dm.clone(), 0)]
    );
    let (_, list) = http.call("GET", "/rooms", None, Some(&bob)).await;
    assert_eq!(list["items"][0]["last_message"]["text"], "Saturday 10:00");

    // Bob reads the group (and an old message of the direct room, which changes nothing).
    for (room, id) in [(&g, &news["id"]), (&dm, &hi["id"])] {
        let (status, _) = http
            .call(
                "POST",
                &format!("/rooms/{room}/read"),
                Some(json!({"message_id": id})),
                Some(&bob),
            )
            .await;
        assert_eq!(status, 204);
    }
    assert_eq!(
        http.unread(&bob).await,
        vec![(g.clone(), 0), (dm.clone(), 0)]
    );

    // A stranger sees nothing.
    let (status, _) = http
        .call("GET", &format!("/rooms/{dm}"), None, Some(&carol))
        .await;
    assert_eq!(status, 404);
    running.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chat_journey_works_in_memory() {
    journey(LocalConfig::embedded()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chat_journey_works_on_dynamodb_local() {
    let endpoint = std::env::var("CHATMAN_TEST_DYNAMODB").unwrap_or_else(|_| {
        panic!(
            "CHATMAN_TEST_DYNAMODB is not set: run scripts/test, or start DynamoDB Local and set it"
        )
    });
    let config = LocalConfig {
        dynamodb_endpoint: Some(endpoint),
        // A fresh table per run, so runs never see each other's data.
        table: format!(
            "journey-{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        ),
        ..LocalConfig::embedded()
    };
    journey(config).await;
}
