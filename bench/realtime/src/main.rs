//! `chatman-realtime-bench`: the WebSocket side of the local server, measured.
//!
//! 1. Send fan-out: one member of a 100-member group sends a message over its socket (`send`);
//!    time until the last member's socket has the `message` event, p50 and p99 over many rounds.
//! 2. Push fan-out: one event pushed to 100 connections (100 people, one socket each) through the real
//!    `Push` (connection lookups, then `@connections` posts over HTTP with the SDK adapter);
//!    time from the push until the last socket has the frame, p50 and p99 over many rounds.
//! 3. Idle connections: a `chatman-local` child process holding 1,000 open sockets; its resident
//!    memory before and after, per connection.
//!
//! 4. `--scale`: delivery after the request by room size and share online (`scale.rs`); only
//!    this scenario runs when it is given.
//!
//!   scripts/bench --realtime [--rounds N] [--connections N] [--idle N] [--server PATH]
//!   scripts/bench --realtime --scale [--sizes 2,100,1000] [--online 10,100] [--rounds 20]
//!                 [--post-latency-ms 15] [--max-sockets 3000]

mod scale;

use anyhow::{Context as _, bail};
use chatman::domain::UserId;
use chatman::ports::Event;
use chatman_local::{LocalConfig, start};
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

async fn call(
    client: &HttpClient,
    base: &str,
    path: &str,
    body: Option<Value>,
    token: Option<&str>,
) -> anyhow::Result<Value> {
    let mut req = hyper::Request::builder()
        .method("POST")
        .uri(format!("{base}{path}"));
    if body.is_some() {
        req = req.header("content-type", "application/json");
    }
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let res = client
        .request(req.body(Full::new(Bytes::from(body)))?)
        .await?;
    let bytes = res.into_body().collect().await?.to_bytes();
    Ok(serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn get(client: &HttpClient, url: &str) -> anyhow::Result<Value> {
    let res = client.get(url.parse()?).await?;
    let bytes = res.into_body().collect().await?.to_bytes();
    Ok(serde_json::from_slice(&bytes)?)
}

/// Signs `name` up through the outbox; `(user id, access token)`.
async fn person(client: &HttpClient, base: &str, name: &str) -> anyhow::Result<(String, String)> {
    let email = format!("{name}@example.com");
    let started = call(
        client,
        base,
        "/auth/signup",
        Some(json!({"username": name, "email": email, "password": "correct horse battery staple"})),
        None,
    )
    .await?;
    let outbox = get(client, &format!("{base}/_local/outbox?to={email}")).await?;
    let code = outbox["items"][0]["subject"]
        .as_str()
        .and_then(|s| s.split_whitespace().next())
        .context("a code")?
        .to_owned();
    let verified = call(
        client,
        base,
        "/auth/signup/verify",
        Some(json!({"signup_id": started["signup_id"], "code": code})),
        None,
    )
    .await?;
    Ok((
        verified["user"]["id"].as_str().context("an id")?.to_owned(),
        verified["tokens"]["access_token"]
            .as_str()
            .context("a token")?
            .to_owned(),
    ))
}

async fn ticket_url(client: &HttpClient, base: &str, token: &str) -> anyhow::Result<String> {
    let ticket = call(client, base, "/ws/tickets", None, Some(token)).await?;
    Ok(ticket["url"].as_str().context("a ticket url")?.to_owned())
}

fn percentile(sorted_ms: &[f64], p: f64) -> f64 {
    let rank = ((p * sorted_ms.len() as f64).ceil() as usize).clamp(1, sorted_ms.len());
    sorted_ms[rank - 1]
}

async fn fan_out(connections: usize, rounds: usize) -> anyhow::Result<Value> {
    let running = start(LocalConfig::embedded()).await?;
    let base = running.http_url();
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let mut users = Vec::new();
    let mut sockets = Vec::new();
    for i in 0..connections {
        let (id, token) = person(&client, &base, &format!("fan{i}")).await?;
        let (socket, _) =
            tokio_tungstenite::connect_async(ticket_url(&client, &base, &token).await?).await?;
        users.push(UserId::parse(&id).map_err(|e| anyhow::anyhow!("{e}"))?);
        sockets.push(socket);
    }
    let mut samples = Vec::with_capacity(rounds);
    let event = Event::new("room", json!({"event": "updated", "room_id": "bench"}));
    for _ in 0..rounds {
        let started = Instant::now();
        let push = running.push.clone();
        let (users, event) = (users.clone(), event.clone());
        let pushing = tokio::spawn(async move { push.push(&users, &event).await });
        for socket in sockets.iter_mut() {
            loop {
                match tokio::time::timeout(Duration::from_secs(10), socket.next()).await {
                    Ok(Some(Ok(Message::Text(_)))) => break,
                    Ok(Some(Ok(_))) => continue,
                    other => bail!("a socket lost the event: {other:?}"),
                }
            }
        }
        samples.push(started.elapsed().as_secs_f64() * 1e3);
        pushing.await??;
    }
    samples.sort_by(f64::total_cmp);
    running.stop();
    Ok(json!({
        "connections": connections,
        "rounds": rounds,
        "p50_ms": percentile(&samples, 0.5),
        "p99_ms": percentile(&samples, 0.99),
        "max_ms": samples.last().copied().unwrap_or(f64::NAN),
    }))
}

/// Drains whatever a socket has queued (room events of the setup) until it is quiet.
async fn drain(socket: &mut Socket) {
    while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(200), socket.next()).await {}
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The whole path of a chat message: a member's `send` frame over its socket (the local API
/// Gateway emulation, `ws-message`, the connection lookup, seat, posting rule, send limit,
/// append, the members query) and the `message` event through the real push to every member's
/// socket; timed from the frame leaving the sender until the last of `members` sockets has it.
/// Senders take turns so nobody reaches the posting limit.
async fn send_fan_out(members: usize, rounds: usize) -> anyhow::Result<Value> {
    let running = start(LocalConfig::embedded()).await?;
    let base = running.http_url();
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let mut tokens = Vec::new();
    let mut sockets: Vec<Socket> = Vec::new();
    for i in 0..members {
        let (_, token) = person(&client, &base, &format!("member{i}")).await?;
        let (socket, _) =
            tokio_tungstenite::connect_async(ticket_url(&client, &base, &token).await?).await?;
        tokens.push(token);
        sockets.push(socket);
    }
    let names: Vec<String> = (1..members).map(|i| format!("member{i}")).collect();
    let mut chunks = names.chunks(40);
    let room = call(
        &client,
        &base,
        "/rooms",
        Some(json!({"kind": "group", "name": "bench", "members": chunks.next().unwrap_or(&[])})),
        Some(&tokens[0]),
    )
    .await?;
    let room_id = room["id"].as_str().context("a room id")?.to_owned();
    for chunk in chunks {
        call(
            &client,
            &base,
            &format!("/rooms/{room_id}/members"),
            Some(json!({"usernames": chunk})),
            Some(&tokens[0]),
        )
        .await?;
    }
    for socket in sockets.iter_mut() {
        drain(socket).await;
    }
    let mut samples = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let sender = round % members;
        let frame = json!({"action": "send", "room_id": room_id, "text": format!("round {round}")});
        let started = Instant::now();
        sockets[sender]
            .send(Message::text(frame.to_string()))
            .await?;
        for socket in sockets.iter_mut() {
            loop {
                match tokio::time::timeout(Duration::from_secs(10), socket.next()).await {
                    Ok(Some(Ok(Message::Text(text)))) => {
                        let event: Value = serde_json::from_str(&text)?;
                        match event["type"].as_str() {
                            Some("message") => break,
                            Some("error") => bail!("the send was refused: {event}"),
                            _ => continue,
                        }
                    }
                    Ok(Some(Ok(_))) => continue,
                    other => bail!("a socket lost the message: {other:?}"),
                }
            }
        }
        samples.push(started.elapsed().as_secs_f64() * 1e3);
    }
    samples.sort_by(f64::total_cmp);
    running.stop();
    Ok(json!({
        "members": members,
        "rounds": rounds,
        "p50_ms": percentile(&samples, 0.5),
        "p99_ms": percentile(&samples, 0.99),
        "max_ms": samples.last().copied().unwrap_or(f64::NAN),
    }))
}

fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .context("VmRSS")
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn idle_memory(server: &str, idle: usize) -> anyhow::Result<Value> {
    let (http, ws) = (free_port()?, free_port()?);
    let mut child = tokio::process::Command::new(server)
        .args([
            "--http-port",
            &http.to_string(),
            "--ws-port",
            &ws.to_string(),
            "--quiet-mail",
        ])
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {server}"))?;
    let pid = child.id().context("a pid")?;
    let base = format!("http://127.0.0.1:{http}");
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    for _ in 0..100 {
        if get(&client, &format!("{base}/_local/health")).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Everyone signs up before the baseline: a signup hashes a password with argon2id (19 MiB),
    // and the allocator keeps such blocks, which would be counted as connection memory.
    // Tickets are limited to 30 a minute per person: one person per 25 sockets.
    let mut tokens = Vec::with_capacity(idle / 25 + 2);
    for i in 0..=idle / 25 {
        tokens.push(person(&client, &base, &format!("idle{i}")).await?.1);
    }
    // Warm the allocator and the first connection's code paths before the baseline.
    let warm = tokio_tungstenite::connect_async(ticket_url(&client, &base, &tokens[0]).await?)
        .await?
        .0;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = rss_kib(pid)?;
    let mut sockets = Vec::with_capacity(idle);
    for i in 0..idle {
        let token = &tokens[(i + 1) / 25];
        sockets.push(
            tokio_tungstenite::connect_async(ticket_url(&client, &base, token).await?)
                .await?
                .0,
        );
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss_kib(pid)?;
    drop(warm);
    child.kill().await.ok();
    Ok(json!({
        "connections": idle,
        "rss_before_kib": before,
        "rss_after_kib": after,
        "per_connection_kib": (after.saturating_sub(before)) as f64 / idle as f64,
    }))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (mut rounds, mut connections, mut idle, mut server) = (200usize, 100usize, 1000usize, None);
    let mut scaled: Option<scale::Options> = None;
    let list = |raw: String| -> anyhow::Result<Vec<usize>> {
        raw.split(',')
            .map(|n| n.trim().parse().context("a list of numbers"))
            .collect()
    };
    let defaults = || scale::Options {
        sizes: vec![2, 100, 1000],
        online_percent: vec![10, 100],
        rounds: 20,
        post_latency_ms: 15,
        max_sockets: 3000,
    };
    while let Some(arg) = args.next() {
        let mut value = || args.next().context("a value after the flag");
        match arg.as_str() {
            "--scale" => scaled = Some(scaled.take().unwrap_or_else(defaults)),
            "--sizes" => scaled.get_or_insert_with(defaults).sizes = list(value()?)?,
            "--online" => scaled.get_or_insert_with(defaults).online_percent = list(value()?)?,
            "--max-sockets" => {
                scaled.get_or_insert_with(defaults).max_sockets = value()?.parse()?
            }
            "--post-latency-ms" => {
                scaled.get_or_insert_with(defaults).post_latency_ms = value()?.parse()?
            }
            "--rounds" if scaled.is_some() => {
                if let Some(s) = scaled.as_mut() {
                    s.rounds = value()?.parse()?;
                }
            }
            "--rounds" => rounds = value()?.parse()?,
            "--connections" => connections = value()?.parse()?,
            "--idle" => idle = value()?.parse()?,
            "--server" => server = Some(value()?),
            other => bail!("unknown argument {other}"),
        }
    }
    if let Some(options) = scaled {
        scale::run(&options).await?;
        return Ok(());
    }
    let sent = send_fan_out(connections, rounds).await?;
    println!("send fan-out: {sent}");
    let fan = fan_out(connections, rounds).await?;
    println!("push fan-out: {fan}");
    let server = match server {
        Some(s) => s,
        None => std::env::current_exe()?
            .parent()
            .context("a directory")?
            .join("chatman-local")
            .to_string_lossy()
            .into_owned(),
    };
    let mem = idle_memory(&server, idle).await?;
    println!("idle: {mem}");
    Ok(())
}
