//! GET/PATCH /me, GET /users/{username}, GET /users?q=, blocks.

mod support;

use serde_json::json;
use support::{PASSWORD, TestApp};

#[tokio::test]
async fn me_shows_the_whole_profile_to_its_owner() {
    let app = TestApp::new();
    let alice = app.register("alice").await;
    let me = app.call("GET", "/me", None, Some(&alice.access)).await;
    assert_eq!(me.status, 200);
    let mut keys: Vec<&String> = me.body.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "avatar_url",
            "bio",
            "created_at",
            "email",
            "first_name",
            "group_adds",
            "id",
            "last_name",
            "role",
            "username"
        ]
    );
}

#[tokio::test]
async fn patch_me_edits_and_clears_fields() {
    let app = TestApp::new();
    let alice = app.register("alice").await;
    let edited = app
        .call("PATCH", "/me", Some(json!({"first_name": "Alice", "last_name": "Liddell", "bio": "down the\nrabbit hole"})), Some(&alice.access))
        .await;
    assert_eq!(edited.status, 200);
    assert_eq!(edited.body["last_name"], "Liddell");
    let cleared = app
        .call(
            "PATCH",
            "/me",
            Some(json!({"bio": "", "avatar_upload_id": null})),
            Some(&alice.access),
        )
        .await;
    assert_eq!(cleared.status, 200);
    assert_eq!(cleared.body["bio"], "");
    assert_eq!(cleared.body["first_name"], "Alice");
    assert_eq!(cleared.body["avatar_url"], json!(null));
    assert_eq!(
        app.call("GET", "/me", None, Some(&alice.access)).await.body,
        cleared.body
    );
}

#[tokio::test]
async fn patch_me_changes_the_username_and_frees_the_old_one() {
    let app = TestApp::new();
    let alice = app.register("alice").await;
    let renamed = app
        .call(
            "PATCH",
            "/me",
            Some(json!({"username": "Alice.L"})),
            Some(&alice.access),
        )
        .await;
    assert_eq!(renamed.status, 200);
    assert_eq!(renamed.body["username"], "alice.l");
    assert_eq!(app.login("alice.l", PASSWORD).await.status, 200);
    assert_eq!(app.login("alice", PASSWORD).await.status, 401);
    // The old name is free for someone else now.
    let newcomer = app.register_with("alice", "newcomer@example.com").await;
    assert_ne!(newcomer.id, alice.id);
}

#[tokio::test]
async fn keeping_your_own_username_is_not_an_error() {
    let app = TestApp::new();
    let alice = app.register("alice").await;
    let same = app
        .call(
            "PATCH",
            "/me",
            Some(json!({"username": "ALICE", "bio": "x"})),
            Some(&alice.access),
        )
        .await;
    assert_eq!(same.status, 200);
    assert_eq!(same.body["bio"], "x");
}

#[tokio::test]
async fn taking_someone_elses_username_is_409() {
    let app = TestApp::new();
    let alice = app.register("alice").await;
    app.register("bob").await;
    let reply = app
        .call(
            "PATCH",
            "/me",
            Some(json!({"username": "bob"})),
            Some(&alice.access),
        )
        .await;
    assert_eq!(reply.status, 409);
    assert_eq!(reply.code(), "username_taken");
}

#[tokio::test]
async fn renaming_into_a_bootstrap_admin_name_grants_nothing() {
    let app = TestApp::new(); // the local server's --admins = root, not registered yet
    let alice = app.register("alice").await;
    let reply = app
        .call(
            "PATCH",
            "/me",
            Some(json!({"username": "root"})),
            Some(&alice.access),
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["role"], "user");
}

#[tokio::test]
async fn patch_me_refuses_fields_it_does_not_own_and_bad_values() {
    let app = TestApp::new();
    let alice = app.register("alice").await;
    let email = app
        .call(
            "PATCH",
            "/me",
            Some(json!({"email": "x@example.com"})),
            Some(&alice.access),
        )
        .await;
    assert_eq!(email.status, 400);
    assert_eq!(email.body["errors"][0]["field"], "email");
    let bad = app
        .call(
            "PATCH",
            "/me",
            Some(json!({"username": "no way", "bio": "b".repeat(501)})),
            Some(&alice.access),
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.body["errors"].as_array().unwrap().len(), 2);
    let avatar = app
        .call(
            "PATCH",
            "/me",
            Some(json!({"avatar_upload_id": "u1"})),
            Some(&alice.access),
        )
        .await;
    assert_eq!(avatar.status, 400);
    assert_eq!(avatar.body["errors"][0]["field"], "avatar_upload_id");
    // Nothing changed.
    let me = app.call("GET", "/me", None, Some(&alice.access)).await;
    assert_eq!(
        (me.body["username"].as_str(), me.body["bio"].as_str()),
        (Some("alice"), Some(""))
    );
}

#[tokio::test]
async fn public_profiles_never_show_an_email() {
    let app = TestApp::new();
    let alice = app.register("alice").await;
    app.register("bob").await;
    let bob = app
        .call("GET", "/users/BOB", None, Some(&alice.access))
        .await;
    assert_eq!(bob.status, 200);
    assert_eq!(bob.body["username"], "bob");
    assert!(bob.body.get("email").is_none());
    assert!(bob.body.get("role").is_none());
}

#[tokio::test]
async fn an_unknown_profile_is_404() {
    let app = TestApp::new();
    let alice = app.register("alice").await;
    for name in ["nobody", "not a name", "%00"] {
        let reply = app
            .call("GET", &format!("/users/{name}"), None, Some(&alice.access))
            .await;
        assert_eq!(reply.status, 404, "{name}");
    }
}

#[tokio::test]
async fn profiles_need_a_token() {
    let app = TestApp::new();
    app.register("alice").await;
    assert_eq!(
        app.call("GET", "/users/alice", None, None).await.status,
        401
    );
    assert_eq!(app.call("GET", "/me", None, None).await.status, 401);
}

#[tokio::test]
async fn search_matches_a_username_prefix_and_excludes_the_caller() {
    let app = TestApp::new();
    let alice = app.register("alice").await;
    for name in ["alfred", "albert", "bob", "al.x"] {
        app.register(name).await;
    }
    let found = app
        .call("GET", "/users?q=%40AL", None, Some(&alice.access))
        .await;
    assert_eq!(found.status, 200);
    let names: Vec<&str> = found.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["al.x", "albert", "alfred"]);
    assert!(found.body["items"][0].get("email").is_none());
}

#[tokio::test]
async fn search_returns_at_most_limit_default_10() {
    let app = TestApp::new();
    let me = app.register("zed").await;
    for i in 0..12 {
        app.register(&format!("user{i:02}")).await;
    }
    let default = app
        .call("GET", "/users?q=user", None, Some(&me.access))
        .await;
    assert_eq!(default.body["items"].as_array().unwrap().len(), 10);
    let three = app
        .call("GET", "/users?q=user&limit=3", None, Some(&me.access))
        .await;
    assert_eq!(three.body["items"].as_array().unwrap().len(), 3);
    for bad in ["0", "101", "x", "-1"] {
        let reply = app
            .call(
                "GET",
                &format!("/users?q=user&limit={bad}"),
                None,
                Some(&me.access),
            )
            .await;
        assert_eq!(reply.status, 400, "{bad}");
        assert_eq!(reply.body["errors"][0]["field"], "limit");
    }
}

#[tokio::test]
async fn search_needs_a_sensible_query() {
    let app = TestApp::new();
    let me = app.register("alice").await;
    for q in ["", "@", "a%20b", &"a".repeat(31)] {
        let reply = app
            .call("GET", &format!("/users?q={q}"), None, Some(&me.access))
            .await;
        assert_eq!(reply.status, 400, "{q}");
    }
    assert_eq!(
        app.call("GET", "/users", None, Some(&me.access))
            .await
            .status,
        400
    );
}

#[tokio::test]
async fn blocking_and_unblocking_are_idempotent_and_listed() {
    let app = TestApp::new();
    let alice = app.register("alice").await;
    app.register("bob").await;
    app.register("carol").await;
    for name in ["bob", "carol", "bob"] {
        assert_eq!(
            app.call(
                "POST",
                &format!("/users/{name}/block"),
                None,
                Some(&alice.access)
            )
            .await
            .status,
            204
        );
    }
    let list = app
        .call("GET", "/me/blocks", None, Some(&alice.access))
        .await;
    let mut names: Vec<&str> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["bob", "carol"]);
    assert_eq!(list.body["next_cursor"], json!(null));
    assert_eq!(
        app.call("DELETE", "/users/bob/block", None, Some(&alice.access))
            .await
            .status,
        204
    );
    assert_eq!(
        app.call("DELETE", "/users/bob/block", None, Some(&alice.access))
            .await
            .status,
        204
    );
    let after = app
        .call("GET", "/me/blocks", None, Some(&alice.access))
        .await;
    assert_eq!(after.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(after.body["items"][0]["username"], "carol");
}

#[tokio::test]
async fn blocks_page_with_a_cursor() {
    let app = TestApp::new();
    let alice = app.register("alice").await;
    for i in 0..5 {
        let name = format!("user{i}");
        app.register(&name).await;
        app.call(
            "POST",
            &format!("/users/{name}/block"),
            None,
            Some(&alice.access),
        )
        .await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/me/blocks?limit=2&cursor={c}"),
            None => "/me/blocks?limit=2".to_owned(),
        };
        let page = app.call("GET", &path, None, Some(&alice.access)).await;
        assert_eq!(page.status, 200);
        let items = page.body["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(
            items
                .iter()
                .map(|u| u["username"].as_str().unwrap().to_owned()),
        );
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    seen.sort();
    assert_eq!(seen, ["user0", "user1", "user2", "user3", "user4"]);
    let bad = app
        .call("GET", "/me/blocks?cursor=junk", None, Some(&alice.access))
        .await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn blocking_yourself_or_nobody_is_refused() {
    let app = TestApp::new();
    let alice = app.register("alice").await;
    let me = app
        .call("POST", "/users/alice/block", None, Some(&alice.access))
        .await;
    assert_eq!(me.status, 422);
    assert_eq!(me.code(), "self_block");
    assert_eq!(
        app.call("POST", "/users/nobody/block", None, Some(&alice.access))
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn a_block_is_visible_to_the_store_for_other_features() {
    let app = TestApp::new();
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    app.call("POST", "/users/bob/block", None, Some(&alice.access))
        .await;
    let (a, b) = (
        chatman::domain::UserId::parse(&alice.id).unwrap(),
        chatman::domain::UserId::parse(&bob.id).unwrap(),
    );
    assert!(app.store.is_blocked(&a, &b).await.unwrap());
    assert!(!app.store.is_blocked(&b, &a).await.unwrap());
}
