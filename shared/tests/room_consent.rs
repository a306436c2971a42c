//! Who may put whom in a room, on both stores: a block (either way) stops adds, typing and read
//! events in a direct room, and answers exactly like an unknown name so the adder never learns
//! of it; `group_adds: "nobody"` and having left turn adds into invitations the person accepts
//! or declines; the hourly creation and add limits and the member ceiling hold under parallel
//! requests.
// Helpers here are plain functions called from #[test]s: a panic in them is a failing test.
#![allow(clippy::unwrap_used)]

mod support;

use chatman::adapters::memory::MemoryAccounts;
use chatman::adapters::memory_ledger::MemoryLedger;
use chatman::adapters::recording_push::RecordingPush;
use chatman::settings::Limits;
use serde_json::{Value, json};
use std::sync::Arc;
use support::{Account, Reply, TestApp};

/// An app with these limits, in memory or on DynamoDB Local.
async fn app_with(limits: Limits, on_dynamodb: bool) -> TestApp {
    let ledger = Arc::new(MemoryLedger::new());
    let push = Arc::new(RecordingPush::new());
    if on_dynamodb {
        let (accounts, chat) = support::dynamo_chat_stores().await;
        let mut app = TestApp::assemble_with_uploads(
            accounts.clone(),
            ledger,
            Some((chat.clone(), chat.clone())),
            push,
            "root",
            None,
            limits,
            accounts,
        );
        app.deliver_from_stream(chat.table());
        app
    } else {
        let accounts = Arc::new(MemoryAccounts::new());
        TestApp::assemble_everything(accounts, ledger, None, push, "root", None, limits)
    }
}

fn usernames(r: &Reply) -> Vec<String> {
    let mut names: Vec<String> = r.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["user"]["username"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

async fn invitation_rooms(app: &TestApp, who: &Account) -> Vec<String> {
    let r = app.get_as(who, "/me/invitations").await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["room_id"].as_str().unwrap().to_owned())
        .collect()
}

/// The refusal without the part that names the field's position.
fn refusal(r: &Reply) -> (u16, Value) {
    (r.status, r.body.clone())
}

async fn a_block_stops_adds_both_ways_and_looks_like_an_unknown_name(app: TestApp) {
    let (alice, bob, carol) = (
        app.register("alice").await,
        app.register("bob").await,
        app.register("carol").await,
    );
    let blocked = app
        .post_as(&bob, "/users/alice/block", json!({}))
        .await
        .status;
    assert_eq!(blocked, 204);

    // Creating a group with the other in it, both ways.
    for (adder, other) in [(&alice, "bob"), (&bob, "alice")] {
        let with_them = app
            .post_as(
                adder,
                "/rooms",
                json!({"kind": "group", "name": "G", "members": ["carol", other]}),
            )
            .await;
        let with_ghost = app
            .post_as(
                adder,
                "/rooms",
                json!({"kind": "group", "name": "G", "members": ["carol", "nobody_here"]}),
            )
            .await;
        assert_eq!(with_them.status, 400, "{}", with_them.body);
        assert_eq!(
            refusal(&with_them),
            refusal(&with_ghost),
            "a block answers like an unknown name"
        );
    }

    // Adding the other to an existing group, both ways.
    for (owner, other) in [(&alice, "bob"), (&bob, "alice")] {
        let room = app.room_of(owner, "group", &[&carol]).await;
        let path = format!("/rooms/{room}/members");
        let them = app
            .post_as(owner, &path, json!({"usernames": [other]}))
            .await;
        let ghost = app
            .post_as(owner, &path, json!({"usernames": ["nobody_here"]}))
            .await;
        assert_eq!(them.status, 400, "{}", them.body);
        assert_eq!(refusal(&them), refusal(&ghost));
        let members = app.get_as(owner, &format!("/rooms/{room}")).await.body["members"]
            .as_array()
            .unwrap()
            .len();
        assert_eq!(members, 2, "nobody was added");
    }
    let bobs = app.get_as(&bob, "/rooms").await.body["items"].clone();
    assert_eq!(
        bobs.as_array().unwrap().len(),
        1,
        "only Bob's own group: {bobs}"
    );
    let alices = app.get_as(&alice, "/rooms").await.body["items"].clone();
    assert_eq!(alices.as_array().unwrap().len(), 1, "{alices}");

    // Unblocked, the same add works.
    assert_eq!(app.delete_as(&bob, "/users/alice/block").await.status, 204);
    let room = app.room_of(&alice, "group", &[&carol]).await;
    let r = app
        .post_as(
            &alice,
            &format!("/rooms/{room}/members"),
            json!({"usernames": ["bob"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn a_block_stops_adds_both_ways_in_memory() {
    a_block_stops_adds_both_ways_and_looks_like_an_unknown_name(TestApp::new()).await;
}

#[tokio::test]
async fn a_block_stops_adds_both_ways_on_dynamodb_local() {
    a_block_stops_adds_both_ways_and_looks_like_an_unknown_name(TestApp::on_dynamodb().await).await;
}

async fn across_a_block_a_read_reaches_only_the_reader(app: TestApp) {
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    let room = app.direct(&alice, &bob).await.str("id");
    let message = app.say(&alice, &room, "hello").await.str("id");
    assert_eq!(
        app.post_as(&alice, "/users/bob/block", json!({}))
            .await
            .status,
        204
    );
    let before = app.received(&alice).len();
    let r = app
        .post_as(
            &bob,
            &format!("/rooms/{room}/read"),
            json!({"message_id": message}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(
        app.summary(&bob, &room).await["unread_count"],
        0,
        "the reader's own marker moved"
    );
    assert!(
        !app.received(&alice)[before..].contains(&"read".to_owned()),
        "the blocker hears nothing: {:?}",
        app.received(&alice)
    );
    assert!(app.received(&bob).contains(&"read".to_owned()));
}

#[tokio::test]
async fn across_a_block_a_read_reaches_only_the_reader_in_memory() {
    across_a_block_a_read_reaches_only_the_reader(TestApp::new()).await;
}

#[tokio::test]
async fn across_a_block_a_read_reaches_only_the_reader_on_dynamodb_local() {
    across_a_block_a_read_reaches_only_the_reader(TestApp::on_dynamodb().await).await;
}

async fn nobody_turns_adds_into_invitations_accepted_or_declined(app: TestApp) {
    let (alice, bob, carol) = (
        app.register("alice").await,
        app.register("bob").await,
        app.register("carol").await,
    );
    assert_eq!(
        app.get_as(&carol, "/me").await.body["group_adds"],
        "everyone"
    );
    let set = app
        .patch_as(&carol, "/me", json!({"group_adds": "nobody"}))
        .await;
    assert_eq!(
        (set.status, &set.body["group_adds"]),
        (200, &json!("nobody"))
    );
    let bad = app
        .patch_as(&carol, "/me", json!({"group_adds": "friends"}))
        .await;
    assert_eq!(bad.body["errors"][0]["field"], "group_adds", "{}", bad.body);

    // Creating a group with her in it: Bob joins, Carol is only invited.
    let created = app
        .post_as(
            &alice,
            "/rooms",
            json!({"kind": "group", "name": "Climbing", "members": ["bob", "carol"]}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(usernames(&created), ["alice", "bob"]);
    let first = created.str("id");
    // Adding her to another room: the same.
    let second = app.room_of(&bob, "group", &[]).await;
    let added = app
        .post_as(
            &bob,
            &format!("/rooms/{second}/members"),
            json!({"usernames": ["carol"]}),
        )
        .await;
    assert_eq!(added.status, 200, "{}", added.body);
    assert_eq!(usernames(&added), ["bob"]);

    // She is in neither room until she says so, and sees both invitations.
    assert_eq!(
        app.get_as(&carol, &format!("/rooms/{first}")).await.status,
        404
    );
    assert!(
        app.get_as(&carol, "/rooms").await.body["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let list = app.get_as(&carol, "/me/invitations").await;
    let items = list.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{}", list.body);
    let climbing = items.iter().find(|i| i["room_id"] == json!(first)).unwrap();
    assert_eq!(climbing["name"], "Climbing");
    assert_eq!(climbing["invited_by"], "alice");
    assert_eq!(climbing["kind"], "group");
    assert!(app.received(&carol).contains(&"room/invited".to_owned()));
    assert!(!app.received(&carol).contains(&"room/added".to_owned()));

    // Declined: gone, and she stays out.
    let declined = app
        .post_as(
            &carol,
            &format!("/me/invitations/{second}/decline"),
            json!({}),
        )
        .await;
    assert_eq!(declined.status, 204);
    assert_eq!(invitation_rooms(&app, &carol).await, vec![first.clone()]);
    assert_eq!(
        app.get_as(&carol, &format!("/rooms/{second}")).await.status,
        404
    );
    let late = app
        .post_as(
            &carol,
            &format!("/me/invitations/{second}/accept"),
            json!({}),
        )
        .await;
    assert_eq!(late.status, 404, "a declined invitation cannot be accepted");

    // Accepted: a member, in her chat list; accepting again answers the room.
    let accepted = app
        .post_as(
            &carol,
            &format!("/me/invitations/{first}/accept"),
            json!({}),
        )
        .await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    assert_eq!(usernames(&accepted), ["alice", "bob", "carol"]);
    assert!(invitation_rooms(&app, &carol).await.is_empty());
    assert_eq!(app.summary(&carol, &first).await["id"], json!(first));
    let again = app
        .post_as(
            &carol,
            &format!("/me/invitations/{first}/accept"),
            json!({}),
        )
        .await;
    assert_eq!(again.status, 200);
    // Nobody can accept what was not offered to them.
    let stranger = app
        .post_as(
            &alice,
            &format!("/me/invitations/{second}/accept"),
            json!({}),
        )
        .await;
    assert_eq!(stranger.status, 404);
}

#[tokio::test]
async fn nobody_turns_adds_into_invitations_in_memory() {
    nobody_turns_adds_into_invitations_accepted_or_declined(TestApp::new()).await;
}

#[tokio::test]
async fn nobody_turns_adds_into_invitations_on_dynamodb_local() {
    nobody_turns_adds_into_invitations_accepted_or_declined(TestApp::on_dynamodb().await).await;
}

async fn someone_who_left_comes_back_only_by_accepting(app: TestApp) {
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    let room = app.room_of(&alice, "group", &[&bob]).await;
    let left = app
        .delete_as(&bob, &format!("/rooms/{room}/members/bob"))
        .await;
    assert_eq!(left.status, 204);
    let back = app
        .post_as(
            &alice,
            &format!("/rooms/{room}/members"),
            json!({"usernames": ["bob"]}),
        )
        .await;
    assert_eq!(back.status, 200, "{}", back.body);
    assert_eq!(usernames(&back), ["alice"], "not pulled back in");
    assert_eq!(
        app.get_as(&bob, &format!("/rooms/{room}")).await.status,
        404
    );
    assert_eq!(invitation_rooms(&app, &bob).await, vec![room.clone()]);
    let accepted = app
        .post_as(&bob, &format!("/me/invitations/{room}/accept"), json!({}))
        .await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    assert_eq!(
        app.get_as(&bob, &format!("/rooms/{room}")).await.status,
        200
    );
    // Back by his own choice, he is an ordinary member again: removed by the owner (not
    // leaving), a later add is direct.
    let removed = app
        .delete_as(&alice, &format!("/rooms/{room}/members/bob"))
        .await;
    assert_eq!(removed.status, 204);
    let readded = app
        .post_as(
            &alice,
            &format!("/rooms/{room}/members"),
            json!({"usernames": ["bob"]}),
        )
        .await;
    assert_eq!(usernames(&readded), ["alice", "bob"]);
}

#[tokio::test]
async fn someone_who_left_comes_back_only_by_accepting_in_memory() {
    someone_who_left_comes_back_only_by_accepting(TestApp::new()).await;
}

#[tokio::test]
async fn someone_who_left_comes_back_only_by_accepting_on_dynamodb_local() {
    someone_who_left_comes_back_only_by_accepting(TestApp::on_dynamodb().await).await;
}

async fn a_block_after_the_invitation_withdraws_it(app: TestApp) {
    let (alice, carol) = (app.register("alice").await, app.register("carol").await);
    app.patch_as(&carol, "/me", json!({"group_adds": "nobody"}))
        .await;
    let room = app.room_of(&alice, "group", &[&carol]).await;
    assert_eq!(invitation_rooms(&app, &carol).await, vec![room.clone()]);
    app.post_as(&carol, "/users/alice/block", json!({})).await;
    assert!(invitation_rooms(&app, &carol).await.is_empty());
    let accept = app
        .post_as(&carol, &format!("/me/invitations/{room}/accept"), json!({}))
        .await;
    assert_eq!(accept.status, 404);
}

#[tokio::test]
async fn a_block_after_the_invitation_withdraws_it_in_memory() {
    a_block_after_the_invitation_withdraws_it(TestApp::new()).await;
}

#[tokio::test]
async fn a_block_after_the_invitation_withdraws_it_on_dynamodb_local() {
    a_block_after_the_invitation_withdraws_it(TestApp::on_dynamodb().await).await;
}

async fn people(app: &TestApp, prefix: &str, n: usize) -> Vec<Account> {
    let mut all = Vec::with_capacity(n);
    for i in 0..n {
        all.push(app.register(&format!("{prefix}{i}")).await);
    }
    all
}

/// Statuses of `tasks` run at once.
async fn all_at_once(tasks: Vec<tokio::task::JoinHandle<Reply>>) -> Vec<Reply> {
    let mut replies = Vec::with_capacity(tasks.len());
    for t in tasks {
        replies.push(t.await.unwrap());
    }
    replies
}

fn count(replies: &[Reply], status: u16) -> usize {
    replies.iter().filter(|r| r.status == status).count()
}

async fn creations_and_adds_per_hour_hold_under_parallel_requests(on_dynamodb: bool) {
    let limits = Limits {
        rooms_per_user: 5,
        member_adds_per_user: 8,
        ..Limits::LOCAL
    };
    let app = Arc::new(app_with(limits, on_dynamodb).await);
    let alice = app.register("alice").await;
    let others = people(&app, "person", 12).await;

    // 12 creations at once (no members): exactly 5 pass.
    let tasks = (0..12)
        .map(|i| {
            let (app, alice) = (app.clone(), alice.clone());
            tokio::spawn(async move {
                let body = json!({"kind": "group", "name": format!("G{i}")});
                app.post_as(&alice, "/rooms", body).await
            })
        })
        .collect();
    let replies = all_at_once(tasks).await;
    assert_eq!((count(&replies, 201), count(&replies, 429)), (5, 7));
    let refused = replies.iter().find(|r| r.status == 429).unwrap();
    assert_eq!(refused.code(), "rate_limited");
    assert!(refused.header("retry-after").is_some());
    let room = replies.iter().find(|r| r.status == 201).unwrap().str("id");

    // 12 adds of one person each at once: exactly 8 people get in.
    let tasks = others
        .iter()
        .map(|p| {
            let (app, alice, name) = (app.clone(), alice.clone(), p.username.clone());
            let path = format!("/rooms/{room}/members");
            tokio::spawn(async move {
                app.post_as(&alice, &path, json!({"usernames": [name]}))
                    .await
            })
        })
        .collect();
    let replies = all_at_once(tasks).await;
    assert_eq!((count(&replies, 200), count(&replies, 429)), (8, 4));
    let members = app.get_as(&alice, &format!("/rooms/{room}")).await;
    assert_eq!(usernames(&members).len(), 9, "the owner and 8 added");
    // Another person's limits are their own.
    let bob = &others[0];
    let r = app
        .post_as(bob, "/rooms", json!({"kind": "group", "name": "Mine"}))
        .await;
    assert_eq!(r.status, 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creations_and_adds_per_hour_hold_under_parallel_requests_in_memory() {
    creations_and_adds_per_hour_hold_under_parallel_requests(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creations_and_adds_per_hour_hold_under_parallel_requests_on_dynamodb_local() {
    creations_and_adds_per_hour_hold_under_parallel_requests(true).await;
}

async fn the_member_ceiling_holds_under_parallel_adds(on_dynamodb: bool) {
    let limits = Limits {
        room_member_ceiling: 5,
        ..Limits::LOCAL
    };
    let app = Arc::new(app_with(limits, on_dynamodb).await);
    let alice = app.register("alice").await;
    let others = people(&app, "person", 10).await;
    let too_many: Vec<&str> = others.iter().take(5).map(|p| p.username.as_str()).collect();
    let r = app
        .post_as(
            &alice,
            "/rooms",
            json!({"kind": "group", "name": "Big", "members": too_many}),
        )
        .await;
    assert_eq!((r.status, r.code()), (422, "room_full"));
    let room = app.room_of(&alice, "group", &[&others[0]]).await;

    // 9 adds at once into a room of 2 with a ceiling of 5: exactly 3 get in.
    let tasks = others[1..]
        .iter()
        .map(|p| {
            let (app, alice, name) = (app.clone(), alice.clone(), p.username.clone());
            let path = format!("/rooms/{room}/members");
            tokio::spawn(async move {
                app.post_as(&alice, &path, json!({"usernames": [name]}))
                    .await
            })
        })
        .collect();
    let replies = all_at_once(tasks).await;
    assert_eq!((count(&replies, 200), count(&replies, 422)), (3, 6));
    assert!(
        replies
            .iter()
            .filter(|r| r.status == 422)
            .all(|r| r.code() == "room_full")
    );
    let members = app.get_as(&alice, &format!("/rooms/{room}")).await;
    assert_eq!(usernames(&members).len(), 5);

    // A leave frees a seat.
    let leaver = &others[0];
    let left = app
        .delete_as(
            leaver,
            &format!("/rooms/{room}/members/{}", leaver.username),
        )
        .await;
    assert_eq!(left.status, 204);
    let outside = replies.iter().position(|r| r.status == 422).unwrap();
    let r = app
        .post_as(
            &alice,
            &format!("/rooms/{room}/members"),
            json!({"usernames": [others[outside + 1].username]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(usernames(&r).len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_member_ceiling_holds_under_parallel_adds_in_memory() {
    the_member_ceiling_holds_under_parallel_adds(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_member_ceiling_holds_under_parallel_adds_on_dynamodb_local() {
    the_member_ceiling_holds_under_parallel_adds(true).await;
}
