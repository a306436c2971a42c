//! Rooms over HTTP: every permission rule of API.md's "Rooms and messages" about rooms, bad
//! input, and the room events each change hands to `Push`.
// Helpers here are plain functions called from #[test]s: a panic in them is a failing test.
#![allow(clippy::unwrap_used)]

mod support;

use serde_json::json;
use support::TestApp;

#[tokio::test]
async fn a_direct_room_is_one_per_pair_and_asking_again_answers_200_with_it() {
    let app = TestApp::new();
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    let first = app.direct(&alice, &bob).await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.body["kind"], "direct");
    assert_eq!(
        first.body["name"], "bob",
        "a direct room is named after the other person"
    );
    assert_eq!(first.body["members"].as_array().unwrap().len(), 2);
    let again = app.direct(&bob, &alice).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["id"], first.body["id"]);
    assert_eq!(again.body["name"], "alice");
}

async fn ten_parallel_creations_by_both_people_make_one_room(app: TestApp) {
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    let app = std::sync::Arc::new(app);
    let mut tasks = vec![];
    for i in 0..10 {
        let (app, a, b) = (app.clone(), alice.clone(), bob.clone());
        tasks.push(tokio::spawn(async move {
            let r = if i % 2 == 0 {
                app.direct(&a, &b).await
            } else {
                app.direct(&b, &a).await
            };
            (r.status, r.str("id"))
        }));
    }
    let mut ids = std::collections::BTreeSet::new();
    let mut created = 0;
    for t in tasks {
        let (status, id) = t.await.unwrap();
        assert!(status == 200 || status == 201, "{status}");
        created += usize::from(status == 201);
        ids.insert(id);
    }
    assert_eq!((created, ids.len()), (1, 1));
    let list = app.get_as(&alice, "/rooms").await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_parallel_direct_creations_make_one_room_in_memory() {
    ten_parallel_creations_by_both_people_make_one_room(TestApp::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_parallel_direct_creations_make_one_room_on_dynamodb_local() {
    ten_parallel_creations_by_both_people_make_one_room(TestApp::on_dynamodb().await).await;
}

#[tokio::test]
async fn no_direct_room_with_yourself_an_unknown_person_or_across_a_block() {
    let app = TestApp::new();
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    app.register("carol").await;
    let me = app.direct(&alice, &alice).await;
    assert_eq!((me.status, me.code()), (400, "validation_failed"));
    let ghost = app
        .post_as(
            &alice,
            "/rooms",
            json!({"kind": "direct", "username": "nobody_here"}),
        )
        .await;
    assert_eq!(ghost.status, 404);
    let no_name = app
        .post_as(&alice, "/rooms", json!({"kind": "direct"}))
        .await;
    assert_eq!(no_name.status, 400);
    let named = app
        .post_as(
            &alice,
            "/rooms",
            json!({"kind": "direct", "username": "bob", "name": "x"}),
        )
        .await;
    assert_eq!(
        (named.status, named.body["errors"][0]["field"].as_str()),
        (400, Some("name"))
    );
    // A block forbids the room both ways.
    assert_eq!(
        app.post_as(&bob, "/users/alice/block", json!({}))
            .await
            .status,
        204
    );
    let blocked = app.direct(&alice, &bob).await;
    assert_eq!((blocked.status, blocked.code()), (403, "blocked"));
    let blocker = app.direct(&bob, &alice).await;
    assert_eq!((blocker.status, blocker.code()), (403, "blocked"));
    // Nor can either put the other in a group (room_consent.rs has the whole rule).
    let group = app
        .post_as(
            &alice,
            "/rooms",
            json!({"kind": "group", "name": "G", "members": ["bob", "carol"]}),
        )
        .await;
    assert_eq!(group.status, 400, "{}", group.body);
    assert!(
        app.get_as(&bob, "/rooms").await.body["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn non_members_get_404_for_everything_about_a_room() {
    let app = TestApp::new();
    let (alice, bob, eve) = (
        app.register("alice").await,
        app.register("bob").await,
        app.register("eve").await,
    );
    let room = app.room_of(&alice, "group", &[&bob]).await;
    let msg = app.say(&alice, &room, "secret").await.str("id");
    let unknown = chatman::domain::RoomId::new().to_string();
    for id in [room.as_str(), unknown.as_str(), "not-an-id", "%20"] {
        let calls = [
            app.get_as(&eve, &format!("/rooms/{id}")).await,
            app.patch_as(&eve, &format!("/rooms/{id}"), json!({"name": "mine"}))
                .await,
            app.delete_as(&eve, &format!("/rooms/{id}")).await,
            app.post_as(
                &eve,
                &format!("/rooms/{id}/members"),
                json!({"usernames": ["eve"]}),
            )
            .await,
            app.delete_as(&eve, &format!("/rooms/{id}/members/bob"))
                .await,
            app.patch_as(
                &eve,
                &format!("/rooms/{id}/members/bob"),
                json!({"role": "admin"}),
            )
            .await,
            app.get_as(&eve, &format!("/rooms/{id}/messages")).await,
            app.say(&eve, id, "hi").await,
            app.delete_as(&eve, &format!("/rooms/{id}/messages/{msg}"))
                .await,
            app.post_as(
                &eve,
                &format!("/rooms/{id}/read"),
                json!({"message_id": msg}),
            )
            .await,
        ];
        for r in calls {
            assert_eq!((r.status, r.code()), (404, "not_found"), "{id}: {}", r.body);
        }
    }
    assert_eq!(
        app.history_ids(&alice, &room).await,
        vec![msg],
        "nothing changed"
    );
    assert!(
        app.received(&eve).is_empty(),
        "a non-member never receives anything"
    );
}

#[tokio::test]
async fn bad_room_creations_are_refused_and_nothing_is_written() {
    let app = TestApp::new();
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    let many: Vec<String> = (0..500).map(|i| format!("user{i}")).collect();
    let cases = [
        json!({"kind": "group"}),
        json!({"kind": "group", "name": "  "}),
        json!({"kind": "group", "name": "x".repeat(101)}),
        json!({"kind": "group", "name": "G", "description": "x".repeat(501)}),
        json!({"kind": "club", "name": "G"}),
        json!({"kind": "group", "name": "G", "members": ["bob", "nobody_here"]}),
        json!({"kind": "group", "name": "G", "members": ["alice"]}),
        json!({"kind": "group", "name": "G", "members": many}),
        json!({"kind": "group", "name": "G", "username": "bob"}),
        json!({"kind": "group", "name": "G", "extra": 1}),
        json!({"kind": "group", "name": 5}),
    ];
    for body in cases {
        let r = app.post_as(&alice, "/rooms", body.clone()).await;
        assert_eq!(
            (r.status, r.code()),
            (400, "validation_failed"),
            "{body}: {}",
            r.body
        );
    }
    assert_eq!(app.get_as(&bob, "/rooms").await.body["items"], json!([]));
    assert_eq!(app.get_as(&alice, "/rooms").await.body["items"], json!([]));
}

#[tokio::test]
async fn the_creator_owns_a_group_and_channels_post_admins_only() {
    let app = TestApp::new();
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    let r = app
        .post_as(
            &alice,
            "/rooms",
            json!({"kind": "channel", "name": " News ", "description": "d", "members": ["bob"]}),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(
        (r.body["name"].as_str(), r.body["posting"].as_str()),
        (Some("News"), Some("admins"))
    );
    let roles: Vec<(String, String)> = r.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["user"]["username"].as_str().unwrap().to_owned(),
                m["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        roles,
        vec![
            ("alice".into(), "owner".into()),
            ("bob".into(), "member".into())
        ]
    );
    assert!(
        r.body["members"][0]["user"].get("email").is_none(),
        "no email of anyone"
    );
    let got = app.get_as(&bob, &format!("/rooms/{}", r.str("id"))).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["id"], r.body["id"]);
}

#[tokio::test]
async fn owner_and_admins_add_members_all_or_nothing_and_plain_members_cannot() {
    let app = TestApp::new();
    let (alice, bob, carol, dave) = (
        app.register("alice").await,
        app.register("bob").await,
        app.register("carol").await,
        app.register("dave").await,
    );
    let room = app.room_of(&alice, "group", &[&bob]).await;
    let path = format!("/rooms/{room}/members");
    let r = app
        .post_as(&bob, &path, json!({"usernames": ["carol"]}))
        .await;
    assert_eq!((r.status, r.code()), (403, "forbidden"));
    let many: Vec<String> = (0..500).map(|i| format!("user{i}")).collect();
    for (body, field) in [
        (
            json!({"usernames": ["carol", "nobody_here"]}),
            "usernames[1]",
        ),
        (json!({"usernames": ["carol", "alice"]}), "usernames[1]"),
        (json!({"usernames": ["bob", "carol"]}), "usernames[0]"),
        (json!({"usernames": many}), "usernames"),
        (json!({"usernames": []}), "usernames"),
        (json!({"usernames": "carol"}), "usernames"),
    ] {
        let r = app.post_as(&alice, &path, body.clone()).await;
        assert_eq!((r.status, r.code()), (400, "validation_failed"), "{body}");
        assert_eq!(r.body["errors"][0]["field"], field, "{body}: {}", r.body);
    }
    assert_eq!(
        app.get_as(&carol, &format!("/rooms/{room}")).await.status,
        404,
        "nothing half-written"
    );
    let r = app
        .patch_as(
            &alice,
            &format!("/rooms/{room}/members/bob"),
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = app
        .post_as(&bob, &path, json!({"usernames": ["carol", "dave"]}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["members"].as_array().unwrap().len(), 4);
    assert_eq!(
        app.get_as(&dave, &format!("/rooms/{room}")).await.status,
        200
    );
    // A direct room has exactly its two people.
    let direct = app.direct(&alice, &bob).await.str("id");
    let r = app
        .post_as(
            &alice,
            &format!("/rooms/{direct}/members"),
            json!({"usernames": ["carol"]}),
        )
        .await;
    assert_eq!((r.status, r.code()), (422, "direct_room"));
}

#[tokio::test]
async fn only_the_owner_changes_roles_and_transferring_makes_the_old_owner_an_admin() {
    let app = TestApp::new();
    let (alice, bob, carol) = (
        app.register("alice").await,
        app.register("bob").await,
        app.register("carol").await,
    );
    let room = app.room_of(&alice, "group", &[&bob, &carol]).await;
    let role = |who: &str| format!("/rooms/{room}/members/{who}");
    assert_eq!(
        app.patch_as(&alice, &role("bob"), json!({"role": "admin"}))
            .await
            .status,
        200
    );
    let r = app
        .patch_as(&bob, &role("carol"), json!({"role": "admin"}))
        .await;
    assert_eq!(
        (r.status, r.code()),
        (403, "forbidden"),
        "admins do not change roles"
    );
    for bad in [
        json!({"role": "king"}),
        json!({"role": "Owner"}),
        json!({}),
        json!({"role": 1}),
    ] {
        let r = app.patch_as(&alice, &role("carol"), bad.clone()).await;
        assert_eq!((r.status, r.code()), (400, "validation_failed"), "{bad}");
    }
    let r = app
        .patch_as(&alice, &role("alice"), json!({"role": "member"}))
        .await;
    assert_eq!((r.status, r.code()), (422, "owner_cannot_be_demoted"));
    let r = app
        .patch_as(&alice, &role("nobody_here"), json!({"role": "admin"}))
        .await;
    assert_eq!(r.status, 404);
    let r = app
        .patch_as(&alice, &role("carol"), json!({"role": "owner"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let roles: std::collections::BTreeMap<String, String> = r.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["user"]["username"].as_str().unwrap().to_owned(),
                m["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(roles["carol"], "owner");
    assert_eq!(roles["alice"], "admin", "the old owner becomes admin");
    assert_eq!(roles["bob"], "admin");
    // The old owner cannot delete the room any more; the new owner can.
    assert_eq!(
        app.delete_as(&alice, &format!("/rooms/{room}"))
            .await
            .status,
        403
    );
    assert_eq!(
        app.delete_as(&carol, &format!("/rooms/{room}"))
            .await
            .status,
        204
    );
    assert_eq!(
        app.get_as(&bob, &format!("/rooms/{room}")).await.status,
        404
    );
}

#[tokio::test]
async fn leaving_and_removing_follow_the_roles() {
    let app = TestApp::new();
    let (alice, bob, carol, dave) = (
        app.register("alice").await,
        app.register("bob").await,
        app.register("carol").await,
        app.register("dave").await,
    );
    let room = app.room_of(&alice, "group", &[&bob, &carol, &dave]).await;
    let member = |who: &str| format!("/rooms/{room}/members/{who}");
    app.patch_as(&alice, &member("bob"), json!({"role": "admin"}))
        .await;
    // Plain members remove nobody but themselves.
    assert_eq!(app.delete_as(&carol, &member("dave")).await.status, 403);
    // Admins remove plain members, not admins or the owner.
    assert_eq!(app.delete_as(&bob, &member("dave")).await.status, 204);
    assert_eq!(app.delete_as(&bob, &member("alice")).await.status, 403);
    app.patch_as(&alice, &member("carol"), json!({"role": "admin"}))
        .await;
    assert_eq!(app.delete_as(&bob, &member("carol")).await.status, 403);
    // The owner removes anyone; the owner cannot leave.
    let r = app.delete_as(&alice, &member("alice")).await;
    assert_eq!((r.status, r.code()), (422, "owner_cannot_leave"));
    assert_eq!(app.delete_as(&alice, &member("carol")).await.status, 204);
    // Anyone else may leave.
    assert_eq!(app.delete_as(&bob, &member("bob")).await.status, 204);
    for gone in [&bob, &carol, &dave] {
        assert_eq!(
            app.get_as(gone, &format!("/rooms/{room}")).await.status,
            404
        );
        assert_eq!(app.say(gone, &room, "still here?").await.status, 404);
    }
    assert_eq!(
        app.delete_as(&alice, &member("dave")).await.status,
        404,
        "no longer a member"
    );
    let direct = app.direct(&alice, &bob).await.str("id");
    let r = app
        .delete_as(&bob, &format!("/rooms/{direct}/members/bob"))
        .await;
    assert_eq!((r.status, r.code()), (422, "direct_room"));
}

#[tokio::test]
async fn owner_and_admins_edit_settings_and_a_direct_room_cannot_be_edited() {
    let app = TestApp::new();
    let (alice, bob, carol) = (
        app.register("alice").await,
        app.register("bob").await,
        app.register("carol").await,
    );
    let room = app.room_of(&alice, "group", &[&bob, &carol]).await;
    let path = format!("/rooms/{room}");
    assert_eq!(
        app.patch_as(&carol, &path, json!({"name": "Mine"}))
            .await
            .status,
        403
    );
    app.patch_as(
        &alice,
        &format!("/rooms/{room}/members/bob"),
        json!({"role": "admin"}),
    )
    .await;
    let r = app
        .patch_as(
            &bob,
            &path,
            json!({"name": "Renamed", "description": "", "posting": "admins"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (
            r.body["name"].as_str(),
            r.body["description"].as_str(),
            r.body["posting"].as_str()
        ),
        (Some("Renamed"), Some(""), Some("admins"))
    );
    for bad in [
        json!({"name": ""}),
        json!({"posting": "nobody"}),
        json!({"avatar_upload_id": "u1"}),
        json!({"description": "x".repeat(501)}),
        json!({"kind": "channel"}),
    ] {
        let r = app.patch_as(&alice, &path, bad.clone()).await;
        assert_eq!((r.status, r.code()), (400, "validation_failed"), "{bad}");
    }
    assert_eq!(
        app.get_as(&carol, &path).await.body["name"],
        "Renamed",
        "refusals changed nothing"
    );
    let channel = app.room_of(&alice, "channel", &[]).await;
    let r = app
        .patch_as(
            &alice,
            &format!("/rooms/{channel}"),
            json!({"posting": "everyone"}),
        )
        .await;
    assert_eq!(r.status, 400);
    let direct = app.direct(&alice, &bob).await.str("id");
    let r = app
        .patch_as(&alice, &format!("/rooms/{direct}"), json!({"name": "x"}))
        .await;
    assert_eq!((r.status, r.code()), (422, "direct_room"));
    let r = app.delete_as(&alice, &format!("/rooms/{direct}")).await;
    assert_eq!((r.status, r.code()), (422, "direct_room"));
}

#[tokio::test]
async fn room_events_reach_exactly_the_people_concerned() {
    let app = TestApp::new();
    let (alice, bob, carol, eve) = (
        app.register("alice").await,
        app.register("bob").await,
        app.register("carol").await,
        app.register("eve").await,
    );
    let room = app.room_of(&alice, "group", &[&bob]).await;
    assert_eq!(app.received(&alice), vec!["room/added"]);
    assert_eq!(app.received(&bob), vec!["room/added"]);
    app.post_as(
        &alice,
        &format!("/rooms/{room}/members"),
        json!({"usernames": ["carol"]}),
    )
    .await;
    assert_eq!(app.received(&carol), vec!["room/added"]);
    assert_eq!(app.received(&bob), vec!["room/added", "room/updated"]);
    app.delete_as(&alice, &format!("/rooms/{room}/members/bob"))
        .await;
    assert_eq!(
        app.received(&bob),
        vec!["room/added", "room/updated", "room/removed"]
    );
    // After removal bob receives nothing about the room.
    app.patch_as(&alice, &format!("/rooms/{room}"), json!({"name": "New"}))
        .await;
    app.say(&alice, &room, "hello").await;
    app.delete_as(&alice, &format!("/rooms/{room}")).await;
    assert_eq!(
        app.received(&bob),
        vec!["room/added", "room/updated", "room/removed"]
    );
    assert_eq!(
        app.received(&carol),
        vec![
            "room/added",
            "room/updated",
            "room/updated",
            "message",
            "room/deleted"
        ]
    );
    assert!(app.received(&eve).is_empty());
    let last = app.push.events().last().cloned().unwrap().1;
    assert_eq!(
        last.to_json(),
        json!({"type": "room", "event": "deleted", "room_id": room})
    );
}

/// The crash between the mark and the clean-up, over HTTP: the function that deleted the room
/// died right after its one conditional write. The room is already gone for everyone; a repeat
/// DELETE by anyone but the owner, or by the owner while the dead request's hold lasts, takes
/// nothing over; the owner's DELETE after the hold finishes the clean-up and still answers 404.
async fn a_repeat_delete_by_the_owner_finishes_a_stopped_clean_up(app: TestApp) {
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    let room = app.room_of(&alice, "group", &[&bob]).await;
    assert_eq!(app.say(&alice, &room, "hello").await.status, 201);
    assert_eq!(app.say(&bob, &room, "hi").await.status, 201);
    let id = chatman::domain::RoomId::parse(&room).unwrap();
    let owner = chatman::domain::UserId::parse(&alice.id).unwrap();
    let stored = app.chat.chat.room(&id).await.unwrap().unwrap();
    let hold = time::Duration::seconds(30);
    app.chat
        .chat
        .delete_room(&stored, &owner, app.clock_now() + hold)
        .await
        .unwrap();

    for who in [&alice, &bob] {
        assert_eq!(app.get_as(who, &format!("/rooms/{room}")).await.status, 404);
        let listed = app.get_as(who, "/rooms").await;
        assert_eq!(listed.body["items"], json!([]), "{}", listed.body);
    }
    let left = app.traces_of(&room).await;
    assert!(
        !left.is_empty(),
        "the stopped clean-up left the room's items"
    );

    // Within the hold the dead request may still be running: nobody takes over.
    let early = app.delete_as(&alice, &format!("/rooms/{room}")).await;
    assert_eq!((early.status, early.code()), (404, "not_found"));
    assert_eq!(app.traces_of(&room).await, left);
    app.advance(hold + time::Duration::seconds(1));
    // Not bob's deletion: his DELETE answers 404 and leaves it for its owner.
    assert_eq!(
        app.delete_as(&bob, &format!("/rooms/{room}")).await.status,
        404
    );
    assert_eq!(app.traces_of(&room).await, left);
    let finished = app.delete_as(&alice, &format!("/rooms/{room}")).await;
    assert_eq!(
        finished.status, 404,
        "the room stays gone: {}",
        finished.body
    );
    assert_eq!(app.traces_of(&room).await, Vec::<String>::new());
    // Nothing of it comes back, and the owner can carry on.
    assert_eq!(app.get_as(&alice, "/rooms").await.body["items"], json!([]));
    let next = app.room_of(&alice, "group", &[&bob]).await;
    assert_eq!(app.say(&bob, &next, "again").await.status, 201);
}

#[tokio::test]
async fn a_stopped_room_deletion_is_finished_by_its_owner_in_memory() {
    a_repeat_delete_by_the_owner_finishes_a_stopped_clean_up(TestApp::new()).await;
}

#[tokio::test]
async fn a_stopped_room_deletion_is_finished_by_its_owner_on_dynamodb_local() {
    a_repeat_delete_by_the_owner_finishes_a_stopped_clean_up(TestApp::on_dynamodb().await).await;
}

/// Eight DELETEs of one channel at once by its owner: one 204, the others 404 (the room was
/// gone when they wrote), one `deleted` event for each member, and nothing left of the room.
async fn parallel_deletes_of_a_channel_answer_204_once(app: TestApp) {
    let (alice, bob, carol) = (
        app.register("alice").await,
        app.register("bob").await,
        app.register("carol").await,
    );
    let room = app.room_of(&alice, "channel", &[&bob, &carol]).await;
    assert_eq!(app.say(&alice, &room, "news").await.status, 201);
    let app = std::sync::Arc::new(app);
    let racers: Vec<_> = (0..8)
        .map(|_| {
            let (app, alice, path) = (app.clone(), alice.clone(), format!("/rooms/{room}"));
            tokio::spawn(async move { app.delete_as(&alice, &path).await.status })
        })
        .collect();
    let mut statuses = vec![];
    for r in racers {
        statuses.push(r.await.unwrap());
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [204, 404, 404, 404, 404, 404, 404, 404]);
    for who in [&alice, &bob, &carol] {
        let deleted = app
            .received(who)
            .into_iter()
            .filter(|e| e == "room/deleted")
            .count();
        assert_eq!(deleted, 1, "{} was told once", who.username);
    }
    assert_eq!(app.traces_of(&room).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_deletes_of_a_channel_answer_204_once_in_memory() {
    parallel_deletes_of_a_channel_answer_204_once(TestApp::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_deletes_of_a_channel_answer_204_once_on_dynamodb_local() {
    parallel_deletes_of_a_channel_answer_204_once(TestApp::on_dynamodb().await).await;
}
