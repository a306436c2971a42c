//! `chat-bench`: what the chat costs.
//!
//! 1. Capacity on DynamoDB Local (`--dynamodb URL`): read and write units the chat store consumes
//!    per send, per history page and per chat list, in rooms of 2, 100 and 1,000 members, and the
//!    chat list of a person in 50 rooms. Accounts (authentication, names) are kept in memory here
//!    and not counted: docs/PERFORMANCE.md adds them.
//! 2. Throughput of `POST /rooms/{id}/messages` on the release local server (memory store), with
//!    8 clients on keep-alive connections (`--local-bin PATH`).
//!
//! Run it through `scripts/bench chat`, which builds the release binaries first.

#[path = "../chat/capacity.rs"]
mod capacity;
#[path = "../chat/http.rs"]
mod http;
#[path = "../chat/throughput.rs"]
mod throughput;

use anyhow::Context as _;

const USAGE: &str =
    "usage: chat-bench [--dynamodb URL] [--local-bin PATH] [--clients N] [--messages M] [--json]

  --dynamodb URL  DynamoDB Local for the capacity part (skipped without it)
  --local-bin P   the release chatman-local binary for the throughput part (skipped without it)
  --clients N     concurrent clients (default 8)
  --messages M    messages per client (default 1200)
  --json          JSON instead of tables";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut dynamodb = None;
    let mut local_bin = None;
    let mut clients = 8usize;
    let mut messages = 1200usize;
    let mut json = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .with_context(|| format!("{arg} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--dynamodb" => dynamodb = Some(value()?),
            "--local-bin" => local_bin = Some(value()?),
            "--clients" => clients = value()?.parse().context("--clients")?,
            "--messages" => messages = value()?.parse().context("--messages")?,
            "--json" => json = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => anyhow::bail!("unknown argument {other}\n{USAGE}"),
        }
    }
    let mut report = serde_json::Map::new();
    if let Some(endpoint) = dynamodb {
        let c = capacity::run(&endpoint).await?;
        if !json {
            capacity::print(&c);
        }
        report.insert("capacity".into(), capacity::to_json(&c));
    }
    if let Some(bin) = local_bin {
        let t = throughput::run(&bin, clients, messages).await?;
        if !json {
            throughput::print(&t);
        }
        report.insert("throughput".into(), throughput::to_json(&t));
    }
    if json {
        println!("{}", serde_json::Value::Object(report));
    }
    Ok(())
}
