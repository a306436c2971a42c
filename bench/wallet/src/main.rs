//! `chatman-wallet-bench`: what the wallet costs, measured on this machine.
//!
//! 1. DynamoDB per movement (against DynamoDB Local, through the real handlers): round trips of
//!    every SDK call (counted by an interceptor), and the ledger's consumed capacity
//!    (`ReturnConsumedCapacity`), for a transfer, a deposit and a donation.
//! 2. The local server (this release build) under 8 concurrent keep-alive clients: throughput,
//!    p50 and p99 of `GET /wallet` and `POST /wallet/transfers`, on the memory store and on
//!    DynamoDB Local.
//!
//! Run it through `scripts/bench --wallet`, which starts DynamoDB Local if asked to.

mod capacity;
mod load;
mod pricing;
mod soak;

use anyhow::Context as _;

const USAGE: &str = "\
usage: chatman-wallet-bench --dynamodb http://127.0.0.1:PORT [--requests N] [--ddb-requests M] [--clients C]
       chatman-wallet-bench --soak [--transfers N]

  --dynamodb URL     DynamoDB Local endpoint (capacity, and the DynamoDB load run)
  --requests N       requests per route on the memory store (default 4000)
  --ddb-requests M   requests per route on DynamoDB Local (default 1000)
  --clients C        concurrent clients (default 8)
  --soak             instead: the memory store's RSS over N transfers and a simulated day
  --transfers N      transfers of the soak (default 100000)";

fn main() -> anyhow::Result<()> {
    let mut endpoint = None;
    let (mut soak, mut transfers) = (false, 100_000usize);
    let (mut requests, mut ddb_requests, mut clients) = (4000usize, 1000usize, 8usize);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || {
            args.next()
                .with_context(|| format!("{a} needs a value\n{USAGE}"))
        };
        match a.as_str() {
            "--dynamodb" => endpoint = Some(value()?),
            "--requests" => requests = value()?.parse()?,
            "--ddb-requests" => ddb_requests = value()?.parse()?,
            "--clients" => clients = value()?.parse()?,
            "--soak" => soak = true,
            "--transfers" => transfers = value()?.parse()?,
            _ => anyhow::bail!("unknown argument {a:?}\n{USAGE}"),
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if soak {
        println!("Memory over a day (release local server in process, memory store)");
        return rt.block_on(soak::run(transfers));
    }
    let endpoint = endpoint.context(USAGE)?;
    rt.block_on(async {
        println!("1. DynamoDB per request (DynamoDB Local at {endpoint}, through the handlers)");
        capacity::run(&endpoint).await?;
        println!(
            "\n2. Local server (release), {clients} concurrent keep-alive clients, unique Idempotency-Key per transfer"
        );
        load::run(None, requests, clients).await?;
        load::run(Some(&endpoint), ddb_requests, clients).await?;
        Ok(())
    })
}
