//! `--scale`: delivery after the request, by room size. For each room size and share of members
//! online, one member sends over HTTP (`POST /rooms/{id}/messages`) round after round; each
//! online member holds a real socket. Measured: the sender's answer (ack), the first and the last
//! socket to get the `message` event (from the send), what arrived against what was expected,
//! duplicates and events out of order per socket. `@connections` posts take
//! `--post-latency-ms` each on the local server (API Gateway's management API is a network
//! round trip away from a Lambda; the local one is on loopback).

use super::{HttpClient, Socket, call, percentile, person, ticket_url};
use anyhow::{Context as _, bail};
use chatman_local::{LocalConfig, start};
use futures_util::StreamExt;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// Every `message` event a socket got: (message id, when).
type Arrivals = Arc<Mutex<Vec<(String, Instant)>>>;

/// Reads `socket` for ever, noting each `message` event.
fn listen(mut socket: Socket, arrivals: Arrivals) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(Ok(frame)) = socket.next().await {
            let Message::Text(text) = frame else { continue };
            let Ok(event) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            if event["type"] == "message"
                && let Some(id) = event["message"]["id"].as_str()
            {
                arrivals
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((id.to_owned(), Instant::now()));
            }
        }
    })
}

pub struct Options {
    pub sizes: Vec<usize>,
    pub online_percent: Vec<usize>,
    pub rounds: usize,
    pub post_latency_ms: u64,
    /// Combinations needing more sockets than this are skipped (one load client's descriptors).
    pub max_sockets: usize,
}

pub async fn run(options: &Options) -> anyhow::Result<Vec<Value>> {
    let mut config = LocalConfig::embedded();
    config.ws_post_latency_ms = options.post_latency_ms;
    let running = start(config).await?;
    let base = running.http_url();
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let most = options.sizes.iter().copied().max().unwrap_or(2);
    eprintln!("signing up {most} people ...");
    // Eight at a time (the server hashes two passwords at once on this machine), in order.
    let started = Instant::now();
    let people: Vec<(String, String)> = futures_util::stream::iter(0..most)
        .map(|i| {
            let (client, base) = (client.clone(), base.clone());
            async move { person(&client, &base, &format!("person{i}")).await }
        })
        .buffered(8)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    eprintln!(
        "  {most} people in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    let mut results = Vec::new();
    for &size in &options.sizes {
        let room = group(&client, &base, &people, size).await?;
        for &percent in &options.online_percent {
            let online = (size * percent).div_ceil(100).max(1);
            if online > options.max_sockets {
                eprintln!("room of {size}, {online} online: skipped (over --max-sockets)");
                continue;
            }
            eprintln!("room of {size}, {online} online ...");
            let result = measure(&client, &base, &people, &room, size, online, options).await?;
            println!("{result}");
            results.push(result);
        }
    }
    running.stop();
    Ok(results)
}

/// A group of the first `size` people, made by person 0; its id.
async fn group(
    client: &HttpClient,
    base: &str,
    people: &[(String, String)],
    size: usize,
) -> anyhow::Result<String> {
    let names: Vec<String> = (1..size).map(|i| format!("person{i}")).collect();
    let mut chunks = names.chunks(40);
    let room = call(
        client,
        base,
        "/rooms",
        Some(json!({"kind": "group", "name": format!("size {size}"), "members": chunks.next().unwrap_or(&[])})),
        Some(&people[0].1),
    )
    .await?;
    let id = room["id"].as_str().context("a room id")?.to_owned();
    for chunk in chunks {
        call(
            client,
            base,
            &format!("/rooms/{id}/members"),
            Some(json!({"usernames": chunk})),
            Some(&people[0].1),
        )
        .await?;
    }
    Ok(id)
}

async fn measure(
    client: &HttpClient,
    base: &str,
    people: &[(String, String)],
    room: &str,
    size: usize,
    online: usize,
    options: &Options,
) -> anyhow::Result<Value> {
    let mut arrivals = Vec::with_capacity(online);
    let mut listeners = Vec::with_capacity(online);
    for (_, token) in people.iter().take(online) {
        let (socket, _) =
            tokio_tungstenite::connect_async(ticket_url(client, base, token).await?).await?;
        let seen: Arrivals = Arc::default();
        listeners.push(listen(socket, seen.clone()));
        arrivals.push(seen);
    }
    // Setup events (room added) and connects settle before the clock starts.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let senders = size.min(10);
    let (mut acks, mut firsts, mut lasts) = (Vec::new(), Vec::new(), Vec::new());
    let mut sent_ids = Vec::with_capacity(options.rounds);
    for round in 0..options.rounds {
        let sender = &people[round % senders].1;
        let started = Instant::now();
        let answer = call(
            client,
            base,
            &format!("/rooms/{room}/messages"),
            Some(json!({"text": format!("round {round}")})),
            Some(sender),
        )
        .await?;
        acks.push(started.elapsed().as_secs_f64() * 1e3);
        let Some(id) = answer["id"].as_str().map(str::to_owned) else {
            bail!("the send was refused: {answer}");
        };
        // Until every online socket has it (or 10 s).
        let deadline = started + Duration::from_secs(10);
        let times = loop {
            let times: Vec<Instant> = arrivals
                .iter()
                .filter_map(|a| {
                    a.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .iter()
                        .find(|(m, _)| *m == id)
                        .map(|(_, at)| *at)
                })
                .collect();
            if times.len() == online || Instant::now() > deadline {
                break times;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        let ms = |at: &Instant| at.duration_since(started).as_secs_f64() * 1e3;
        if let (Some(first), Some(last)) = (times.iter().min(), times.iter().max()) {
            firsts.push(ms(first));
            lasts.push(ms(last));
        }
        sent_ids.push(id);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (mut delivered, mut duplicates, mut out_of_order) = (0usize, 0usize, 0usize);
    for seen in &arrivals {
        let seen = seen.lock().unwrap_or_else(|e| e.into_inner());
        let mut counts: HashMap<&str, usize> = HashMap::new();
        let mut last_index = None;
        for (id, _) in seen.iter() {
            let Some(index) = sent_ids.iter().position(|s| s == id) else {
                continue;
            };
            *counts.entry(id.as_str()).or_default() += 1;
            if last_index.is_some_and(|l| index < l) {
                out_of_order += 1;
            }
            last_index = Some(index);
        }
        delivered += counts.len();
        duplicates += counts.values().map(|c| c - 1).sum::<usize>();
    }
    for l in listeners {
        l.abort();
    }
    for v in [&mut acks, &mut firsts, &mut lasts] {
        v.sort_by(f64::total_cmp);
    }
    let stat = |v: &[f64], p: f64| {
        if v.is_empty() {
            f64::NAN
        } else {
            (percentile(v, p) * 10.0).round() / 10.0
        }
    };
    Ok(json!({
        "members": size,
        "online": online,
        "rounds": options.rounds,
        "post_latency_ms": options.post_latency_ms,
        "ack_p50_ms": stat(&acks, 0.5),
        "ack_p99_ms": stat(&acks, 0.99),
        "first_p50_ms": stat(&firsts, 0.5),
        "first_p99_ms": stat(&firsts, 0.99),
        "last_p50_ms": stat(&lasts, 0.5),
        "last_p99_ms": stat(&lasts, 0.99),
        "last_max_ms": stat(&lasts, 1.0),
        "delivered": delivered,
        "expected": online * options.rounds,
        "duplicates": duplicates,
        "out_of_order": out_of_order,
    }))
}
