//! The chat store contract: every rule the chat services rely on, run against the memory adapter
//! and against DynamoDB Local through the real SDK adapter. Both must behave the same.
// Helpers here are plain functions called from #[test]s: a panic in them is a failing test.
#![allow(clippy::unwrap_used)]

mod support;

use ::time::Duration;
use chatman::domain::*;
use chatman::ports::{
    AddMembersError, ChatStore, CreateRoomError, Outgoing, Purge, RateDecision, SlidingWindow,
    StoreError,
};
use std::sync::Arc;
use support::start_time;

/// Both ports of one adapter, and where its items can be inspected.
#[derive(Clone)]
struct Stores {
    chat: Arc<dyn ChatStore>,
    window: Arc<dyn SlidingWindow>,
    inspect: Inspect,
}

#[derive(Clone)]
enum Inspect {
    Memory(Arc<chatman::adapters::memory_chat::MemoryChat>),
    Table(String),
}

/// What is left anywhere of room `id`: the DynamoDB table's items naming it (a Scan), or the
/// memory store's entries. Empty once its deletion is collected.
async fn traces(s: &Stores, id: &RoomId) -> Vec<String> {
    match &s.inspect {
        Inspect::Memory(chat) => match chat.traces_of(id) {
            0 => vec![],
            n => vec![format!("{n} entries")],
        },
        Inspect::Table(table) => support::items_naming(table, &id.to_string()).await,
    }
}

/// Purges until done, counting the calls.
async fn purge_all(s: &Stores, id: &RoomId, page: usize) -> usize {
    let mut calls = 1;
    while s.chat.purge_room(id, page).await.unwrap() == Purge::More {
        calls += 1;
        assert!(calls < 1000, "the purge never ends");
    }
    calls
}

fn group(kind: RoomKind) -> Room {
    Room {
        id: RoomId::new(),
        kind,
        name: "Team".into(),
        description: "About".into(),
        posting: Posting::Everyone,
        pair: vec![],
        created_at: start_time(),
        updated_at: start_time(),
        seq: 0,
        last_id: None,
        last_message: None,
        deleted_seqs: vec![],
        version: 0,
        avatar_key: None,
        subscribed: Room::subscribes(kind),
        member_count: 0,
    }
}

fn member(room: &Room, user: UserId, role: MemberRole) -> Member {
    Member {
        room_id: room.id,
        user_id: user,
        role,
        joined_at: start_time(),
    }
}

fn message(room: &Room, sender: UserId, text: &str) -> Message {
    Message {
        id: MessageId::after(room.last_id.as_ref()),
        room_id: room.id,
        seq: room.seq + 1,
        sender,
        text: text.into(),
        // A client id of its own: one client id names one message of its sender.
        client_id: Some(format!("c{}", room.seq + 1)),
        created_at: start_time() + Duration::seconds(room.seq as i64 + 1),
        transfer: None,
        files: vec![],
        edited_at: None,
        reply_to: None,
        reactions: Default::default(),
    }
}

/// A group of `owner` and `others`.
async fn room_with(s: &Stores, owner: UserId, others: &[UserId]) -> Room {
    let mut room = group(RoomKind::Group);
    let mut members = vec![member(&room, owner, MemberRole::Owner)];
    members.extend(others.iter().map(|u| member(&room, *u, MemberRole::Member)));
    room.member_count = members.len() as u32;
    s.chat.create_room(&room, &members).await.unwrap();
    room
}

/// Sends and returns the room as stored afterwards.
async fn send(s: &Stores, room: &RoomId, sender: UserId, text: &str) -> (Room, Message) {
    let current = s.chat.room(room).await.unwrap().unwrap();
    let m = message(&current, sender, text);
    s.chat.append_message(&current, &m, &[]).await.unwrap();
    (s.chat.room(room).await.unwrap().unwrap(), m)
}

async fn a_room_is_created_with_its_members_and_their_memberships(s: Stores) {
    let (a, b) = (UserId::new(), UserId::new());
    let room = room_with(&s, a, &[b]).await;
    assert_eq!(s.chat.room(&room.id).await.unwrap().as_ref(), Some(&room));
    let mut members = s.chat.members(&room.id).await.unwrap();
    members.sort_by_key(|m| std::cmp::Reverse(m.role));
    assert_eq!(
        members
            .iter()
            .map(|m| (m.user_id, m.role))
            .collect::<Vec<_>>(),
        vec![(a, MemberRole::Owner), (b, MemberRole::Member)]
    );
    let mine = s.chat.memberships(&b).await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!((mine[0].room_id, mine[0].last_read_seq), (room.id, 0));
    assert!(matches!(
        s.chat.create_room(&room, &[]).await,
        Err(CreateRoomError::Exists)
    ));
}

async fn ten_racing_creations_of_one_direct_room_make_exactly_one(s: Stores) {
    let (a, b) = (UserId::new(), UserId::new());
    let id = RoomId::direct(&a, &b);
    assert_eq!(
        id,
        RoomId::direct(&b, &a),
        "the id does not depend on who asks"
    );
    let mut tasks = vec![];
    for i in 0..10 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut room = group(RoomKind::Direct);
            room.id = id;
            room.pair = vec![a.min(b), a.max(b)];
            room.name = format!("attempt {i}");
            let members = [
                member(&room, a, MemberRole::Member),
                member(&room, b, MemberRole::Member),
            ];
            s.chat.create_room(&room, &members).await
        }));
    }
    let mut won = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => won += 1,
            Err(CreateRoomError::Exists) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(won, 1);
    assert_eq!(s.chat.memberships(&a).await.unwrap().len(), 1);
    assert_eq!(s.chat.members(&id).await.unwrap().len(), 2);
}

async fn sends_are_ordered_by_the_room_sequence_and_a_stale_one_loses(s: Stores) {
    let (a, b) = (UserId::new(), UserId::new());
    let room = room_with(&s, a, &[b]).await;
    let (after, first) = send(&s, &room.id, a, "one").await;
    assert_eq!((after.seq, after.last_message.as_ref()), (1, Some(&first)));
    assert_eq!(after.updated_at, first.created_at);
    assert_eq!(after.last_id, Some(first.id));
    // A writer that read the room before the first send lost the race.
    let stale = message(&room, b, "late");
    assert!(matches!(
        s.chat.append_message(&room, &stale, &[]).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        s.chat.message(&room.id, &first.id).await.unwrap(),
        Some(first.clone())
    );
    // The sender has read their own message; the other member has not.
    assert_eq!(
        s.chat
            .membership(&a, &room.id)
            .await
            .unwrap()
            .unwrap()
            .last_read_seq,
        1
    );
    assert_eq!(
        s.chat
            .membership(&b, &room.id)
            .await
            .unwrap()
            .unwrap()
            .last_read_seq,
        0
    );
}

async fn only_members_can_append(s: Stores) {
    let (a, stranger) = (UserId::new(), UserId::new());
    let room = room_with(&s, a, &[]).await;
    let m = message(&room, stranger, "hi");
    assert!(matches!(
        s.chat.append_message(&room, &m, &[]).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(s.chat.room(&room.id).await.unwrap().unwrap().seq, 0);
    assert!(s.chat.message(&room.id, &m.id).await.unwrap().is_none());
}

async fn history_pages_newest_first_without_gaps_or_duplicates(s: Stores) {
    let a = UserId::new();
    let room = room_with(&s, a, &[]).await;
    let mut sent = vec![];
    for i in 0..7 {
        sent.push(send(&s, &room.id, a, &format!("m{i}")).await.1.id);
    }
    let first = s.chat.messages(&room.id, 3, None).await.unwrap();
    assert_eq!(
        first.items.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![sent[6], sent[5], sent[4]]
    );
    let cursor = MessageId::parse(first.next_cursor.as_deref().unwrap()).unwrap();
    // New messages arriving between pages do not shift older pages.
    send(&s, &room.id, a, "new").await;
    let second = s.chat.messages(&room.id, 3, Some(&cursor)).await.unwrap();
    assert_eq!(
        second.items.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![sent[3], sent[2], sent[1]]
    );
    let cursor = MessageId::parse(second.next_cursor.as_deref().unwrap()).unwrap();
    let last = s.chat.messages(&room.id, 3, Some(&cursor)).await.unwrap();
    assert_eq!(
        last.items.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![sent[0]]
    );
    assert_eq!(last.next_cursor, None);
}

async fn deleting_the_last_message_promotes_the_previous_one(s: Stores) {
    let a = UserId::new();
    let room = room_with(&s, a, &[]).await;
    let (_, one) = send(&s, &room.id, a, "one").await;
    let (room, two) = send(&s, &room.id, a, "two").await;
    s.chat
        .delete_message(&room, &two, Some(&one), &[])
        .await
        .unwrap();
    let after = s.chat.room(&room.id).await.unwrap().unwrap();
    assert_eq!(after.last_message, Some(one.clone()));
    assert_eq!(after.deleted_seqs, vec![2]);
    assert_eq!((after.seq, after.version), (2, 1));
    assert!(s.chat.message(&room.id, &two.id).await.unwrap().is_none());
    // The room read before that delete is stale now.
    assert!(matches!(
        s.chat.delete_message(&room, &one, None, &[]).await,
        Err(StoreError::Conflict)
    ));
    s.chat
        .delete_message(&after, &one, None, &[])
        .await
        .unwrap();
    let empty = s.chat.room(&room.id).await.unwrap().unwrap();
    assert_eq!(empty.last_message, None);
    assert_eq!(empty.unread_after(0), 0);
    assert_eq!(empty.deleted_seqs, vec![1, 2]);
    // The chat list's batch read sees the deletions too (beside a room without any).
    let plain = room_with(&s, a, &[]).await;
    let mut rooms = s.chat.rooms(&[room.id, plain.id]).await.unwrap();
    rooms.sort_by_key(|r| r.id != room.id);
    assert_eq!(rooms[0].deleted_seqs, vec![1, 2]);
    assert_eq!(rooms[1].deleted_seqs, Vec::<u64>::new());
    assert!(
        s.chat
            .messages(&room.id, 10, None)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let (after_send, _) = send(&s, &room.id, a, "three").await;
    assert_eq!(after_send.deleted_seqs, vec![1, 2], "a send keeps them");
    assert_eq!(after_send.unread_after(0), 1);
}

async fn adding_members_is_all_or_nothing(s: Stores) {
    let (a, b, c, d) = (UserId::new(), UserId::new(), UserId::new(), UserId::new());
    let room = room_with(&s, a, &[b]).await;
    let batch = [
        member(&room, c, MemberRole::Member),
        member(&room, b, MemberRole::Member),
    ];
    match s.chat.add_members(&room.id, &batch, 100).await {
        Err(AddMembersError::AlreadyMember(who)) => assert_eq!(who, b),
        other => panic!("{other:?}"),
    }
    assert!(
        s.chat.member(&room.id, &c).await.unwrap().is_none(),
        "nothing half-written"
    );
    assert!(s.chat.memberships(&c).await.unwrap().is_empty());
    s.chat
        .add_members(
            &room.id,
            &[
                member(&room, c, MemberRole::Member),
                member(&room, d, MemberRole::Member),
            ],
            100,
        )
        .await
        .unwrap();
    assert_eq!(s.chat.members(&room.id).await.unwrap().len(), 4);
    assert_eq!(s.chat.memberships(&d).await.unwrap()[0].room_id, room.id);
    assert!(matches!(
        s.chat
            .add_members(&RoomId::new(), &[member(&room, c, MemberRole::Member)], 100)
            .await,
        Err(AddMembersError::RoomGone)
    ));
}

async fn roles_change_only_from_the_role_that_was_read(s: Stores) {
    let (a, b, c) = (UserId::new(), UserId::new(), UserId::new());
    let room = room_with(&s, a, &[b, c]).await;
    s.chat
        .set_role(&room.id, &b, MemberRole::Member, MemberRole::Admin)
        .await
        .unwrap();
    assert!(matches!(
        s.chat
            .set_role(&room.id, &b, MemberRole::Member, MemberRole::Admin)
            .await,
        Err(StoreError::Conflict)
    ));
    // Removing b as a plain member fails now that b is an admin.
    assert!(matches!(
        s.chat.remove_member(&room.id, &b, MemberRole::Member).await,
        Err(StoreError::Conflict)
    ));
    s.chat
        .remove_member(&room.id, &c, MemberRole::Member)
        .await
        .unwrap();
    assert!(s.chat.member(&room.id, &c).await.unwrap().is_none());
    assert!(s.chat.memberships(&c).await.unwrap().is_empty());
    s.chat
        .transfer_ownership(&room.id, &a, &b, MemberRole::Admin)
        .await
        .unwrap();
    assert_eq!(
        s.chat.member(&room.id, &a).await.unwrap().unwrap().role,
        MemberRole::Admin
    );
    assert_eq!(
        s.chat.member(&room.id, &b).await.unwrap().unwrap().role,
        MemberRole::Owner
    );
    assert!(matches!(
        s.chat
            .transfer_ownership(&room.id, &a, &b, MemberRole::Admin)
            .await,
        Err(StoreError::Conflict)
    ));
}

async fn read_markers_only_move_forward(s: Stores) {
    let (a, b, stranger) = (UserId::new(), UserId::new(), UserId::new());
    let room = room_with(&s, a, &[b]).await;
    for i in 0..3 {
        send(&s, &room.id, a, &format!("m{i}")).await;
    }
    assert!(s.chat.mark_read(&b, &room.id, 2).await.unwrap());
    assert!(!s.chat.mark_read(&b, &room.id, 1).await.unwrap());
    assert!(!s.chat.mark_read(&b, &room.id, 2).await.unwrap());
    assert_eq!(
        s.chat
            .membership(&b, &room.id)
            .await
            .unwrap()
            .unwrap()
            .last_read_seq,
        2
    );
    assert!(matches!(
        s.chat.mark_read(&stranger, &room.id, 1).await,
        Err(StoreError::Conflict)
    ));
}

async fn room_edits_are_version_checked_and_deletion_takes_everything(s: Stores) {
    let (a, b) = (UserId::new(), UserId::new());
    let room = room_with(&s, a, &[b]).await;
    send(&s, &room.id, a, "hello").await;
    let renamed = Room {
        name: "New".into(),
        posting: Posting::Admins,
        ..room.clone()
    };
    s.chat.update_room(&renamed).await.unwrap();
    let stored = s.chat.room(&room.id).await.unwrap().unwrap();
    assert_eq!(
        (
            stored.name.as_str(),
            stored.posting,
            stored.version,
            stored.seq
        ),
        ("New", Posting::Admins, 1, 1)
    );
    assert!(matches!(
        s.chat.update_room(&renamed).await,
        Err(StoreError::Conflict)
    ));
    // A deletion commits only on the room as read: the edit above moved its version.
    let until = start_time() + Duration::seconds(30);
    assert!(matches!(
        s.chat.delete_room(&room, &a, until).await,
        Err(StoreError::Conflict)
    ));
    assert!(s.chat.room(&room.id).await.unwrap().is_some());
    s.chat.delete_room(&stored, &a, until).await.unwrap();
    assert!(s.chat.room(&room.id).await.unwrap().is_none());
    assert!(s.chat.rooms(&[room.id]).await.unwrap().is_empty());
    let marker = s.chat.room_deletion(&room.id).await.unwrap().unwrap();
    assert_eq!((marker.by, marker.held_until), (a, until));
    purge_all(&s, &room.id, 100).await;
    assert!(s.chat.members(&room.id).await.unwrap().is_empty());
    assert!(s.chat.memberships(&b).await.unwrap().is_empty());
    assert!(
        s.chat
            .messages(&room.id, 10, None)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(s.chat.room_deletion(&room.id).await.unwrap(), None);
    assert!(traces(&s, &room.id).await.is_empty());
    assert!(matches!(
        s.chat.delete_room(&stored, &a, until).await,
        Err(StoreError::Conflict)
    ));
}

/// A room with something of every family a room owns: members with memberships, messages
/// (with client-id and transfer guards and seq pointers), a deleted one, a pending invitation,
/// a "left" mark of a former member, a chat-list move claim and outbox records.
async fn a_room_with_everything(s: &Stores, owner: UserId, others: &[UserId]) -> Room {
    let room = room_with(s, owner, others).await;
    for i in 0..6 {
        let current = s.chat.room(&room.id).await.unwrap().unwrap();
        let mut m = message(&current, others[i % others.len()], "hi");
        if i == 2 {
            m.transfer = Some(serde_json::json!({"id": format!("t-{}", room.id)}));
        }
        let event = Outgoing::new(
            room.id,
            chatman::ports::Audience::Members,
            chatman::ports::Event::new("message", serde_json::json!({"seq": m.seq})),
            m.created_at,
        );
        s.chat.append_message(&current, &m, &[event]).await.unwrap();
    }
    let current = s.chat.room(&room.id).await.unwrap().unwrap();
    let newest = s.chat.messages(&room.id, 1, None).await.unwrap().items;
    let older = s.chat.messages(&room.id, 2, None).await.unwrap().items;
    s.chat
        .delete_message(&current, &newest[0], Some(&older[1]), &[])
        .await
        .unwrap();
    let invited = Invitation {
        room_id: room.id,
        user_id: UserId::new(),
        inviter: owner,
        invited_at: start_time(),
    };
    s.chat.invite(&[invited]).await.unwrap();
    let leaver = others[0];
    s.chat
        .leave(&room.id, &leaver, MemberRole::Member)
        .await
        .unwrap();
    assert!(s.chat.has_left(&leaver, &room.id).await.unwrap());
    let at = start_time() + Duration::minutes(1);
    assert!(
        s.chat
            .claim_chat_list_move(&room.id, at, Duration::minutes(5))
            .await
            .unwrap()
    );
    let record = Outgoing::new(
        room.id,
        chatman::ports::Audience::Members,
        chatman::ports::Event::new("room", serde_json::json!({"event": "updated"})),
        at,
    );
    s.chat
        .publish(&[record.clone(), record.for_shard(3)])
        .await
        .unwrap();
    s.chat.room(&room.id).await.unwrap().unwrap()
}

/// The crash: the deletion is marked and stops after a few items. The room is gone for every
/// read at once, the marker says who may finish it and when, and a later purge leaves nothing
/// of the room anywhere, the marker last.
async fn a_deletion_stopped_part_way_is_finished_later_and_leaves_nothing(s: Stores) {
    let (a, b, c) = (UserId::new(), UserId::new(), UserId::new());
    let room = a_room_with_everything(&s, a, &[b, c]).await;
    let other = room_with(&s, a, &[b]).await;
    let until = start_time() + Duration::seconds(30);
    s.chat.delete_room(&room, &a, until).await.unwrap();
    // Stopped after 3 items.
    assert_eq!(s.chat.purge_room(&room.id, 3).await.unwrap(), Purge::More);
    assert!(s.chat.room(&room.id).await.unwrap().is_none());
    let listed = s.chat.rooms(&[room.id, other.id]).await.unwrap();
    assert_eq!(
        listed.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![other.id]
    );
    assert!(
        !traces(&s, &room.id).await.is_empty(),
        "the crash left items"
    );
    // Nothing new can be written into it meanwhile.
    let late = Invitation {
        room_id: room.id,
        user_id: UserId::new(),
        inviter: a,
        invited_at: start_time(),
    };
    assert!(matches!(
        s.chat.invite(&[late]).await,
        Err(StoreError::Conflict)
    ));
    assert!(matches!(
        s.chat
            .add_members(
                &room.id,
                &[member(&room, UserId::new(), MemberRole::Member)],
                100
            )
            .await,
        Err(AddMembersError::RoomGone)
    ));
    assert!(matches!(
        s.chat.leave(&room.id, &c, MemberRole::Member).await,
        Err(StoreError::Conflict)
    ));
    // The hold keeps others off until it runs out; then one taker gets it.
    assert!(
        !s.chat
            .hold_room_deletion(&room.id, start_time(), until)
            .await
            .unwrap()
    );
    let later = until + Duration::seconds(1);
    let takers: Vec<_> = (0..6)
        .map(|_| {
            let chat = s.chat.clone();
            let id = room.id;
            tokio::spawn(async move {
                chat.hold_room_deletion(&id, later, later + Duration::seconds(30))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut took = 0;
    for t in takers {
        took += usize::from(t.await.unwrap());
    }
    assert_eq!(took, 1, "one clean-up takes a stopped deletion over");
    // The resumption, in small pages: everything goes, the other room stays whole.
    assert!(purge_all(&s, &room.id, 4).await > 2);
    assert_eq!(traces(&s, &room.id).await, Vec::<String>::new());
    assert_eq!(s.chat.room_deletion(&room.id).await.unwrap(), None);
    assert_eq!(s.chat.purge_room(&room.id, 4).await.unwrap(), Purge::Done);
    assert!(s.chat.room(&other.id).await.unwrap().is_some());
    assert_eq!(s.chat.members(&other.id).await.unwrap().len(), 2);
    // Purging a live room does nothing.
    assert_eq!(
        s.chat.purge_room(&other.id, 100).await.unwrap(),
        Purge::Done
    );
    assert_eq!(s.chat.members(&other.id).await.unwrap().len(), 2);
}

/// Many deletions of one room at once: exactly one commits, the others find it gone, and two
/// purges running side by side still leave nothing.
async fn racing_deletions_commit_once(s: Stores) {
    let (a, b) = (UserId::new(), UserId::new());
    let room = a_room_with_everything(&s, a, &[b]).await;
    let until = start_time() + Duration::seconds(30);
    let racers: Vec<_> = (0..8)
        .map(|_| {
            let (chat, room) = (s.chat.clone(), room.clone());
            tokio::spawn(async move { chat.delete_room(&room, &a, until).await })
        })
        .collect();
    let mut won = 0;
    for r in racers {
        match r.await.unwrap() {
            Ok(()) => won += 1,
            Err(StoreError::Conflict) => {}
            Err(e) => panic!("a racing delete failed: {e}"),
        }
    }
    assert_eq!(won, 1);
    let (one, two) = tokio::join!(purge_all(&s, &room.id, 3), purge_all(&s, &room.id, 5));
    assert!(one + two > 2);
    assert_eq!(traces(&s, &room.id).await, Vec::<String>::new());
}

async fn rooms_are_read_in_batches_and_unknown_ids_skipped(s: Stores) {
    let a = UserId::new();
    let mut ids = vec![];
    for _ in 0..3 {
        ids.push(room_with(&s, a, &[]).await.id);
    }
    ids.push(RoomId::new());
    let found = s.chat.rooms(&ids).await.unwrap();
    assert_eq!(found.len(), 3);
    assert_eq!(s.chat.memberships(&a).await.unwrap().len(), 3);
}

async fn the_send_window_admits_60_in_any_60_seconds(s: Stores) {
    let key = format!("post#{}", UserId::new());
    let t0 = start_time();
    for i in 0..60 {
        let at = t0 + Duration::milliseconds(i * 500);
        assert_eq!(
            s.window
                .reserve(&key, 60, Duration::seconds(60), at)
                .await
                .unwrap(),
            RateDecision::Allowed
        );
    }
    let at = t0 + Duration::seconds(31);
    assert_eq!(
        s.window
            .reserve(&key, 60, Duration::seconds(60), at)
            .await
            .unwrap(),
        RateDecision::Limited {
            until: t0 + Duration::seconds(60)
        }
    );
    // The first one leaves the window at 60 s: one more fits, not a whole new window.
    let later = t0 + Duration::seconds(60);
    assert_eq!(
        s.window
            .reserve(&key, 60, Duration::seconds(60), later)
            .await
            .unwrap(),
        RateDecision::Allowed
    );
    assert!(matches!(
        s.window
            .reserve(&key, 60, Duration::seconds(60), later)
            .await
            .unwrap(),
        RateDecision::Limited { .. }
    ));
}

async fn sixty_one_parallel_reservations_admit_exactly_sixty(s: Stores) {
    let key = format!("post#{}", UserId::new());
    let mut tasks = vec![];
    for _ in 0..61 {
        let s = s.clone();
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            s.window
                .reserve(&key, 60, Duration::seconds(60), start_time())
                .await
                .unwrap()
        }));
    }
    let mut allowed = 0;
    for t in tasks {
        if t.await.unwrap() == RateDecision::Allowed {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 60);
}

async fn a_client_id_names_one_message_of_its_sender(s: Stores) {
    let (a, b) = (UserId::new(), UserId::new());
    let room = room_with(&s, a, &[b]).await;
    let (room, first) = send(&s, &room.id, a, "once").await;
    assert_eq!(
        s.chat.client_message(&room.id, &a, "c1").await.unwrap(),
        Some(first.id)
    );
    // The same sender's next message under the same client id is refused whole.
    let mut again = message(&room, a, "twice");
    again.client_id = Some("c1".into());
    assert!(matches!(
        s.chat.append_message(&room, &again, &[]).await,
        Err(StoreError::Conflict)
    ));
    let unchanged = s.chat.room(&room.id).await.unwrap().unwrap();
    assert_eq!((unchanged.seq, unchanged.last_id), (1, Some(first.id)));
    assert_eq!(s.chat.message(&room.id, &again.id).await.unwrap(), None);
    // Another sender's client ids are their own.
    let mut theirs = message(&room, b, "mine too");
    theirs.client_id = Some("c1".into());
    s.chat.append_message(&room, &theirs, &[]).await.unwrap();
    assert_eq!(
        s.chat.client_message(&room.id, &b, "c1").await.unwrap(),
        Some(theirs.id)
    );
    // A transfer's message is guarded by its transfer: its client id pairs a frame only.
    let room = s.chat.room(&room.id).await.unwrap().unwrap();
    let mut paid = message(&room, a, "lunch");
    paid.client_id = Some("c1".into());
    paid.transfer = Some(serde_json::json!({"id": "t-1"}));
    s.chat.append_message(&room, &paid, &[]).await.unwrap();
    assert_eq!(
        s.chat.client_message(&room.id, &a, "c1").await.unwrap(),
        Some(first.id)
    );
    // Deleting the message keeps its client id used (a late retry still posts nothing).
    let room = s.chat.room(&room.id).await.unwrap().unwrap();
    s.chat
        .delete_message(&room, &first, None, &[])
        .await
        .unwrap();
    assert_eq!(
        s.chat.client_message(&room.id, &a, "c1").await.unwrap(),
        Some(first.id)
    );
    assert_eq!(
        s.chat.client_message(&room.id, &a, "c2").await.unwrap(),
        None
    );
}

async fn history_after_a_seq_is_oldest_first_and_skips_deleted_messages(s: Stores) {
    let (a, b) = (UserId::new(), UserId::new());
    let room = room_with(&s, a, &[b]).await;
    let mut sent = vec![];
    for i in 1..=30 {
        let (_, m) = send(
            &s,
            &room.id,
            if i % 2 == 0 { a } else { b },
            &format!("m{i}"),
        )
        .await;
        sent.push(m);
    }
    // Seq 10 (the start of the next read) and 11 go.
    for seq in [10usize, 11] {
        let current = s.chat.room(&room.id).await.unwrap().unwrap();
        s.chat
            .delete_message(&current, &sent[seq - 1], None, &[])
            .await
            .unwrap();
    }
    let seqs =
        |p: &chatman::ports::Page<Message>| p.items.iter().map(|m| m.seq).collect::<Vec<_>>();
    let page = s.chat.messages_after(&room.id, 9, 5).await.unwrap();
    assert_eq!(seqs(&page), vec![12, 13, 14, 15, 16]);
    assert_eq!(page.next_cursor.as_deref(), Some("16"));
    assert_eq!(page.items[0], sent[11], "whole messages");
    // From a deleted seq, and from the last page's cursor.
    let page = s.chat.messages_after(&room.id, 10, 2).await.unwrap();
    assert_eq!(seqs(&page), vec![12, 13]);
    let page = s.chat.messages_after(&room.id, 26, 10).await.unwrap();
    assert_eq!(seqs(&page), vec![27, 28, 29, 30]);
    assert_eq!(page.next_cursor, None, "the last page");
    let all = s.chat.messages_after(&room.id, 0, 100).await.unwrap();
    let expected: Vec<u64> = (1..=30).filter(|s| *s != 10 && *s != 11).collect();
    assert_eq!(seqs(&all), expected);
    assert!(
        s.chat
            .messages_after(&room.id, 30, 10)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        s.chat
            .messages_after(&room.id, u64::MAX, 10)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        s.chat
            .messages_after(&RoomId::new(), 0, 10)
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

/// The room item keeps a preview of its last message (the first 200 characters); history keeps
/// the whole text, and a promotion after a delete is a preview too.
async fn the_room_keeps_a_preview_of_its_last_message(s: Stores) {
    let a = UserId::new();
    let room = room_with(&s, a, &[]).await;
    let long = "é".repeat(150) + &"x".repeat(3850);
    let current = s.chat.room(&room.id).await.unwrap().unwrap();
    let first = message(&current, a, &long);
    s.chat.append_message(&current, &first, &[]).await.unwrap();
    let (room_now, second) = send(&s, &room.id, a, "short").await;
    assert_eq!(
        room_now.last_message.as_ref(),
        Some(&second),
        "a short text is whole"
    );
    s.chat
        .delete_message(&room_now, &second, Some(&first), &[])
        .await
        .unwrap();
    let after = s.chat.room(&room.id).await.unwrap().unwrap();
    let preview = after.last_message.unwrap();
    assert_eq!(
        preview.text,
        "é".repeat(150) + &"x".repeat(50),
        "200 characters, not bytes"
    );
    assert_eq!(preview.id, first.id);
    let stored = s.chat.message(&room.id, &first.id).await.unwrap().unwrap();
    assert_eq!(stored.text, long, "history keeps the whole text");
    // Sending it anew: the room keeps the preview of what was just sent.
    let (room_now, third) = send(&s, &room.id, a, &long).await;
    assert_eq!(room_now.last_message.unwrap().text.chars().count(), 200);
    assert_eq!(
        s.chat
            .message(&room.id, &third.id)
            .await
            .unwrap()
            .unwrap()
            .text,
        long
    );
}

async fn a_room_counts_its_members(s: Stores) {
    let (a, b, c) = (UserId::new(), UserId::new(), UserId::new());
    let room = room_with(&s, a, &[b]).await;
    assert_eq!(
        s.chat.room(&room.id).await.unwrap().unwrap().member_count,
        2
    );
    s.chat
        .add_members(&room.id, &[member(&room, c, MemberRole::Member)], 10)
        .await
        .unwrap();
    let rooms = s.chat.rooms(&[room.id]).await.unwrap();
    assert_eq!(rooms[0].member_count, 3);
    s.chat
        .remove_member(&room.id, &b, MemberRole::Member)
        .await
        .unwrap();
    assert_eq!(
        s.chat.room(&room.id).await.unwrap().unwrap().member_count,
        2
    );
}

fn memory() -> Stores {
    let m = Arc::new(chatman::adapters::memory_chat::MemoryChat::new());
    Stores {
        chat: m.clone(),
        window: m.clone(),
        inspect: Inspect::Memory(m),
    }
}

/// Of many deliveries racing to move a channel up its members' lists, one wins per interval.
async fn a_chat_list_move_is_claimed_once_per_interval(s: Stores) {
    let owner = UserId::new();
    let room = room_with(&s, owner, &[]).await;
    let every = Duration::minutes(5);
    let at = start_time() + Duration::minutes(1);
    let racers: Vec<_> = (0..12)
        .map(|_| {
            let chat = s.chat.clone();
            tokio::spawn(async move { chat.claim_chat_list_move(&room.id, at, every).await })
        })
        .collect();
    let mut won = 0;
    for r in racers {
        won += usize::from(r.await.unwrap().unwrap());
    }
    assert_eq!(won, 1, "one move per interval");
    let soon = at + Duration::minutes(4);
    assert!(
        !s.chat
            .claim_chat_list_move(&room.id, soon, every)
            .await
            .unwrap()
    );
    let later = at + Duration::minutes(5);
    assert!(
        s.chat
            .claim_chat_list_move(&room.id, later, every)
            .await
            .unwrap()
    );
    assert!(
        !s.chat
            .claim_chat_list_move(&RoomId::new(), later, every)
            .await
            .unwrap(),
        "an unknown room moves nobody"
    );
}

async fn dynamodb() -> Stores {
    let (_, chat) = support::dynamo_chat_stores().await;
    Stores {
        inspect: Inspect::Table(chat.table().to_owned()),
        chat: chat.clone(),
        window: chat,
    }
}

/// An edit writes the new text and `edited_at` on the message and, for the last message, on the
/// room's preview; one decided on a text that changed since, on a message deleted since, or on a
/// last message that a send has replaced meanwhile, is a conflict and writes nothing.
async fn an_edit_applies_only_to_the_message_as_it_was_read(s: Stores) {
    let (a, b) = (UserId::new(), UserId::new());
    let room = room_with(&s, a, &[b]).await;
    let (_, first) = send(&s, &room.id, a, "first").await;
    let (current, last) = send(&s, &room.id, a, "last").await;
    let edit = |m: &Message, text: &str, secs: i64| Message {
        text: text.into(),
        edited_at: Some(start_time() + Duration::seconds(100 + secs)),
        ..m.clone()
    };
    // The last message: the room's preview moves with it.
    let edited = edit(&last, "last, edited", 1);
    s.chat
        .edit_message(&current, &last, &edited, &[])
        .await
        .unwrap();
    assert_eq!(
        s.chat.message(&room.id, &last.id).await.unwrap(),
        Some(edited.clone())
    );
    let stored = s.chat.room(&room.id).await.unwrap().unwrap();
    assert_eq!(stored.last_message, Some(edited.preview()));
    // Decided on the text before that edit: refused, nothing written.
    assert!(matches!(
        s.chat
            .edit_message(&current, &last, &edit(&last, "stale", 2), &[])
            .await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        s.chat.message(&room.id, &last.id).await.unwrap(),
        Some(edited.clone())
    );
    // An older message: the room is not touched.
    let older = edit(&first, "first, edited", 3);
    s.chat
        .edit_message(&stored, &first, &older, &[])
        .await
        .unwrap();
    assert_eq!(
        s.chat.room(&room.id).await.unwrap().unwrap().last_message,
        Some(edited.clone())
    );
    // Read as the last message, but a send moved on: refused, the new preview stays.
    let (_, newest) = send(&s, &room.id, b, "newest").await;
    assert!(matches!(
        s.chat
            .edit_message(&stored, &edited, &edit(&edited, "late", 4), &[])
            .await,
        Err(StoreError::Conflict)
    ));
    let now = s.chat.room(&room.id).await.unwrap().unwrap();
    assert_eq!(now.last_message, Some(newest.preview()));
    // Deleted: an edit never brings it back.
    s.chat
        .delete_message(&now, &older, None, &[])
        .await
        .unwrap();
    assert!(matches!(
        s.chat
            .edit_message(&now, &older, &edit(&older, "again", 5), &[])
            .await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(s.chat.message(&room.id, &first.id).await.unwrap(), None);
}

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::memory()).await }) *
        }
        mod dynamodb_local {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::dynamodb().await).await }) *
        }
    };
}

contract!(
    a_room_is_created_with_its_members_and_their_memberships,
    an_edit_applies_only_to_the_message_as_it_was_read,
    ten_racing_creations_of_one_direct_room_make_exactly_one,
    sends_are_ordered_by_the_room_sequence_and_a_stale_one_loses,
    only_members_can_append,
    history_pages_newest_first_without_gaps_or_duplicates,
    deleting_the_last_message_promotes_the_previous_one,
    adding_members_is_all_or_nothing,
    roles_change_only_from_the_role_that_was_read,
    read_markers_only_move_forward,
    room_edits_are_version_checked_and_deletion_takes_everything,
    a_deletion_stopped_part_way_is_finished_later_and_leaves_nothing,
    racing_deletions_commit_once,
    rooms_are_read_in_batches_and_unknown_ids_skipped,
    the_send_window_admits_60_in_any_60_seconds,
    sixty_one_parallel_reservations_admit_exactly_sixty,
    a_chat_list_move_is_claimed_once_per_interval,
    a_client_id_names_one_message_of_its_sender,
    history_after_a_seq_is_oldest_first_and_skips_deleted_messages,
    a_room_counts_its_members,
    the_room_keeps_a_preview_of_its_last_message,
);

/// On DynamoDB a catch-up reads what it returns, wherever it starts: one pointer lookup and the
/// page itself, never the messages before it (the room here is ~600 KB of messages).
#[tokio::test]
async fn history_after_a_seq_costs_the_page_not_the_room_on_dynamodb_local() {
    let (_, chat) = support::dynamo_chat_stores().await;
    let s = Stores {
        chat: chat.clone(),
        window: chat.clone(),
        inspect: Inspect::Table(chat.table().to_owned()),
    };
    let a = UserId::new();
    let room = room_with(&s, a, &[]).await;
    let text = "x".repeat(3000);
    for _ in 0..200 {
        send(&s, &room.id, a, &text).await;
    }
    let meter = chat.meter();
    for after in [0, 100, 196] {
        meter.reset();
        let page = s.chat.messages_after(&room.id, after, 3).await.unwrap();
        assert_eq!(page.items.len(), 3);
        assert_eq!(page.items[0].seq, after + 1);
        let (read, _) = meter.totals();
        println!("after_seq={after}, 3 messages of 3 KB in a 600 KB room: {read} RCU");
        // 1 for the pointer, then 4 messages of 3 KB (the overfetched one included): 4-5 units
        // measured. Reading the room up to seq 196 would be ~150.
        assert!(read <= 6.0, "after_seq={after} read {read} units");
    }
}
