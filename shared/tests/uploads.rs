//! POST /uploads and attaching avatars (PATCH /me `avatar_upload_id`), through the handlers the
//! Lambdas run, over the in-memory file storage (`MemoryFiles`; the real S3 adapter and the
//! signature checks run in `local/tests/uploads_*.rs`).
#![allow(clippy::unwrap_used)]

mod support;

use serde_json::{Value, json};
use support::{Account, TestApp};

const MIB: u64 = 1024 * 1024;

async fn ask(app: &TestApp, who: &Account, body: Value) -> support::Reply {
    app.call("POST", "/uploads", Some(body), Some(&who.access))
        .await
}

fn avatar(size: u64) -> Value {
    json!({"purpose": "avatar", "filename": "me.png", "content_type": "image/png", "size": size})
}

/// Asks for an upload and "PUTs" the declared bytes; its id.
async fn uploaded(app: &TestApp, who: &Account, body: Value) -> String {
    let reply = ask(app, who, body.clone()).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let id = reply.str("upload_id");
    app.files.put(
        &format!("uploads/{}/{id}", who.id),
        body["size"].as_u64().unwrap(),
        body["content_type"].as_str().unwrap(),
    );
    id
}

async fn set_avatar(app: &TestApp, who: &Account, id: Value) -> support::Reply {
    app.call(
        "PATCH",
        "/me",
        Some(json!({ "avatar_upload_id": id })),
        Some(&who.access),
    )
    .await
}

#[tokio::test]
async fn an_upload_answers_with_a_presigned_put_for_a_server_chosen_key() {
    let app = TestApp::new();
    let alice = app.register("alice").await;
    let reply = ask(
        &app,
        &alice,
        json!({"purpose": "message", "filename": "..passwd.pdf", "content_type": "Application/PDF", "size": 1234}),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let id = reply.str("upload_id");
    assert_eq!(reply.body["method"], "PUT");
    let url = reply.str("url");
    assert!(url.contains(&format!("uploads/{}/{id}", alice.id)), "{url}");
    assert!(
        !url.contains("passwd"),
        "the filename never reaches the key"
    );
    assert_eq!(
        reply.body["headers"],
        json!({"content-type": "application/pdf", "content-length": "1234"})
    );
    let expires = time::OffsetDateTime::parse(
        &reply.str("expires_at"),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(expires, app.clock_now() + time::Duration::minutes(5));
}

#[tokio::test]
async fn sizes_must_be_whole_positive_numbers_within_the_purpose_limit() {
    let app = TestApp::new();
    let alice = app.register("alice").await;
    for size in [
        json!(0),
        json!(-1),
        json!(1.5),
        json!("12"),
        json!(null),
        json!(1e300),
    ] {
        let body = json!({"purpose": "avatar", "filename": "a.png", "content_type": "image/png", "size": size});
        let reply = ask(&app, &alice, body).await;
        assert_eq!(reply.status, 400, "{size}: {}", reply.body);
        assert_eq!(reply.body["errors"][0]["field"], "size", "{size}");
    }
    assert_eq!(ask(&app, &alice, avatar(5 * MIB)).await.status, 201);
    let too_big = ask(&app, &alice, avatar(5 * MIB + 1)).await;
    assert_eq!((too_big.status, too_big.code()), (413, "file_too_large"));
    let message = |size: u64| json!({"purpose": "message", "filename": "v.mp4", "content_type": "video/mp4", "size": size});
    assert_eq!(ask(&app, &alice, message(25 * MIB)).await.status, 201);
    assert_eq!(ask(&app, &alice, message(25 * MIB + 1)).await.status, 413);
    assert_eq!(ask(&app, &alice, message(u64::MAX)).await.status, 413);
}

#[tokio::test]
async fn content_types_off_the_list_are_415_and_malformed_ones_400() {
    let app = TestApp::new();
    let alice = app.register("alice").await;
    let with_type = |purpose: &str, t: &str| json!({"purpose": purpose, "filename": "f", "content_type": t, "size": 10});
    for (purpose, t) in [
        ("avatar", "application/pdf"),
        ("avatar", "image/svg+xml"),
        ("room_avatar", "video/mp4"),
        ("message", "text/html"),
        ("message", "image/svg+xml"),
        ("message", "application/x-msdownload"),
    ] {
        let reply = ask(&app, &alice, with_type(purpose, t)).await;
        assert_eq!(
            (reply.status, reply.code()),
            (415, "unsupported_file_type"),
            "{purpose} {t}"
        );
    }
    for t in [
        "",
        "image",
        "image/",
        "image/png; charset=utf-8",
        "text/plain\r\nx-evil: 1",
        "a/b/c",
    ] {
        let reply = ask(&app, &alice, with_type("message", t)).await;
        assert_eq!(reply.status, 400, "{t:?}");
        assert_eq!(reply.body["errors"][0]["field"], "content_type");
    }
    for (purpose, t) in [
        ("message", "image/jpeg"),
        ("message", "audio/mpeg"),
        ("message", "text/plain"),
        ("message", "application/zip"),
        ("avatar", "image/webp"),
        ("room_avatar", "image/gif"),
    ] {
        assert_eq!(
            ask(&app, &alice, with_type(purpose, t)).await.status,
            201,
            "{purpose} {t}"
        );
    }
}

#[tokio::test]
async fn filenames_and_purposes_are_checked() {
    let app = TestApp::new();
    let alice = app.register("alice").await;
    let long = "x".repeat(10_000);
    for name in [
        "a/b.png",
        "a\\b.png",
        "..",
        ".",
        "a\u{7}.png",
        "line\nbreak.png",
        "",
        long.as_str(),
    ] {
        let body =
            json!({"purpose": "avatar", "filename": name, "content_type": "image/png", "size": 10});
        let reply = ask(&app, &alice, body).await;
        assert_eq!(reply.status, 400, "{name:?}");
        assert_eq!(reply.body["errors"][0]["field"], "filename");
    }
    let body = json!({"purpose": "wallpaper", "filename": "a.png", "content_type": "image/png", "size": 10});
    assert_eq!(
        ask(&app, &alice, body).await.body["errors"][0]["field"],
        "purpose"
    );
    let body = json!({"purpose": "avatar", "filename": "a.png", "content_type": "image/png", "size": 10, "key": "x"});
    assert_eq!(
        ask(&app, &alice, body).await.status,
        400,
        "unknown fields are refused"
    );
    let anonymous = app.call("POST", "/uploads", Some(avatar(10)), None).await;
    assert_eq!(anonymous.status, 401);
}

#[tokio::test]
async fn an_uploaded_avatar_shows_in_the_profile_search_and_public_profile() {
    let app = TestApp::new();
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let id = uploaded(&app, &alice, avatar(2048)).await;
    let me = set_avatar(&app, &alice, json!(id)).await;
    assert_eq!(me.status, 200, "{}", me.body);
    let url = me.str("avatar_url");
    let key = format!("files/{}/{id}", alice.id);
    assert!(url.contains(&key), "{url}");
    assert!(
        app.files.contains(&key),
        "the bytes were copied out of uploads/"
    );
    let public = app
        .call("GET", "/users/alice", None, Some(&bob.access))
        .await;
    assert!(public.str("avatar_url").contains(&key));
    let found = app
        .call("GET", "/users?q=al", None, Some(&bob.access))
        .await;
    assert!(
        found.body["items"][0]["avatar_url"]
            .as_str()
            .unwrap()
            .contains(&key)
    );
    assert!(
        app.call("GET", "/me", None, Some(&alice.access))
            .await
            .str("avatar_url")
            .contains(&key)
    );

    // Sending the same upload again (a retried PATCH) changes nothing; null clears.
    assert_eq!(set_avatar(&app, &alice, json!(id)).await.status, 200);
    let cleared = set_avatar(&app, &alice, json!(null)).await;
    assert_eq!(
        (cleared.status, cleared.body["avatar_url"].clone()),
        (200, json!(null))
    );
}

#[tokio::test]
async fn an_upload_never_put_or_not_as_declared_is_upload_missing() {
    let app = TestApp::new();
    let alice = app.register("alice").await;
    let never = ask(&app, &alice, avatar(100)).await.str("upload_id");
    let reply = set_avatar(&app, &alice, json!(never)).await;
    assert_eq!((reply.status, reply.code()), (400, "upload_missing"));

    let id = ask(&app, &alice, avatar(100)).await.str("upload_id");
    let key = format!("uploads/{}/{id}", alice.id);
    app.files.put(&key, 101, "image/png");
    assert_eq!(
        set_avatar(&app, &alice, json!(id)).await.code(),
        "upload_missing"
    );
    app.files.put(&key, 100, "image/gif");
    assert_eq!(
        set_avatar(&app, &alice, json!(id)).await.code(),
        "upload_missing"
    );
    app.files.put(&key, 100, "image/png");
    assert_eq!(set_avatar(&app, &alice, json!(id)).await.status, 200);
}

#[tokio::test]
async fn only_the_owner_attaches_and_only_for_the_purpose_it_was_asked_for() {
    let app = TestApp::new();
    let alice = app.register("alice").await;
    let mallory = app.register("mallory").await;
    let hers = uploaded(&app, &alice, avatar(100)).await;
    let stolen = set_avatar(&app, &mallory, json!(hers)).await;
    assert_eq!((stolen.status, stolen.code()), (404, "not_found"));
    assert_eq!(
        app.call("GET", "/me", None, Some(&mallory.access))
            .await
            .body["avatar_url"],
        json!(null)
    );

    let for_message = uploaded(
        &app,
        &alice,
        json!({"purpose": "message", "filename": "p.png", "content_type": "image/png", "size": 100}),
    )
    .await;
    let wrong = set_avatar(&app, &alice, json!(for_message)).await;
    assert_eq!(
        (wrong.status, wrong.code()),
        (400, "upload_purpose_mismatch")
    );
    let for_room = uploaded(
        &app,
        &alice,
        json!({"purpose": "room_avatar", "filename": "r.png", "content_type": "image/png", "size": 100}),
    )
    .await;
    assert_eq!(
        set_avatar(&app, &alice, json!(for_room)).await.code(),
        "upload_purpose_mismatch"
    );

    let unknown = set_avatar(&app, &alice, json!(uuid::Uuid::now_v7().to_string())).await;
    assert_eq!(unknown.status, 404);
    for bad in [
        json!("not-an-id"),
        json!(""),
        json!(42),
        json!("x".repeat(10_000)),
    ] {
        let reply = set_avatar(&app, &alice, bad.clone()).await;
        assert_eq!(reply.status, 400, "{bad}");
    }
    // Nothing of that changed the owner's profile.
    assert_eq!(
        app.call("GET", "/me", None, Some(&alice.access)).await.body["avatar_url"],
        json!(null)
    );
}

#[tokio::test]
async fn an_upload_is_attached_once() {
    let app = TestApp::new();
    let alice = app.register("alice").await;
    let first = uploaded(&app, &alice, avatar(100)).await;
    let second = uploaded(&app, &alice, avatar(100)).await;
    assert_eq!(set_avatar(&app, &alice, json!(first)).await.status, 200);
    assert_eq!(set_avatar(&app, &alice, json!(second)).await.status, 200);
    let again = set_avatar(&app, &alice, json!(first)).await;
    assert_eq!(
        (again.status, again.code()),
        (409, "upload_already_attached")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_parallel_attaches_of_one_upload_attach_it_once() {
    let app = std::sync::Arc::new(TestApp::new());
    let alice = app.register("alice").await;
    let id = uploaded(&app, &alice, avatar(100)).await;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (app, alice, id) = (app.clone(), alice.clone(), id.clone());
            tokio::spawn(async move {
                let r = set_avatar(&app, &alice, json!(id)).await;
                (r.status, r.code().to_owned())
            })
        })
        .collect();
    let mut replies = Vec::new();
    for task in tasks {
        replies.push(task.await.unwrap());
    }
    // Whoever lost the race either saw the upload already as the avatar (a retried PATCH: 200,
    // nothing changes) or lost the reservation (409); never a second attach or an error.
    assert!(
        replies
            .iter()
            .all(|r| r.0 == 200 || r.1 == "upload_already_attached"),
        "{replies:?}"
    );
    let me = app.call("GET", "/me", None, Some(&alice.access)).await;
    assert!(
        me.str("avatar_url")
            .contains(&format!("files/{}/{id}", alice.id))
    );
}

#[tokio::test]
async fn a_pending_upload_is_forgotten_after_a_day() {
    let app = TestApp::new();
    let alice = app.register("alice").await;
    let id = uploaded(&app, &alice, avatar(100)).await;
    app.advance(time::Duration::days(1));
    // A fresh login: the access token of registration has expired meanwhile.
    let tokens = app.login("alice", support::PASSWORD).await;
    let access = tokens.str("access_token");
    let reply = app
        .call(
            "PATCH",
            "/me",
            Some(json!({"avatar_upload_id": id})),
            Some(&access),
        )
        .await;
    assert_eq!(reply.status, 404);
}

/// The service rules messages will use: 1–10 distinct uploads of the sender's, purpose
/// `message`, all there; all reserved or none.
mod message_files {
    use chatman::adapters::{memory_files::MemoryFiles, memory_uploads::MemoryUploads};
    use chatman::domain::{UploadState, UserId};
    use chatman::ports::UploadStore;
    use chatman::services::uploads::UploadService;
    use serde_json::json;
    use std::sync::Arc;

    struct World {
        uploads: UploadService,
        store: Arc<MemoryUploads>,
        files: Arc<MemoryFiles>,
        now: time::OffsetDateTime,
    }

    fn world() -> World {
        let store = Arc::new(MemoryUploads::new());
        let files = Arc::new(MemoryFiles::new());
        World {
            uploads: UploadService::new(store.clone(), files.clone()),
            store,
            files,
            now: super::support::start_time(),
        }
    }

    impl World {
        async fn uploaded(&self, owner: &UserId, purpose: &str, put: bool) -> String {
            let (upload, _) = self
                .uploads
                .request(owner, purpose, "f.png", "image/png", &json!(10), self.now)
                .await
                .unwrap();
            if put {
                self.files.put(&upload.pending_key(), 10, "image/png");
            }
            upload.id.to_string()
        }

        async fn state(&self, id: &str) -> UploadState {
            let id = chatman::domain::UploadId::parse(id).unwrap();
            self.store.upload(&id).await.unwrap().unwrap().state
        }
    }

    #[tokio::test]
    async fn one_to_ten_distinct_uploads_and_never_eleven() {
        let w = world();
        let me = UserId::new();
        let mut ids = Vec::new();
        for _ in 0..11 {
            ids.push(w.uploaded(&me, "message", true).await);
        }
        let eleven = w.uploads.attach_message_files(&me, &ids, w.now).await;
        assert!(format!("{eleven:?}").contains("upload_ids"), "{eleven:?}");
        assert!(
            w.uploads
                .attach_message_files(&me, &[], w.now)
                .await
                .is_err()
        );
        let twice = vec![ids[0].clone(), ids[0].clone()];
        assert!(
            w.uploads
                .attach_message_files(&me, &twice, w.now)
                .await
                .is_err()
        );
        assert!(
            w.uploads
                .attach_message_files(&me, &["nope".into()], w.now)
                .await
                .is_err()
        );
        for id in &ids {
            assert_eq!(w.state(id).await, UploadState::Pending, "nothing reserved");
        }
        let ten = w
            .uploads
            .attach_message_files(&me, &ids[..10], w.now)
            .await
            .unwrap();
        assert_eq!(ten.len(), 10);
        assert!(ten.iter().all(|a| a.key.starts_with("files/")));
    }

    #[tokio::test]
    async fn one_bad_upload_gives_back_the_ones_already_reserved() {
        let w = world();
        let me = UserId::new();
        let good = w.uploaded(&me, "message", true).await;
        for bad in [
            w.uploaded(&me, "message", false).await,
            w.uploaded(&me, "avatar", true).await,
            w.uploaded(&UserId::new(), "message", true).await,
        ] {
            let refused = w
                .uploads
                .attach_message_files(&me, &[good.clone(), bad], w.now)
                .await;
            assert!(refused.is_err());
            assert_eq!(w.state(&good).await, UploadState::Pending);
        }
    }
}

/// 110 upload requests at once from one person: exactly 100 get a URL, the rest 429 with the
/// seconds to wait; on the memory store and on DynamoDB Local.
async fn a_person_gets_at_most_a_hundred_upload_urls_an_hour(
    store: std::sync::Arc<dyn chatman::ports::AccountStore>,
) {
    let app = std::sync::Arc::new(TestApp::with_store(store));
    let alice = app.register("alice").await;
    let tasks: Vec<_> = (0..110)
        .map(|_| {
            let (app, alice) = (app.clone(), alice.clone());
            tokio::spawn(async move { ask(&app, &alice, avatar(10)).await })
        })
        .collect();
    let mut replies = Vec::new();
    for task in tasks {
        replies.push(task.await.unwrap());
    }
    assert_eq!(replies.iter().filter(|r| r.status == 201).count(), 100);
    let limited: Vec<_> = replies.iter().filter(|r| r.status == 429).collect();
    assert_eq!(limited.len(), 10);
    assert!(
        limited
            .iter()
            .all(|r| r.code() == "rate_limited" && r.header("retry-after").is_some())
    );
    app.advance(time::Duration::hours(1));
    let tokens = app.login("alice", support::PASSWORD).await;
    let fresh = app
        .call(
            "POST",
            "/uploads",
            Some(avatar(10)),
            Some(&tokens.str("access_token")),
        )
        .await;
    assert_eq!(fresh.status, 201, "a new hour, a new allowance");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn upload_requests_are_limited_on_the_memory_store() {
    a_person_gets_at_most_a_hundred_upload_urls_an_hour(std::sync::Arc::new(
        chatman::adapters::memory::MemoryAccounts::new(),
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn upload_requests_are_limited_on_dynamodb_local() {
    a_person_gets_at_most_a_hundred_upload_urls_an_hour(support::dynamo_store().await).await;
}
