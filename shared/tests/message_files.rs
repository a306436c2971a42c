//! Files on messages (`upload_ids`) and room avatars (`avatar_upload_id`) through the handlers
//! the Lambdas run, on the memory stores and on DynamoDB Local (accounts, chat and upload
//! records in one table). The object storage is `MemoryFiles`: a test "PUTs" bytes with
//! `files.put`; the real S3 adapter and the downloads run in `local/tests/message_files_local.rs`.
#![allow(clippy::unwrap_used)]

mod support;

use chatman::adapters::memory_files::MemoryFiles;
use chatman::domain::{RoomId, UploadId, UploadState, UserId};
use chatman::ports::{ChatStore, Files, Presigned, StoredObject, UploadStore};
use chatman::services::messages::{MessageService, NewMessage};
use chatman::services::uploads::UploadService;
use serde_json::{Value, json};
use std::sync::Arc;
use support::{Account, TestApp};

fn photo(purpose: &str) -> Value {
    json!({"purpose": purpose, "filename": "beach.png", "content_type": "image/png", "size": 2048})
}

/// Asks for an upload of `who` and, when `put`, "PUTs" the declared bytes; its id.
async fn upload(app: &TestApp, who: &Account, purpose: &str, put: bool) -> String {
    let body = photo(purpose);
    let reply = app.post_as(who, "/uploads", body.clone()).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let id = reply.str("upload_id");
    if put {
        app.files
            .put(&format!("uploads/{}/{id}", who.id), 2048, "image/png");
    }
    id
}

async fn send(app: &TestApp, who: &Account, room: &str, body: Value) -> support::Reply {
    app.post_as(who, &format!("/rooms/{room}/messages"), body)
        .await
}

/// An avatar's download URL: the object as stored (an image of an avatar type).
fn file_url(who: &Account, id: &str) -> String {
    format!("memory://files/files/{}/{id}?method=GET", who.id)
}

/// A message file's download URL: the storage is told the declared type and disposition
/// (`beach.png` is an image the app shows: inline, under its name).
fn message_file_url(who: &Account, id: &str) -> String {
    format!(
        "{}&response-content-type=image%2Fpng&response-content-disposition=\
         inline%3B%20filename%3D%22beach.png%22%3B%20filename%2A%3DUTF-8%27%27beach.png",
        file_url(who, id)
    )
}

async fn upload_state(app: &TestApp, id: &str) -> UploadState {
    let id = UploadId::parse(id).unwrap();
    app.chat
        .uploads
        .store()
        .upload(&id)
        .await
        .unwrap()
        .unwrap()
        .state
}

/// Runs `$body(app)` on the memory stores and on DynamoDB Local.
macro_rules! on_both_stores {
    ($memory:ident, $dynamo:ident, $body:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $memory() {
            $body(TestApp::new()).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $dynamo() {
            $body(TestApp::on_dynamodb().await).await;
        }
    };
}

async fn messages_carry_files_text_or_both_and_members_get_their_urls(app: TestApp) {
    let (alice, bob, carol) = (
        app.register("alice").await,
        app.register("bob").await,
        app.register("carol").await,
    );
    let room = app.room_of(&alice, "group", &[&bob]).await;
    let only = upload(&app, &alice, "message", true).await;
    let r = send(
        &app,
        &alice,
        &room,
        json!({"upload_ids": [only], "client_id": "f-1"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["kind"], "files");
    assert_eq!(r.body["text"], "");
    assert_eq!(
        r.body["files"],
        json!([{"upload_id": only, "filename": "beach.png", "content_type": "image/png", "size": 2048, "url": message_file_url(&alice, &only)}])
    );
    let (a, b) = (
        upload(&app, &alice, "message", true).await,
        upload(&app, &alice, "message", true).await,
    );
    let both = send(
        &app,
        &alice,
        &room,
        json!({"text": "two more", "upload_ids": [a, b]}),
    )
    .await;
    assert_eq!(both.status, 201, "{}", both.body);
    assert_eq!(
        (both.body["kind"].as_str(), both.body["text"].as_str()),
        (Some("files"), Some("two more"))
    );
    let ids: Vec<&str> = both.body["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["upload_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [a.as_str(), b.as_str()], "in the order sent");
    let entry = app.summary(&bob, &room).await;
    assert_eq!(
        entry["last_message"], both.body,
        "the chat list's last message"
    );
    let text = app.say(&alice, &room, "just text").await;
    assert_eq!(
        (text.body["kind"].as_str(), text.body["files"].clone()),
        (Some("text"), json!([]))
    );

    // Bob, a member: history, the chat list and the `message` events carry the same files.
    let history = app.get_as(&bob, &format!("/rooms/{room}/messages")).await;
    assert_eq!(history.body["items"][2], r.body);
    assert_eq!(history.body["items"][1], both.body);
    let events: Vec<_> = app
        .push
        .received_by(&UserId::parse(&bob.id).unwrap())
        .into_iter()
        .filter(|e| e.kind == "message")
        .collect();
    assert_eq!(events.len(), 3);
    assert_eq!(events[0].fields["message"]["files"], r.body["files"]);
    // Carol, not a member: 404, no event, no URL anywhere.
    let stranger = app.get_as(&carol, &format!("/rooms/{room}/messages")).await;
    assert_eq!(stranger.status, 404);
    assert!(!stranger.body.to_string().contains("memory://"));
    assert!(app.received(&carol).is_empty());
    assert_eq!(app.summary(&carol, &room).await, Value::Null);
}
on_both_stores!(
    files_in_messages_on_the_memory_store,
    files_in_messages_on_dynamodb_local,
    messages_carry_files_text_or_both_and_members_get_their_urls
);

async fn refused_uploads_get_their_documented_errors_and_store_nothing(app: TestApp) {
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    let room = app.room_of(&alice, "group", &[&bob]).await;
    let good = upload(&app, &alice, "message", true).await;
    let bobs = upload(&app, &bob, "message", true).await;
    let never_put = upload(&app, &alice, "message", false).await;
    let avatar = upload(&app, &alice, "avatar", true).await;
    let unknown = UploadId::new().to_string();
    let cases = [
        (json!({"upload_ids": [bobs]}), 404, "not_found"),
        (json!({"upload_ids": [unknown]}), 404, "not_found"),
        (json!({"upload_ids": [never_put]}), 400, "upload_missing"),
        (
            json!({"upload_ids": [avatar]}),
            400,
            "upload_purpose_mismatch",
        ),
        (
            json!({"text": "hi", "upload_ids": [good, bobs]}),
            404,
            "not_found",
        ),
        (
            json!({"upload_ids": [good, never_put]}),
            400,
            "upload_missing",
        ),
        (json!({"upload_ids": ["nope"]}), 400, "validation_failed"),
        (
            json!({"upload_ids": [good, good]}),
            400,
            "validation_failed",
        ),
        (json!({"upload_ids": []}), 400, "validation_failed"),
        (json!({"upload_ids": "nope"}), 400, "validation_failed"),
    ];
    for (body, status, code) in cases {
        let r = send(&app, &alice, &room, body.clone()).await;
        assert_eq!((r.status, r.code()), (status, code), "{body}: {}", r.body);
    }
    let mut eleven = Vec::new();
    for _ in 0..11 {
        eleven.push(upload(&app, &alice, "message", true).await);
    }
    let r = send(&app, &alice, &room, json!({"upload_ids": eleven})).await;
    assert_eq!(
        (r.status, r.body["errors"][0]["field"].as_str()),
        (400, Some("upload_ids"))
    );
    assert!(
        app.history_ids(&alice, &room).await.is_empty(),
        "nothing stored"
    );
    assert_eq!(
        upload_state(&app, &good).await,
        UploadState::Pending,
        "given back"
    );
    for id in &eleven {
        assert_eq!(upload_state(&app, id).await, UploadState::Pending);
    }
    // Bob cannot attach Alice's upload either, even though he is in the room.
    let r = send(&app, &bob, &room, json!({"upload_ids": [good]})).await;
    assert_eq!(r.status, 404);
    // The first real use wins; a second message with the same upload is 409.
    assert_eq!(
        send(&app, &alice, &room, json!({"upload_ids": [good]}))
            .await
            .status,
        201
    );
    let again = send(&app, &alice, &room, json!({"upload_ids": [good]})).await;
    assert_eq!(
        (again.status, again.code()),
        (409, "upload_already_attached")
    );
    assert_eq!(app.history_ids(&alice, &room).await.len(), 1);
}
on_both_stores!(
    refused_uploads_on_the_memory_store,
    refused_uploads_on_dynamodb_local,
    refused_uploads_get_their_documented_errors_and_store_nothing
);

async fn parallel_sends_racing_for_one_upload_attach_it_once(app: TestApp) {
    let app = Arc::new(app);
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    let room = app.room_of(&alice, "group", &[&bob]).await;
    let id = upload(&app, &alice, "message", true).await;
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let (app, alice, room, id) = (app.clone(), alice.clone(), room.clone(), id.clone());
            tokio::spawn(async move {
                let r = send(
                    &app,
                    &alice,
                    &room,
                    json!({"text": format!("try {i}"), "upload_ids": [id]}),
                )
                .await;
                (r.status, r.code().to_owned())
            })
        })
        .collect();
    let mut replies = Vec::new();
    for t in tasks {
        replies.push(t.await.unwrap());
    }
    assert_eq!(
        replies.iter().filter(|r| r.0 == 201).count(),
        1,
        "{replies:?}"
    );
    assert!(
        replies
            .iter()
            .all(|r| r.0 == 201 || (r.0, r.1.as_str()) == (409, "upload_already_attached")),
        "{replies:?}"
    );
    assert_eq!(
        app.history_ids(&bob, &room).await.len(),
        1,
        "one message carries it"
    );
}
on_both_stores!(
    racing_sends_on_the_memory_store,
    racing_sends_on_dynamodb_local,
    parallel_sends_racing_for_one_upload_attach_it_once
);

/// `Files` that deletes a room while an upload is being attached (during the copy out of the
/// expiring prefix): the append that follows must fail, and the upload must come back.
struct DeletesTheRoomWhileCopying {
    inner: MemoryFiles,
    chat: Arc<dyn ChatStore>,
    room: RoomId,
}

#[async_trait::async_trait]
impl Files for DeletesTheRoomWhileCopying {
    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
        now: time::OffsetDateTime,
        ttl: time::Duration,
    ) -> anyhow::Result<Presigned> {
        self.inner
            .presign_put(key, content_type, size, now, ttl)
            .await
    }
    async fn presign_get(
        &self,
        key: &str,
        serve: &chatman::ports::Serve,
        now: time::OffsetDateTime,
        ttl: time::Duration,
    ) -> anyhow::Result<Presigned> {
        self.inner.presign_get(key, serve, now, ttl).await
    }
    async fn head(&self, key: &str) -> anyhow::Result<Option<StoredObject>> {
        self.inner.head(key).await
    }
    async fn copy(&self, from: &str, to: &str, content_type: &str) -> anyhow::Result<()> {
        if let Ok(Some(room)) = self.chat.room(&self.room).await {
            let by = chatman::domain::UserId::new();
            let _ = self.chat.delete_room(&room, &by, room.created_at).await;
        }
        self.inner.copy(from, to, content_type).await
    }
    async fn delete(&self, key: &str) -> anyhow::Result<()> {
        self.inner.delete(key).await
    }
}

async fn a_send_whose_append_fails_gives_its_uploads_back(
    app: TestApp,
    store: Arc<dyn UploadStore>,
) {
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    let room = app.room_of(&alice, "group", &[&bob]).await;
    let files = Arc::new(DeletesTheRoomWhileCopying {
        inner: MemoryFiles::new(),
        chat: app.chat.chat.clone(),
        room: RoomId::parse(&room).unwrap(),
    });
    let uploads = UploadService::new(store.clone(), files.clone());
    let mut ports = app.chat.clone();
    ports.uploads = uploads.clone();
    let messages = MessageService::new(ports, chatman::settings::Limits::LOCAL);
    let me = app
        .store
        .user(&UserId::parse(&alice.id).unwrap())
        .await
        .unwrap()
        .unwrap();
    let now = app.clock_now();
    let (pending, _) = uploads
        .request(&me.id, "message", "a.png", "image/png", &json!(10), now)
        .await
        .unwrap();
    files.inner.put(&pending.pending_key(), 10, "image/png");
    let new = NewMessage {
        text: None,
        upload_ids: Some(vec![pending.id.to_string()]),
        client_id: None,
        reply_to: None,
    };
    let sent = messages.send(&me, &room, new, now).await;
    assert!(sent.is_err(), "the room went away during the send");
    let stored = store.upload(&pending.id).await.unwrap().unwrap();
    assert_eq!(stored.state, UploadState::Pending, "not half-attached");
}

#[tokio::test]
async fn a_failed_append_releases_the_uploads_on_the_memory_store() {
    let app = TestApp::new();
    let store = Arc::new(chatman::adapters::memory_uploads::MemoryUploads::new());
    a_send_whose_append_fails_gives_its_uploads_back(app, store).await;
}

#[tokio::test]
async fn a_failed_append_releases_the_uploads_on_dynamodb_local() {
    let app = TestApp::on_dynamodb().await;
    let store = support::dynamo_store().await;
    a_send_whose_append_fails_gives_its_uploads_back(app, store).await;
}

async fn room_avatars_are_set_by_owner_or_admin_shown_to_members_and_cleared(app: TestApp) {
    let (alice, bob, carol) = (
        app.register("alice").await,
        app.register("bob").await,
        app.register("carol").await,
    );
    let room = app.room_of(&alice, "group", &[&bob, &carol]).await;
    let path = format!("/rooms/{room}");
    let pic = upload(&app, &alice, "room_avatar", true).await;
    let r = app
        .patch_as(&alice, &path, json!({"avatar_upload_id": pic}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["avatar_url"], file_url(&alice, &pic));
    assert!(app.received(&bob).contains(&"room/updated".to_owned()));
    let again = app
        .patch_as(&alice, &path, json!({"avatar_upload_id": pic}))
        .await;
    assert_eq!(again.status, 200, "a retried PATCH changes nothing");
    assert_eq!(
        app.summary(&bob, &room).await["avatar_url"],
        file_url(&alice, &pic)
    );
    assert_eq!(
        app.get_as(&bob, &path).await.body["avatar_url"],
        file_url(&alice, &pic)
    );

    // A plain member may not; the upload must be a room avatar of the caller's, and there.
    let bobs = upload(&app, &bob, "room_avatar", true).await;
    assert_eq!(
        app.patch_as(&bob, &path, json!({"avatar_upload_id": bobs}))
            .await
            .status,
        403
    );
    assert_eq!(upload_state(&app, &bobs).await, UploadState::Pending);
    let promoted = app
        .patch_as(
            &alice,
            &format!("{path}/members/bob"),
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!(promoted.status, 200);
    for (id, status, code) in [
        (
            upload(&app, &bob, "message", true).await,
            400,
            "upload_purpose_mismatch",
        ),
        (
            upload(&app, &bob, "room_avatar", false).await,
            400,
            "upload_missing",
        ),
        (pic.clone(), 404, "not_found"),
    ] {
        let r = app
            .patch_as(&bob, &path, json!({"avatar_upload_id": id}))
            .await;
        assert_eq!((r.status, r.code()), (status, code), "{}", r.body);
    }
    let by_admin = app
        .patch_as(&bob, &path, json!({"avatar_upload_id": bobs}))
        .await;
    assert_eq!(by_admin.body["avatar_url"], file_url(&bob, &bobs));
    let cleared = app
        .patch_as(&alice, &path, json!({"avatar_upload_id": null}))
        .await;
    assert_eq!(
        (cleared.status, cleared.body["avatar_url"].clone()),
        (200, Value::Null)
    );
    assert_eq!(app.summary(&carol, &room).await["avatar_url"], Value::Null);
    let stranger = app.register("dave").await;
    assert_eq!(app.get_as(&stranger, &path).await.status, 404);
}
on_both_stores!(
    room_avatars_on_the_memory_store,
    room_avatars_on_dynamodb_local,
    room_avatars_are_set_by_owner_or_admin_shown_to_members_and_cleared
);

async fn a_direct_room_shows_the_other_persons_avatar_and_takes_none_of_its_own(app: TestApp) {
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    let pic = upload(&app, &bob, "avatar", true).await;
    assert_eq!(
        app.patch_as(&bob, "/me", json!({"avatar_upload_id": pic}))
            .await
            .status,
        200
    );
    let room = app.direct(&alice, &bob).await.str("id");
    let seen = app.get_as(&alice, &format!("/rooms/{room}")).await;
    assert_eq!(seen.body["avatar_url"], file_url(&bob, &pic));
    let bob_seat = seen.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["user"]["username"] == "bob")
        .cloned()
        .unwrap();
    assert_eq!(
        bob_seat["user"]["avatar_url"],
        file_url(&bob, &pic),
        "members show their avatars"
    );
    assert_eq!(
        app.summary(&alice, &room).await["avatar_url"],
        file_url(&bob, &pic)
    );
    assert_eq!(
        app.summary(&bob, &room).await["avatar_url"],
        Value::Null,
        "alice has none"
    );
    let own = upload(&app, &alice, "room_avatar", true).await;
    let r = app
        .patch_as(
            &alice,
            &format!("/rooms/{room}"),
            json!({"avatar_upload_id": own}),
        )
        .await;
    assert_eq!((r.status, r.code()), (422, "direct_room"));
    assert_eq!(upload_state(&app, &own).await, UploadState::Pending);
}
on_both_stores!(
    direct_room_avatar_on_the_memory_store,
    direct_room_avatar_on_dynamodb_local,
    a_direct_room_shows_the_other_persons_avatar_and_takes_none_of_its_own
);

/// Asks for an upload of `who` with this `body` and "PUTs" its declared bytes; id and file key.
async fn upload_as(app: &TestApp, who: &Account, body: Value) -> (String, String) {
    let reply = app.post_as(who, "/uploads", body.clone()).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let id = reply.str("upload_id");
    app.files.put(
        &format!("uploads/{}/{id}", who.id),
        body["size"].as_u64().unwrap(),
        body["content_type"].as_str().unwrap(),
    );
    let key = format!("files/{}/{id}", who.id);
    (id, key)
}

/// A file that is no image the app shows downloads as an attachment under its sanitised name,
/// with the declared type, whatever the object was stored with.
async fn other_files_download_as_attachments_under_their_name(app: TestApp) {
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    let room = app.room_of(&alice, "group", &[&bob]).await;
    let (id, _) = upload_as(
        &app,
        &alice,
        json!({"purpose": "message", "filename": "notes \"v2\".txt", "content_type": "text/plain", "size": 10}),
    )
    .await;
    let sent = send(&app, &alice, &room, json!({"upload_ids": [id]})).await;
    assert_eq!(sent.status, 201, "{}", sent.body);
    let url = sent.body["files"][0]["url"].as_str().unwrap();
    assert!(url.contains("response-content-type=text%2Fplain"), "{url}");
    assert!(
        url.contains(
            "response-content-disposition=attachment%3B%20filename%3D%22notes%20_v2_.txt%22"
        ),
        "{url}"
    );
    let history = app.get_as(&bob, &format!("/rooms/{room}/messages")).await;
    assert_eq!(
        history.body["items"][0]["files"][0]["url"], url,
        "the same for the reader"
    );
}

on_both_stores!(
    attachments_on_the_memory_store,
    attachments_on_dynamodb_local,
    other_files_download_as_attachments_under_their_name
);

/// Deleting a message or a room, or replacing (or clearing) an avatar, deletes the object it
/// held; the objects of what stays are kept.
async fn dropped_files_are_deleted_from_the_storage(app: TestApp) {
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    let room = app.room_of(&alice, "group", &[&bob]).await;
    let photo = |purpose: &str| json!({"purpose": purpose, "filename": "beach.png", "content_type": "image/png", "size": 2048});

    // A message's files go with the message; another message's stay.
    let (a, a_key) = upload_as(&app, &alice, photo("message")).await;
    let (b, b_key) = upload_as(&app, &alice, photo("message")).await;
    let gone = send(&app, &alice, &room, json!({"upload_ids": [a]})).await;
    let kept = send(&app, &alice, &room, json!({"upload_ids": [b]})).await;
    assert!(
        app.files.contains(&a_key) && app.files.contains(&b_key),
        "attached"
    );
    let path = format!("/rooms/{room}/messages/{}", gone.str("id"));
    assert_eq!(app.delete_as(&alice, &path).await.status, 204);
    assert!(
        !app.files.contains(&a_key),
        "the deleted message's file is gone"
    );
    assert!(app.files.contains(&b_key), "the other message's file stays");
    assert_eq!(kept.status, 201);

    // A room avatar replaced, then cleared.
    let room_path = format!("/rooms/{room}");
    let (c, c_key) = upload_as(&app, &alice, photo("room_avatar")).await;
    let (d, d_key) = upload_as(&app, &alice, photo("room_avatar")).await;
    for id in [&c, &d] {
        let r = app
            .patch_as(&alice, &room_path, json!({"avatar_upload_id": id}))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    assert!(
        !app.files.contains(&c_key),
        "the replaced room avatar is gone"
    );
    assert!(app.files.contains(&d_key));
    let r = app
        .patch_as(&alice, &room_path, json!({"avatar_upload_id": null}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        !app.files.contains(&d_key),
        "the cleared room avatar is gone"
    );

    // A profile avatar replaced, then cleared.
    let (e, e_key) = upload_as(&app, &bob, photo("avatar")).await;
    let (f, f_key) = upload_as(&app, &bob, photo("avatar")).await;
    for id in [&e, &f] {
        let r = app
            .patch_as(&bob, "/me", json!({"avatar_upload_id": id}))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    assert!(!app.files.contains(&e_key), "the replaced avatar is gone");
    assert!(app.files.contains(&f_key));
    let r = app
        .patch_as(&bob, "/me", json!({"avatar_upload_id": null}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!app.files.contains(&f_key), "the cleared avatar is gone");

    // A room with a room avatar and (more than a page of) messages: all of it goes.
    let (g, g_key) = upload_as(&app, &alice, photo("room_avatar")).await;
    let r = app
        .patch_as(&alice, &room_path, json!({"avatar_upload_id": g}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (h, h_key) = upload_as(&app, &bob, photo("message")).await;
    assert_eq!(
        send(&app, &bob, &room, json!({"upload_ids": [h]}))
            .await
            .status,
        201
    );
    for i in 0..120 {
        if i % 50 == 0 {
            app.advance(time::Duration::seconds(61)); // past the posting limit's window
        }
        assert_eq!(app.say(&alice, &room, &format!("m{i}")).await.status, 201);
    }
    assert_eq!(app.delete_as(&alice, &room_path).await.status, 204);
    for key in [&b_key, &g_key, &h_key] {
        assert!(!app.files.contains(key), "{key} went with its room");
    }
}

on_both_stores!(
    dropped_files_on_the_memory_store,
    dropped_files_on_dynamodb_local,
    dropped_files_are_deleted_from_the_storage
);

/// A send with files retried under its `client_id`, eight at once and once more later: one
/// message holds the file, and every retry answers it (none is refused for the upload the first
/// one holds).
async fn retries_of_a_send_with_files_answer_the_one_message(app: TestApp) {
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    let room = app.room_of(&alice, "group", &[&bob]).await;
    let file = upload(&app, &alice, "message", true).await;
    let body = json!({"text": "look", "upload_ids": [file], "client_id": "f-9"});
    let app = Arc::new(app);
    let mut tasks = vec![];
    for _ in 0..8 {
        let (app, alice, room, body) = (app.clone(), alice.clone(), room.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            send(&app, &alice, &room, body).await
        }));
    }
    let mut replies = vec![];
    for t in tasks {
        replies.push(t.await.unwrap());
    }
    replies.push(send(&app, &alice, &room, body).await);
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 200),
        "{statuses:?}"
    );
    let first = replies.iter().find(|r| r.status == 201).unwrap();
    for r in &replies {
        assert_eq!(r.body["id"], first.body["id"]);
        assert_eq!(r.body["files"][0]["upload_id"], file.as_str());
    }
    assert_eq!(app.history_ids(&bob, &room).await.len(), 1);
    assert_eq!(upload_state(&app, &file).await, UploadState::Attached);
}

on_both_stores!(
    file_retries_on_the_memory_store,
    file_retries_on_dynamodb_local,
    retries_of_a_send_with_files_answer_the_one_message
);
