//! Throughput and latency of the local server (this release build) under concurrent clients:
//! `GET /wallet` and `POST /wallet/transfers`, each client paying from its own wallet.

use chatman_local::{LocalConfig, start};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

pub type Http = Client<HttpConnector, Full<Bytes>>;

pub async fn send(
    http: &Http,
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    key: Option<&str>,
    body: Option<Value>,
) -> anyhow::Result<(u16, Value)> {
    let (status, body, _) = send_seeing_replays(http, base, method, path, token, key, body).await?;
    Ok((status, body))
}

/// `send`, also saying whether the answer was a replay (`Idempotent-Replayed: true`): a load
/// run whose keys repeat would measure replays, not transfers.
pub async fn send_seeing_replays(
    http: &Http,
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    key: Option<&str>,
    body: Option<Value>,
) -> anyhow::Result<(u16, Value, bool)> {
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(format!("{base}{path}"));
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    if let Some(k) = key {
        req = req.header("idempotency-key", k);
    }
    let bytes = match body {
        Some(b) => {
            req = req.header("content-type", "application/json");
            b.to_string().into_bytes()
        }
        None => Vec::new(),
    };
    let res = http
        .request(req.body(Full::new(Bytes::from(bytes)))?)
        .await?;
    let status = res.status().as_u16();
    let replayed = res.headers().contains_key("idempotent-replayed");
    let body = res.into_body().collect().await?.to_bytes();
    Ok((
        status,
        serde_json::from_slice(&body).unwrap_or(Value::Null),
        replayed,
    ))
}

pub async fn register(http: &Http, base: &str, name: &str) -> anyhow::Result<String> {
    let email = format!("{name}@example.com");
    let (_, started) = send(
        http,
        base,
        "POST",
        "/auth/signup",
        None,
        None,
        Some(json!({"username": name, "email": email, "password": "correct horse battery staple"})),
    )
    .await?;
    let (_, outbox) = send(
        http,
        base,
        "GET",
        &format!("/_local/outbox?to={name}%40example.com"),
        None,
        None,
        None,
    )
    .await?;
    let code = outbox["items"][0]["subject"]
        .as_str()
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or_default()
        .to_owned();
    let (status, verified) = send(
        http,
        base,
        "POST",
        "/auth/signup/verify",
        None,
        None,
        Some(json!({"signup_id": started["signup_id"], "code": code})),
    )
    .await?;
    anyhow::ensure!(status == 201, "verify {name}: {verified}");
    Ok(verified["tokens"]["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

/// `root` (an admin), `clients` funded payers and as many payees: each client pays its own
/// payee, so a run measures the server, not one hot wallet. Returns the payers' tokens.
pub async fn fund_payers(http: &Http, base: &str, clients: usize) -> anyhow::Result<Vec<String>> {
    let root = register(http, base, "root").await?;
    let mut payers = Vec::new();
    for i in 0..clients {
        let name = format!("payer{i}");
        let token = register(http, base, &name).await?;
        let (s, b) = send(
            http,
            base,
            "POST",
            "/wallet/deposits",
            Some(&root),
            Some(&format!("fund-{i}")),
            Some(json!({"username": name, "amount": 10_000_000_000i64})),
        )
        .await?;
        anyhow::ensure!(s == 201, "funding: {b}");
        payers.push(token);
        register(http, base, &format!("payee{i}")).await?;
    }
    Ok(payers)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1e3
}

pub async fn run(endpoint: Option<&str>, requests: usize, clients: usize) -> anyhow::Result<()> {
    let table = format!("bench-load-{}", std::process::id());
    let running = start(LocalConfig {
        admins: "root".into(),
        dynamodb_endpoint: endpoint.map(str::to_owned),
        table,
        ..LocalConfig::embedded()
    })
    .await?;
    let base = running.http_url();
    let http: Http = Client::builder(TokioExecutor::new()).build_http();
    let payers = fund_payers(&http, &base, clients).await?;
    let label = endpoint.map_or("memory store".to_owned(), |e| {
        format!("DynamoDB Local ({e})")
    });
    println!("   {label}: {requests} requests per route");
    println!(
        "   {:<26}{:>10}{:>10}{:>10}{:>10}{:>8}",
        "route", "req/s", "p50 ms", "p99 ms", "max ms", "non-2xx"
    );
    for route in ["GET /wallet", "POST /wallet/transfers"] {
        // A short warm-up, then the timed run.
        for (phase, count) in [("warm", clients * 10), ("timed", requests)] {
            let per_client = count.div_ceil(clients);
            let started = Instant::now();
            let mut tasks = Vec::new();
            for (c, token) in payers.iter().enumerate() {
                let (http, base, token) = (http.clone(), base.clone(), token.clone());
                tasks.push(tokio::spawn(async move {
                    let mut latencies = Vec::with_capacity(per_client);
                    let mut failures = 0usize;
                    for i in 0..per_client {
                        let t = Instant::now();
                        let (status, _) = if route == "GET /wallet" {
                            send(&http, &base, "GET", "/wallet", Some(&token), None, None).await?
                        } else {
                            let key = format!("{phase}-{c}-{i}");
                            send(
                                &http,
                                &base,
                                "POST",
                                "/wallet/transfers",
                                Some(&token),
                                Some(&key),
                                Some(json!({"to": format!("payee{c}"), "amount": 1})),
                            )
                            .await?
                        };
                        latencies.push(t.elapsed());
                        failures += usize::from(!(200..300).contains(&status));
                    }
                    anyhow::Ok((latencies, failures))
                }));
            }
            let mut all = Vec::new();
            let mut failures = 0;
            for t in tasks {
                let (l, f) = t.await??;
                all.extend(l);
                failures += f;
            }
            let elapsed = started.elapsed();
            if phase == "warm" {
                continue;
            }
            all.sort();
            println!(
                "   {:<26}{:>10.0}{:>10.2}{:>10.2}{:>10.2}{:>8}",
                route,
                all.len() as f64 / elapsed.as_secs_f64(),
                percentile(&all, 0.50),
                percentile(&all, 0.99),
                all.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
                failures
            );
        }
    }
    running.stop();
    Ok(())
}
