//! Consumed capacity of the chat store on DynamoDB Local, per request, by room size.

use chatman::adapters::dynamodb::{CapacityMeter, DynamoChat, schema::create_accounts_table};
use chatman::adapters::memory::MemoryAccounts;
use chatman::adapters::recording_push::RecordingPush;
use chatman::domain::{Email, PendingSignup, SignupId, User, UserId, Username};
use chatman::ports::AccountStore;
use chatman::services::chat::ChatPorts;
use chatman::services::messages::{MessageService, NewMessage};
use chatman::services::rooms::{NewGroup, RoomService};
use chatman::settings::Limits;
use serde_json::{Value, json};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

pub const SIZES: [usize; 3] = [2, 100, 1000];
const SENDS: usize = 20;
const LIST_ROOMS: usize = 50;

/// Read and write units of one request.
#[derive(Debug, Clone, Copy, Default)]
pub struct Units {
    pub read: f64,
    pub write: f64,
}

#[derive(Debug)]
pub struct BySize {
    pub members: usize,
    /// One send: the store's own reads and writes (membership, room, window, transaction).
    pub send: Units,
    /// The recipients lookup of the send's `message` event (a Query of the room's members).
    pub send_recipients: Units,
    /// One history page of 20.
    pub history: Units,
    /// The chat list of the room's owner (one room).
    pub list_one_room: Units,
}

#[derive(Debug)]
pub struct Capacity {
    pub by_size: Vec<BySize>,
    /// The chat list (one page of 50) of a person in 50 rooms.
    pub list_50_rooms: Units,
    /// One page of 20 of the chat list of a person in 10 rooms, and in 2,000.
    pub page_20_in_10_rooms: Units,
    pub page_20_in_2000_rooms: Units,
}

struct Bench {
    ports: ChatPorts,
    meter: Arc<CapacityMeter>,
    accounts: Arc<MemoryAccounts>,
    chat: Arc<DynamoChat>,
    now: OffsetDateTime,
}

impl Bench {
    /// Runs `f` and returns what it consumed.
    async fn measure<T>(&self, f: impl std::future::Future<Output = T>) -> (T, Units) {
        self.meter.reset();
        let out = f.await;
        let (read, write) = self.meter.totals();
        (out, Units { read, write })
    }

    async fn user(&self, name: &str) -> anyhow::Result<User> {
        let username = Username::parse(name).map_err(|e| anyhow::anyhow!("{e}"))?;
        let email =
            Email::parse(&format!("{name}@example.com")).map_err(|e| anyhow::anyhow!("{e}"))?;
        let now = self.now;
        let pending = PendingSignup {
            id: SignupId::new(),
            username: username.clone(),
            email: email.clone(),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            first_name: String::new(),
            last_name: String::new(),
            bio: String::new(),
            email_taken: false,
            code_hash: [0; 32],
            code_round: 0,
            code_expires_at: now,
            failed_attempts: 0,
            resends: 0,
            last_sent_at: now,
            created_at: now,
            expires_at: now + Duration::hours(1),
            version: 0,
        };
        let user = User {
            id: UserId::new(),
            username,
            email,
            password_hash: pending.password_hash.clone(),
            first_name: String::new(),
            last_name: String::new(),
            bio: String::new(),
            avatar_key: None,
            role: Default::default(),
            group_adds: Default::default(),
            created_at: now,
            session_epoch: 0,
            version: 0,
        };
        self.accounts.put_signup(&pending).await?;
        self.accounts.create_user(&user, &pending).await?;
        Ok(user)
    }

    /// A group of `owner` and `size - 1` others, made through the service in steps of 40.
    async fn group(&self, owner: &User, others: &[User]) -> anyhow::Result<String> {
        let rooms = RoomService::new(self.ports.clone(), Limits::LOCAL);
        let first: Vec<String> = others
            .iter()
            .take(40)
            .map(|u| u.username.to_string())
            .collect();
        let room = rooms
            .create_group(
                owner,
                NewGroup {
                    kind: "group".into(),
                    name: Some("Bench".into()),
                    description: None,
                    members: first,
                },
                self.now,
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        for chunk in others[others.len().min(40)..].chunks(40) {
            let names: Vec<String> = chunk.iter().map(|u| u.username.to_string()).collect();
            self.add(owner, &room.id, &names).await?;
        }
        Ok(room.id)
    }

    async fn add(&self, owner: &User, room: &str, names: &[String]) -> anyhow::Result<()> {
        RoomService::new(self.ports.clone(), Limits::LOCAL)
            .add_members(owner, room, names, self.now)
            .await
            .map(|_| ())
            .map_err(|e| anyhow::anyhow!("{e:?}"))
    }
}

fn mean(samples: &[Units]) -> Units {
    let n = samples.len().max(1) as f64;
    Units {
        read: samples.iter().map(|u| u.read).sum::<f64>() / n,
        write: samples.iter().map(|u| u.write).sum::<f64>() / n,
    }
}

pub async fn run(endpoint: &str) -> anyhow::Result<Capacity> {
    let aws = chatman::adapters::aws::local(endpoint);
    let client = aws_sdk_dynamodb::Client::new(&aws);
    let table = format!(
        "chat-bench-{}",
        chatman::domain::RoomId::new().to_string().replace('-', "")
    );
    create_accounts_table(&client, &table).await?;
    let chat = Arc::new(DynamoChat::new(client, table));
    let accounts = Arc::new(MemoryAccounts::new());
    let ports = ChatPorts {
        accounts: accounts.clone(),
        chat: chat.clone(),
        limiter: chat.clone(),
        push: Arc::new(RecordingPush::new()),
        subscriptions: Arc::new(
            chatman::adapters::memory_connections::MemoryConnections::new(accounts.clone()),
        ),
        // No files in this benchmark: attaching and signing stay in memory.
        uploads: chatman::services::uploads::UploadService::new(
            Arc::new(chatman::adapters::memory_uploads::MemoryUploads::new()),
            Arc::new(chatman::adapters::memory_files::MemoryFiles::new()),
        ),
    };
    let mut b = Bench {
        meter: chat.meter(),
        ports,
        accounts,
        chat,
        now: time::macros::datetime!(2026-11-22 10:00:00 UTC),
    };
    let mut people = Vec::new();
    for i in 0..SIZES[2] {
        people.push(b.user(&format!("user{i:04}")).await?);
    }
    let messages = MessageService::new(b.ports.clone(), chatman::settings::Limits::DEPLOYED);
    let rooms = RoomService::new(b.ports.clone(), Limits::LOCAL);
    let mut by_size = Vec::new();
    for (n, size) in SIZES.iter().enumerate() {
        let owner = b.user(&format!("owner{n}")).await?;
        let room = b.group(&owner, &people[..size - 1]).await?;
        let mut sends = Vec::new();
        for i in 0..=SENDS {
            // Two seconds apart: the owner stays under the posting limit.
            b.now += Duration::seconds(2);
            let new = NewMessage {
                text: Some(format!("message {i} of a benchmark")),
                upload_ids: None,
                client_id: Some(format!("c{i}")),
                reply_to: None,
            };
            let (sent, units) = b.measure(messages.send(&owner, &room, new, b.now)).await;
            sent.map_err(|e| anyhow::anyhow!("{e:?}"))?;
            if i > 0 {
                sends.push(units); // the first send creates the window item
            }
        }
        let id = chatman::domain::RoomId::parse(&room).map_err(|e| anyhow::anyhow!("{e}"))?;
        let (_, recipients) = b.measure(b.chat_members(&id)).await;
        let send_total = mean(&sends);
        let send = Units {
            read: send_total.read - recipients.read,
            write: send_total.write - recipients.write,
        };
        let (page, history) = b
            .measure(messages.history(&owner, &room, 20, None, b.now))
            .await;
        anyhow::ensure!(
            page.map_err(|e| anyhow::anyhow!("{e:?}"))?.items.len() == 20,
            "a full page"
        );
        let (_, list_one_room) = b.measure(rooms.list(&owner, 20, None, b.now)).await;
        by_size.push(BySize {
            members: *size,
            send,
            send_recipients: recipients,
            history,
            list_one_room,
        });
    }
    // A person in 50 rooms (of two), each with a message.
    let me = b.user("listener").await?;
    for other in &people[..LIST_ROOMS] {
        let room = b.group(other, std::slice::from_ref(&me)).await?;
        b.now += Duration::seconds(2);
        let new = NewMessage {
            text: Some("hello".into()),
            upload_ids: None,
            client_id: None,
            reply_to: None,
        };
        messages
            .send(other, &room, new, b.now)
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    }
    let (page, list_50_rooms) = b.measure(rooms.list(&me, LIST_ROOMS, None, b.now)).await;
    anyhow::ensure!(
        page.map_err(|e| anyhow::anyhow!("{e:?}"))?.items.len() == LIST_ROOMS,
        "all 50 rooms"
    );
    // A person in 10 rooms, then in 2,000: one page of 20 reads the same either way.
    let hoarder = b.user("hoarder").await?;
    let mut page_20_in_10_rooms = Units::default();
    for made in 1..=2000 {
        b.now += Duration::milliseconds(5);
        rooms
            .create_group(
                &hoarder,
                NewGroup {
                    kind: "group".into(),
                    name: Some(format!("R{made}")),
                    description: None,
                    members: vec![],
                },
                b.now,
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        if made == 10 {
            page_20_in_10_rooms = b.measure(rooms.list(&hoarder, 20, None, b.now)).await.1;
        }
    }
    let (page, page_20_in_2000_rooms) = b.measure(rooms.list(&hoarder, 20, None, b.now)).await;
    anyhow::ensure!(
        page.map_err(|e| anyhow::anyhow!("{e:?}"))?.items.len() == 20,
        "a full page"
    );
    Ok(Capacity {
        by_size,
        list_50_rooms,
        page_20_in_10_rooms,
        page_20_in_2000_rooms,
    })
}

impl Bench {
    async fn chat_members(&self, room: &chatman::domain::RoomId) -> anyhow::Result<usize> {
        use chatman::ports::ChatStore;
        Ok(self.chat.members(room).await?.len())
    }
}

fn units(u: Units) -> Value {
    json!({"read": u.read, "write": u.write})
}

pub fn to_json(c: &Capacity) -> Value {
    json!({
        "by_size": c.by_size.iter().map(|s| json!({
            "members": s.members,
            "send": units(s.send),
            "send_recipients_query": units(s.send_recipients),
            "history_page_20": units(s.history),
            "chat_list_one_room": units(s.list_one_room),
        })).collect::<Vec<_>>(),
        "chat_list_50_rooms": units(c.list_50_rooms),
        "chat_list_page_20_in_10_rooms": units(c.page_20_in_10_rooms),
        "chat_list_page_20_in_2000_rooms": units(c.page_20_in_2000_rooms),
    })
}

pub fn print(c: &Capacity) {
    println!("Consumed capacity of the chat store on DynamoDB Local (read units / write units)");
    println!(
        "{:>8} | {:>14} | {:>16} | {:>16} | {:>16}",
        "members", "send", "send recipients", "history page 20", "chat list (1 room)"
    );
    for s in &c.by_size {
        let f = |u: Units| format!("{:.1} / {:.1}", u.read, u.write);
        println!(
            "{:>8} | {:>14} | {:>16} | {:>16} | {:>16}",
            s.members,
            f(s.send),
            f(s.send_recipients),
            f(s.history),
            f(s.list_one_room)
        );
    }
    println!(
        "chat list of a person in 50 rooms (one page of 50): {:.1} / {:.1}",
        c.list_50_rooms.read, c.list_50_rooms.write
    );
    println!(
        "chat list, one page of 20, of a person in 10 rooms: {:.1} / {:.1}; in 2,000 rooms: {:.1} / {:.1}",
        c.page_20_in_10_rooms.read,
        c.page_20_in_10_rooms.write,
        c.page_20_in_2000_rooms.read,
        c.page_20_in_2000_rooms.write
    );
}
