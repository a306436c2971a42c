//! upload-url, and the three places an upload is attached: a profile avatar (profile), a room
//! avatar (rooms) and a message's files (messages). The bytes are "PUT" into the memory file
//! store: S3 rights are outside this test.

use super::{field, statuses};
use crate::iam_support::deployment::Deployment;
use crate::support::Account;
use serde_json::{Value, json};

/// An upload of `who` for `purpose` whose bytes arrived; its id.
pub async fn uploaded(d: &Deployment, who: &Account, purpose: &str) -> String {
    let body =
        json!({"purpose": purpose, "filename": "a.png", "content_type": "image/png", "size": 2048});
    let reply = d
        .call("POST", "/uploads", Some(body), Some(&who.access))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let id = reply.str("upload_id");
    let object = format!("uploads/{}/{id}", who.id);
    d.app.files.put(&object, 2048, "image/png");
    id
}

pub async fn run(d: &Deployment) {
    let poster = d.person("poster").await;
    let me = Some(poster.access.as_str());
    let refused = json!({"purpose": "message", "filename": "a.exe", "content_type": "application/x-msdownload", "size": 1});
    let refused = d.call("POST", "/uploads", Some(refused), me).await;
    assert_eq!(refused.status, 415, "{}", refused.body);

    let avatar = uploaded(d, &poster, "avatar").await;
    let set = |id: Value| json!({"avatar_upload_id": id});
    let mine = d.call("PATCH", "/me", Some(set(json!(avatar))), me).await;
    let unknown = json!(uuid::Uuid::now_v7().to_string());
    let unknown = d.call("PATCH", "/me", Some(set(unknown)), me).await;

    let room = json!({"kind": "group", "name": "Pics"});
    let room = d.call("POST", "/rooms", Some(room), me).await;
    let room = format!("/rooms/{}", field(&room.body, "id"));
    let picture = uploaded(d, &poster, "room_avatar").await;
    let pictured = d.call("PATCH", &room, Some(set(json!(picture))), me).await;

    let file = uploaded(d, &poster, "message").await;
    let files = json!({"text": "look", "upload_ids": [file]});
    let with_files = d
        .call("POST", &format!("{room}/messages"), Some(files), me)
        .await;
    assert_eq!(
        statuses(&[&mine, &unknown, &pictured, &with_files]),
        [200, 404, 200, 201],
        "{} {}",
        mine.body,
        with_files.body
    );
}
