//! Chat helpers for the tests: calls as a person, and rooms made in one line.

use super::{Account, Reply, TestApp};
use serde_json::{Value, json};

impl TestApp {
    pub async fn get_as(&self, who: &Account, path: &str) -> Reply {
        self.call("GET", path, None, Some(&who.access)).await
    }

    pub async fn post_as(&self, who: &Account, path: &str, body: Value) -> Reply {
        self.call("POST", path, Some(body), Some(&who.access)).await
    }

    pub async fn patch_as(&self, who: &Account, path: &str, body: Value) -> Reply {
        self.call("PATCH", path, Some(body), Some(&who.access))
            .await
    }

    pub async fn delete_as(&self, who: &Account, path: &str) -> Reply {
        self.call("DELETE", path, None, Some(&who.access)).await
    }

    /// A group (or channel) of `owner` with `members`; its id.
    pub async fn room_of(&self, owner: &Account, kind: &str, members: &[&Account]) -> String {
        let names: Vec<&str> = members.iter().map(|m| m.username.as_str()).collect();
        let r = self
            .post_as(
                owner,
                "/rooms",
                json!({"kind": kind, "name": "Team", "members": names}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.str("id")
    }

    pub async fn direct(&self, from: &Account, to: &Account) -> Reply {
        self.post_as(
            from,
            "/rooms",
            json!({"kind": "direct", "username": to.username}),
        )
        .await
    }

    pub async fn say(&self, who: &Account, room: &str, text: &str) -> Reply {
        self.post_as(
            who,
            &format!("/rooms/{room}/messages"),
            json!({"text": text}),
        )
        .await
    }

    /// The message ids of a room's first history page, newest first.
    pub async fn history_ids(&self, who: &Account, room: &str) -> Vec<String> {
        let r = self
            .get_as(who, &format!("/rooms/{room}/messages?limit=100"))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|m| m["id"].as_str().expect("id").to_owned())
            .collect()
    }

    /// `who`'s chat-list entry for `room`.
    pub async fn summary(&self, who: &Account, room: &str) -> Value {
        let r = self.get_as(who, "/rooms?limit=100").await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|s| s["id"] == room)
            .cloned()
            .unwrap_or(Value::Null)
    }

    /// The kinds of events `who` would have received, oldest first, as `type/event` strings.
    pub fn received(&self, who: &Account) -> Vec<String> {
        let id = chatman::domain::UserId::parse(&who.id).expect("id");
        self.push
            .received_by(&id)
            .iter()
            .map(|e| match e.fields.get("event").and_then(Value::as_str) {
                Some(what) => format!("{}/{what}", e.kind),
                None => e.kind.to_owned(),
            })
            .collect()
    }
}
