//! Reactions: members put one of the reaction emoji on a message and take it off; counts per
//! emoji and `mine` on the message, at most three emoji per person per message, a `reaction`
//! event per change (none for a repeat), 404 for non-members and deleted messages, and exact
//! counts when fifty people react at once. Both stores.
#![allow(clippy::unwrap_used)]

mod support;

use serde_json::{Value, json};
use support::{Account, Reply, TestApp};

fn reaction_path(room: &str, message: &str, emoji: &str) -> String {
    let encoded: String = emoji.bytes().map(|b| format!("%{b:02X}")).collect();
    format!("/rooms/{room}/messages/{message}/reactions/{encoded}")
}

async fn react(app: &TestApp, who: &Account, room: &str, message: &str, emoji: &str) -> Reply {
    app.call(
        "PUT",
        &reaction_path(room, message, emoji),
        None,
        Some(&who.access),
    )
    .await
}

async fn unreact(app: &TestApp, who: &Account, room: &str, message: &str, emoji: &str) -> Reply {
    app.delete_as(who, &reaction_path(room, message, emoji))
        .await
}

/// The newest history page's `reactions` of message `id`, as `who` reads it.
async fn reactions_in_history(app: &TestApp, who: &Account, room: &str, id: &str) -> Value {
    let history = app.get_as(who, &format!("/rooms/{room}/messages")).await;
    history.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == id)
        .map(|m| m["reactions"].clone())
        .unwrap_or(Value::Null)
}

fn reaction_events(app: &TestApp, who: &Account) -> Vec<Value> {
    let id = chatman::domain::UserId::parse(&who.id).unwrap();
    app.push
        .received_by(&id)
        .into_iter()
        .filter(|e| e.kind == "reaction")
        .map(|e| Value::Object(e.fields))
        .collect()
}

async fn counts_and_mine_follow_each_person(app: TestApp) {
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    let room = app.room_of(&alice, "group", &[&bob]).await;
    let id = app.say(&alice, &room, "lunch?").await.str("id");
    assert_eq!(
        reactions_in_history(&app, &bob, &room, &id).await,
        json!([])
    );

    let put = react(&app, &bob, &room, &id, "👍").await;
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(
        put.body,
        json!({"message_id": id, "reactions": [{"emoji": "👍", "count": 1, "mine": true}]})
    );
    // The bare heart (no U+FE0F) is the heart.
    assert_eq!(
        react(&app, &alice, &room, &id, "\u{2764}").await.status,
        200
    );
    assert_eq!(react(&app, &alice, &room, &id, "👍").await.status, 200);
    // Putting what is there changes nothing and tells nobody.
    let again = react(&app, &bob, &room, &id, "👍").await;
    assert_eq!(again.status, 200);

    let as_bob = json!([{"emoji": "👍", "count": 2, "mine": true}, {"emoji": "❤️", "count": 1, "mine": false}]);
    let as_alice = json!([{"emoji": "👍", "count": 2, "mine": true}, {"emoji": "❤️", "count": 1, "mine": true}]);
    assert_eq!(reactions_in_history(&app, &bob, &room, &id).await, as_bob);
    assert_eq!(
        reactions_in_history(&app, &alice, &room, &id).await,
        as_alice
    );
    let after_seq = app
        .get_as(&bob, &format!("/rooms/{room}/messages?after_seq=0"))
        .await;
    assert_eq!(after_seq.body["items"][0]["reactions"], as_bob);

    let off = unreact(&app, &bob, &room, &id, "👍").await;
    assert_eq!(off.status, 200, "{}", off.body);
    assert_eq!(
        off.body["reactions"],
        json!([{"emoji": "👍", "count": 1, "mine": false}, {"emoji": "❤️", "count": 1, "mine": false}])
    );
    assert_eq!(
        unreact(&app, &bob, &room, &id, "👍").await.status,
        200,
        "taking off what is not there"
    );
    assert_eq!(unreact(&app, &alice, &room, &id, "❤️").await.status, 200);
    assert_eq!(
        reactions_in_history(&app, &alice, &room, &id).await,
        json!([{"emoji": "👍", "count": 1, "mine": true}]),
        "an emoji whose count fell to 0 is not shown"
    );

    app.deliver().await;
    let told = reaction_events(&app, &alice);
    let seen: Vec<(String, String, bool)> = told
        .iter()
        .map(|e| {
            assert_eq!(e["room_id"], room.as_str());
            assert_eq!(e["message_id"], id.as_str());
            (
                e["username"].as_str().unwrap().to_owned(),
                e["emoji"].as_str().unwrap().to_owned(),
                e["added"].as_bool().unwrap(),
            )
        })
        .collect();
    let expect = [
        ("bob", "👍", true),
        ("alice", "❤️", true),
        ("alice", "👍", true),
        ("bob", "👍", false),
        ("alice", "❤️", false),
    ];
    let expect: Vec<(String, String, bool)> = expect
        .iter()
        .map(|(u, e, a)| (u.to_string(), e.to_string(), *a))
        .collect();
    assert_eq!(seen, expect, "one event per change, none for a repeat");
    assert_eq!(
        reaction_events(&app, &bob).len(),
        5,
        "every member hears them"
    );
}

async fn refusals(app: TestApp) {
    let (alice, bob, eve) = (
        app.register("alice").await,
        app.register("bob").await,
        app.register("eve").await,
    );
    let room = app.room_of(&alice, "group", &[&bob]).await;
    let id = app.say(&alice, &room, "hi").await.str("id");

    // Three emoji per person per message; a fourth is refused, another person's is not.
    for e in ["👍", "🎉", "🔥"] {
        assert_eq!(react(&app, &bob, &room, &id, e).await.status, 200);
    }
    let fourth = react(&app, &bob, &room, &id, "👀").await;
    assert_eq!(
        (fourth.status, fourth.code()),
        (422, "too_many_reactions"),
        "{}",
        fourth.body
    );
    assert_eq!(
        react(&app, &bob, &room, &id, "🔥").await.status,
        200,
        "one already there is fine"
    );
    assert_eq!(react(&app, &alice, &room, &id, "👀").await.status, 200);
    assert_eq!(unreact(&app, &bob, &room, &id, "🔥").await.status, 200);
    assert_eq!(
        react(&app, &bob, &room, &id, "👀").await.status,
        200,
        "a slot taken off frees up"
    );

    // Not one of the set.
    for bad in ["🦀", "x", "👍👍"] {
        let r = react(&app, &bob, &room, &id, bad).await;
        assert_eq!((r.status, r.code()), (400, "validation_failed"), "{bad}");
    }
    // A non-member learns nothing: 404 as for the room, whatever the message.
    for message in [id.as_str(), "nope"] {
        let r = react(&app, &eve, &room, message, "👍").await;
        assert_eq!((r.status, r.code()), (404, "not_found"));
    }
    assert_eq!(unreact(&app, &eve, &room, &id, "👍").await.status, 404);
    // An unknown or deleted message.
    let unknown = chatman::domain::MessageId::new().to_string();
    assert_eq!(react(&app, &bob, &room, &unknown, "👍").await.status, 404);
    let gone = app.say(&alice, &room, "soon gone").await.str("id");
    assert_eq!(react(&app, &bob, &room, &gone, "👍").await.status, 200);
    app.delete_as(&alice, &format!("/rooms/{room}/messages/{gone}"))
        .await;
    assert_eq!(react(&app, &bob, &room, &gone, "🎉").await.status, 404);
    assert_eq!(unreact(&app, &bob, &room, &gone, "👍").await.status, 404);

    // In a channel every member reacts, though only admins post.
    let channel = app.room_of(&alice, "channel", &[&bob]).await;
    let news = app.say(&alice, &channel, "news").await.str("id");
    assert_eq!(react(&app, &bob, &channel, &news, "🎉").await.status, 200);

    // A block in a direct room ends reactions there too.
    let direct = app.direct(&alice, &bob).await.str("id");
    let said = app.say(&alice, &direct, "hey").await.str("id");
    let blocked = app
        .post_as(&alice, &format!("/users/{}/block", bob.username), json!({}))
        .await;
    assert!(blocked.status < 300, "{}", blocked.body);
    let r = react(&app, &bob, &direct, &said, "👍").await;
    assert_eq!((r.status, r.code()), (403, "blocked"));
}

/// Fifty people react with the same emoji at once, each twice over: the count is exactly 50,
/// each sees `mine`, and every member heard exactly fifty `reaction` events. Then fifteen of them
/// each put on a second and third emoji and try a fourth, all at once: exactly three stay per
/// person. (Fifteen, not fifty: 150 transactions on one item at once outlast the retries on a
/// loaded 2-core DynamoDB Local; see docs/CHAT.md, "Reactions".)
async fn fifty_people_reacting_at_once_give_exact_counts(app: TestApp) {
    let owner = app.register("owner").await;
    let mut people = vec![];
    for i in 0..50 {
        people.push(app.register(&format!("fan{i:02}")).await);
    }
    let first: Vec<&Account> = people[..40].iter().collect();
    let room = app.room_of(&owner, "group", &first).await;
    let rest: Vec<&str> = people[40..].iter().map(|p| p.username.as_str()).collect();
    let added = app
        .post_as(
            &owner,
            &format!("/rooms/{room}/members"),
            json!({"usernames": rest}),
        )
        .await;
    assert!(added.status < 300, "{}", added.body);
    let id = app.say(&owner, &room, "vote 👍").await.str("id");

    let replies = futures_util::future::join_all(
        people
            .iter()
            .chain(people.iter())
            .map(|p| react(&app, p, &room, &id, "👍")),
    )
    .await;
    assert!(
        replies.iter().all(|r| r.status == 200),
        "{:?}",
        replies.iter().find(|r| r.status != 200)
    );
    assert_eq!(
        reactions_in_history(&app, &people[7], &room, &id).await,
        json!([{"emoji": "👍", "count": 50, "mine": true}])
    );
    assert_eq!(
        reactions_in_history(&app, &owner, &room, &id).await,
        json!([{"emoji": "👍", "count": 50, "mine": false}])
    );
    app.deliver().await;
    assert_eq!(
        reaction_events(&app, &owner).len(),
        50,
        "one event per person, none for a repeat"
    );

    let tries: Vec<(&Account, &str)> = people[..15]
        .iter()
        .flat_map(|p| ["🎉", "🔥", "👀"].map(|e| (p, e)))
        .collect();
    let replies =
        futures_util::future::join_all(tries.iter().map(|(p, e)| react(&app, p, &room, &id, e)))
            .await;
    let answers: std::collections::BTreeMap<(u16, String), usize> =
        replies.iter().fold(Default::default(), |mut m, r| {
            *m.entry((r.status, r.code().to_owned())).or_default() += 1;
            m
        });
    let refused = replies.iter().filter(|r| r.status == 422).count();
    println!("answers: {answers:?}");
    assert_eq!(refused, 15, "exactly one refusal per person: {answers:?}");
    assert!(replies.iter().all(|r| r.status == 200 || r.status == 422));
    let total: u64 = reactions_in_history(&app, &owner, &room, &id)
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["count"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 50 + 15 * 2, "three emoji per person, no more");
}

macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod memory_store {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::TestApp::new()).await }) *
        }
        mod dynamodb_store {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::TestApp::on_dynamodb().await).await }) *
        }
    };
}

on_both_stores!(
    counts_and_mine_follow_each_person,
    refusals,
    fifty_people_reacting_at_once_give_exact_counts
);
