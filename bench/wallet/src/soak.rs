//! Memory of the local server on its memory store over a day (issue 18): N transfers from 8
//! clients with keys unique per client (each one an idempotency record kept 24 h), then the
//! injected clock moves 24 hours and the stores' expiry runs, as it would every minute. The
//! resident set must come back within 20 % of where it started plus the ledger's own size
//! (entries are the ledger: they never expire).
//!
//! The server runs in this process, so the RSS read is this process's; the HTTP client's share
//! is the same at every reading.

use crate::load::{Http, fund_payers, send, send_seeing_replays};
use chatman::ports::ManualClock;
use chatman_local::{LocalConfig, start_with_clock};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;

const CLIENTS: usize = 8;

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// What the ledger itself holds per transfer, by its data structure: two entries, each a
/// `(TransferId, Entry)` slot in a B-tree (about 55 % full when filled in key order, as UUIDv7
/// ids are) plus the heap strings of the two usernames and the currency (32 bytes each, the
/// allocator's smallest chunk; the empty description allocates nothing).
fn ledger_bytes_per_transfer() -> f64 {
    let slot = std::mem::size_of::<(chatman::domain::TransferId, chatman::domain::Entry)>() as f64;
    2.0 * (slot / 0.55 + 3.0 * 32.0)
}

pub async fn run(transfers: usize) -> anyhow::Result<()> {
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let running = start_with_clock(
        LocalConfig {
            admins: "root".into(),
            quiet_mail: true,
            ..LocalConfig::embedded()
        },
        clock.clone(),
    )
    .await?;
    let base = running.http_url();
    let http: Http = Client::builder(TokioExecutor::new()).build_http();
    let payers = fund_payers(&http, &base, CLIENTS).await?;
    running.expiry.sweep();
    let at_start = rss_mb();
    println!(
        "   {transfers} transfers from {CLIENTS} clients, unique keys per client, memory store"
    );
    println!("   RSS at start (17 accounts, funded)      {at_start:>8.1} MB");

    let started = Instant::now();
    let per_client = transfers.div_ceil(CLIENTS);
    let mut tasks = Vec::new();
    for (c, token) in payers.iter().enumerate() {
        let (http, base, token) = (http.clone(), base.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let (mut failed, mut replayed) = (0usize, 0usize);
            for i in 0..per_client {
                let (status, _, replay) = send_seeing_replays(
                    &http,
                    &base,
                    "POST",
                    "/wallet/transfers",
                    Some(&token),
                    Some(&format!("soak-{c}-{i}")),
                    Some(json!({"to": format!("payee{c}"), "amount": 1})),
                )
                .await?;
                failed += usize::from(status != 201);
                replayed += usize::from(replay);
                if c == 0 && i > 0 && i % (per_client / 10).max(1) == 0 {
                    eprintln!("   ... {} of {transfers}", i * CLIENTS);
                }
            }
            anyhow::Ok((failed, replayed))
        }));
    }
    let (mut failed, mut replayed) = (0, 0);
    for t in tasks {
        let (f, r) = t.await??;
        failed += f;
        replayed += r;
    }
    let done = per_client * CLIENTS;
    anyhow::ensure!(failed == 0, "{failed} transfers were not 201");
    anyhow::ensure!(
        replayed == 0,
        "{replayed} answers were replays: keys repeated"
    );
    let after_transfers = rss_mb();
    println!(
        "   RSS after {done} transfers ({:.0}/s)   {after_transfers:>8.1} MB (0 failed, 0 replayed)",
        done as f64 / started.elapsed().as_secs_f64()
    );

    clock.advance(time::Duration::hours(24) + time::Duration::minutes(2));
    let dropped = running.expiry.sweep();
    // The server keeps serving: a few balance reads on every client's connection let each
    // worker thread collect what other threads freed (allocators hand freed blocks back to the
    // thread that allocated them, which does so on its next allocations).
    for _ in 0..4 {
        let mut reads = Vec::new();
        for token in &payers {
            let (http, base, token) = (http.clone(), base.clone(), token.clone());
            reads.push(tokio::spawn(async move {
                for _ in 0..250 {
                    send(&http, &base, "GET", "/wallet", Some(&token), None, None).await?;
                }
                anyhow::Ok(())
            }));
        }
        for r in reads {
            r.await??;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let after_day = rss_mb();
    let ledger_mb = done as f64 * ledger_bytes_per_transfer() / 1e6 * 1.048_576_f64.recip();
    let ceiling = at_start * 1.2 + ledger_mb;
    println!(
        "   RSS 24 h later, {dropped} records expired, 8,000 reads served {after_day:>6.1} MB"
    );
    println!(
        "   target: <= 1.2 x start + the ledger's own size ({ledger_mb:.1} MB for {} entries) = {ceiling:.1} MB   {}",
        2 * done,
        if after_day <= ceiling {
            "met"
        } else {
            "MISSED"
        }
    );
    running.stop();
    Ok(())
}
