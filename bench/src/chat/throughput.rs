//! Throughput of `POST /rooms/{id}/messages` on the release local server (memory store): each
//! client owns a group of people on one keep-alive connection and sends round-robin as them, so
//! no one exceeds the posting limit (60 a minute) and every answer must be `201`.

use super::http::Conn;
use serde_json::{Value, json};
use std::process::Stdio;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Throughput {
    pub clients: usize,
    pub messages: usize,
    pub seconds: f64,
    pub per_second: f64,
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
}

/// Messages one person may send in a run (under the 60-a-minute limit).
const PER_PERSON: usize = 55;

async fn person(conn: &mut Conn, name: &str) -> anyhow::Result<String> {
    let email = format!("{name}@example.com");
    let (s, started) = conn
        .call("POST", "/auth/signup", Some(&json!({"username": name, "email": email, "password": "correct horse battery staple"})), None)
        .await?;
    anyhow::ensure!(s == 202, "signup {name}: {s} {started}");
    let (_, outbox) = conn
        .call("GET", &format!("/_local/outbox?to={email}"), None, None)
        .await?;
    let code = outbox["items"][0]["subject"]
        .as_str()
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or_default()
        .to_owned();
    let (s, verified) = conn
        .call(
            "POST",
            "/auth/signup/verify",
            Some(&json!({"signup_id": started["signup_id"], "code": code})),
            None,
        )
        .await?;
    anyhow::ensure!(s == 201, "verify {name}: {s} {verified}");
    Ok(verified["tokens"]["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

/// The spawned local server, stopped however the run ends.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub async fn run(bin: &str, clients: usize, messages: usize) -> anyhow::Result<Throughput> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let _server = Server(
        std::process::Command::new(bin)
            .args([
                "--http-port",
                &port.to_string(),
                "--ws-port",
                "0",
                "--quiet-mail",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    );
    let addr = format!("127.0.0.1:{port}");
    let mut ready = false;
    for _ in 0..100 {
        if let Ok(mut c) = Conn::open(&addr).await
            && c.call("GET", "/_local/health", None, None).await.is_ok()
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::ensure!(ready, "the local server did not start");
    // Sign-ups first (argon2 dominates them), then all clients send at once.
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(clients + 1));
    let mut tasks = Vec::new();
    for index in 0..clients {
        let (addr, barrier) = (addr.clone(), barrier.clone());
        tasks.push(tokio::spawn(client(addr, index, messages, barrier)));
    }
    barrier.wait().await;
    let started = Instant::now();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let seconds = started.elapsed().as_secs_f64();
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p).ceil() as usize).saturating_sub(1))
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1e3)
    };
    Ok(Throughput {
        clients,
        messages: all.len(),
        seconds,
        per_second: all.len() as f64 / seconds,
        latency_p50_ms: pct(0.5),
        latency_p99_ms: pct(0.99),
    })
}

/// A client's connection, its people's tokens, their room's messages path and the body to send.
async fn prepare(
    addr: &str,
    index: usize,
    messages: usize,
) -> anyhow::Result<(Conn, Vec<String>, String, Value)> {
    let mut conn = Conn::open(addr).await?;
    let count = messages.div_ceil(PER_PERSON);
    let mut tokens = Vec::with_capacity(count);
    let mut names = Vec::with_capacity(count);
    for p in 0..count {
        let name = format!("c{index}p{p}");
        tokens.push(person(&mut conn, &name).await?);
        names.push(name);
    }
    let (s, room) = conn
        .call(
            "POST",
            "/rooms",
            Some(&json!({"kind": "group", "name": format!("bench {index}")})),
            Some(&tokens[0]),
        )
        .await?;
    anyhow::ensure!(s == 201, "room: {s} {room}");
    let id = room["id"].as_str().unwrap_or_default().to_owned();
    for chunk in names[1..].chunks(40) {
        let (s, added) = conn
            .call(
                "POST",
                &format!("/rooms/{id}/members"),
                Some(&json!({ "usernames": chunk })),
                Some(&tokens[0]),
            )
            .await?;
        anyhow::ensure!(s == 200, "members: {s} {added}");
    }
    let body = json!({"text": "a message of a typical length, about sixty characters long", "client_id": "bench"});
    Ok((conn, tokens, format!("/rooms/{id}/messages"), body))
}

/// One client: its people and their room, then (after `barrier`, when every client is ready)
/// the timed sends, returning their latencies.
async fn client(
    addr: String,
    index: usize,
    messages: usize,
    barrier: std::sync::Arc<tokio::sync::Barrier>,
) -> anyhow::Result<Vec<Duration>> {
    // Whatever happens while preparing, reach the barrier, so the others are never left waiting.
    let prepared = prepare(&addr, index, messages).await;
    barrier.wait().await;
    let (mut conn, tokens, path, body) = prepared?;
    let count = tokens.len();
    let mut latencies = Vec::with_capacity(messages);
    for i in 0..messages {
        let started = Instant::now();
        let (s, answer) = conn
            .call_raw("POST", &path, Some(&body), Some(&tokens[i % count]))
            .await?;
        latencies.push(started.elapsed());
        anyhow::ensure!(s == 201, "send: {s} {}", String::from_utf8_lossy(&answer));
    }
    Ok(latencies)
}

pub fn to_json(t: &Throughput) -> Value {
    json!({"clients": t.clients, "messages": t.messages, "seconds": t.seconds, "per_second": t.per_second, "latency_p50_ms": t.latency_p50_ms, "latency_p99_ms": t.latency_p99_ms})
}

pub fn print(t: &Throughput) {
    println!(
        "POST /rooms/{{id}}/messages on the local server (memory store): {} clients, {} messages in {:.2} s = {:.0} messages/s; latency p50 {:.2} ms, p99 {:.2} ms",
        t.clients, t.messages, t.seconds, t.per_second, t.latency_p50_ms, t.latency_p99_ms
    );
}
