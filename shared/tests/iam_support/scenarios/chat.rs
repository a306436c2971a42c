//! rooms and messages over HTTP: every route, the refusals (blocked, not a member), and the
//! pushes they fan out to a live and a stale connection.

use super::{field, statuses};
use crate::iam_support::deployment::Deployment;
use serde_json::json;

pub async fn run(d: &Deployment) {
    let owner = d.person("owner").await;
    let member = d.person("member").await;
    let guest = d.person("guest").await;
    let grump = d.person("grump").await;
    let me = Some(owner.access.as_str());
    assert_eq!(d.connect(&member, "member-live").await, 200);

    // rooms
    assert_eq!(d.connect(&member, "gone-member-1").await, 200);
    let direct = json!({"kind": "direct", "username": "member"});
    let direct = d.call("POST", "/rooms", Some(direct.clone()), me).await;
    let again = json!({"kind": "direct", "username": "member"});
    let again = d.call("POST", "/rooms", Some(again), me).await;
    d.rec.serving("setup");
    let block = d
        .app
        .call("POST", "/users/owner/block", None, Some(&grump.access));
    assert_eq!(block.await.status, 204);
    let blocked = json!({"kind": "direct", "username": "grump"});
    let blocked = d.call("POST", "/rooms", Some(blocked), me).await;
    let group = json!({"kind": "group", "name": "Team", "members": ["member"]});
    let group = d.call("POST", "/rooms", Some(group), me).await;
    // A channel subscribes its members' live connections; removing one unsubscribes them.
    let channel = json!({"kind": "channel", "name": "News", "members": ["member"]});
    let channel = d.call("POST", "/rooms", Some(channel), me).await;
    let unsubscribed = format!("/rooms/{}/members/member", field(&channel.body, "id"));
    let unsubscribed = d.call("DELETE", &unsubscribed, None, me).await;
    assert_eq!(statuses(&[&channel, &unsubscribed]), [201, 204]);
    let room = format!("/rooms/{}", field(&group.body, "id"));
    let list = d.call("GET", "/rooms?limit=5", None, me).await;
    let one = d.call("GET", &room, None, me).await;
    let hidden = d.call("GET", &room, None, Some(&guest.access)).await;
    let edit = json!({"name": "Team A", "posting": "everyone"});
    let edit = d.call("PATCH", &room, Some(edit), me).await;
    let add = json!({"usernames": ["guest"]});
    let add = d
        .call("POST", &format!("{room}/members"), Some(add), me)
        .await;
    let promote = json!({"role": "admin"});
    let member_path = format!("{room}/members/member");
    let promote = d.call("PATCH", &member_path, Some(promote), me).await;
    let remove = format!("{room}/members/guest");
    let remove = d.call("DELETE", &remove, None, me).await;
    assert_eq!(
        statuses(&[
            &direct, &again, &blocked, &group, &list, &one, &hidden, &edit, &add, &promote, &remove
        ]),
        [201, 200, 403, 201, 200, 200, 404, 200, 200, 200, 204],
        "{}",
        group.body
    );

    // invitations: an add of someone who accepts groups from nobody, accepted; then they leave
    // and a second add is an invitation they decline.
    d.rec.serving("setup");
    let private = json!({"group_adds": "nobody"});
    let private = d
        .app
        .call("PATCH", "/me", Some(private), Some(&guest.access));
    assert_eq!(private.await.status, 200);
    let guest_me = Some(guest.access.as_str());
    let room_id = field(&group.body, "id");
    let invite = json!({"usernames": ["guest"]});
    let invite = d
        .call("POST", &format!("{room}/members"), Some(invite), me)
        .await;
    let invitations = d.call("GET", "/me/invitations", None, guest_me).await;
    let accept = format!("/me/invitations/{room_id}/accept");
    let accept = d.call("POST", &accept, None, guest_me).await;
    let leave = format!("{room}/members/guest");
    let leave = d.call("DELETE", &leave, None, guest_me).await;
    let again = json!({"usernames": ["guest"]});
    let again = d
        .call("POST", &format!("{room}/members"), Some(again), me)
        .await;
    let decline = format!("/me/invitations/{room_id}/decline");
    let decline = d.call("POST", &decline, None, guest_me).await;
    assert_eq!(
        statuses(&[&invite, &invitations, &accept, &leave, &again, &decline]),
        [200, 200, 200, 204, 200, 204],
        "{}",
        invitations.body
    );

    // messages
    assert_eq!(d.connect(&member, "gone-member-2").await, 200);
    let messages = format!("{room}/messages");
    let hello = json!({"text": "hello", "client_id": "m-1"});
    let sent = d.call("POST", &messages, Some(hello), me).await;
    let id = field(&sent.body, "id");
    let history = d
        .call("GET", &format!("{messages}?limit=1"), None, me)
        .await;
    let cursor_body = &history.body;
    // A retry under the same client id reads its guard and the message; a catch-up queries the
    // seq pointers and the messages after them.
    let retry = json!({"text": "hello", "client_id": "m-1"});
    let retry = d.call("POST", &messages, Some(retry), me).await;
    let after = d
        .call("GET", &format!("{messages}?after_seq=0"), None, me)
        .await;
    let read = json!({"message_id": id});
    let read_path = format!("{room}/read");
    let read_again = Some(read.clone());
    let read = d
        .call("POST", &read_path, Some(read), Some(&member.access))
        .await;
    // Already read that far: the conditional update fails and the marker is read back.
    let read_again = d
        .call("POST", &read_path, read_again, Some(&member.access))
        .await;
    let outsider = json!({"text": "let me in"});
    let outsider = d
        .call("POST", &messages, Some(outsider), Some(&guest.access))
        .await;
    let delete = format!("{messages}/{id}");
    let delete = d.call("DELETE", &delete, None, me).await;
    assert_eq!(
        statuses(&[
            &sent,
            &history,
            &retry,
            &after,
            &read,
            &read_again,
            &outsider,
            &delete
        ]),
        [201, 200, 200, 200, 204, 204, 404, 204],
        "{} {cursor_body}",
        sent.body
    );
    let direct_messages = format!("/rooms/{}/messages", field(&direct.body, "id"));
    d.rec.serving("setup");
    let block = d
        .app
        .call("POST", "/users/owner/block", None, Some(&member.access));
    assert_eq!(block.await.status, 204);
    let hi = d
        .call("POST", &direct_messages, Some(json!({"text": "hi"})), me)
        .await;
    assert_eq!(hi.status, 403, "{}", hi.body);

    // A deleted room takes its items with it.
    let gone = d.call("DELETE", &room, None, me).await;
    assert_eq!(gone.status, 204, "{}", gone.body);
}
