//! The bank test through the handlers the Lambdas run, on the memory store and on DynamoDB
//! Local: 20 wallets funded by deposits, 1,000 seeded transfers from 8 tasks with overdrafts,
//! self transfers and duplicates under the same key, some concurrent; then conservation, no
//! negative balance, at-most-once per key, balances equal to their ledgers, identical replies to
//! duplicates and no 5xx. The same driver runs over HTTP in `local/tests/bank_http.rs`.
#![allow(clippy::unwrap_used)]

mod bank_driver;
use bank_driver as bank;
mod support;

use bank::{Customer, Outcome, Pending, Plan, SeedGuard, Teller};
use chatman::adapters::recording_push::RecordingPush;
use chatman::ports::{AccountStore, LedgerStore};
use serde_json::Value;
use std::sync::Arc;
use support::TestApp;

struct Handlers(TestApp);

impl Teller for Handlers {
    fn call(
        &self,
        method: &'static str,
        path: String,
        token: String,
        key: Option<String>,
        body: Option<Value>,
    ) -> Pending<'_> {
        Box::pin(async move {
            let bearer = format!("Bearer {token}");
            let mut headers = vec![("authorization", bearer.as_str())];
            if body.is_some() {
                headers.push(("content-type", "application/json"));
            }
            if let Some(k) = &key {
                headers.push(("idempotency-key", k.as_str()));
            }
            let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
            let reply = self.0.raw(method, &path, headers, &bytes).await;
            Outcome {
                replayed: reply.header("idempotent-replayed").as_deref() == Some("true"),
                status: reply.status,
                body: reply.body,
            }
        })
    }
}

async fn bank(store: Arc<dyn AccountStore>, ledger: Arc<dyn LedgerStore>, label: &'static str) {
    let seed = bank::seed();
    let _guard = SeedGuard(seed, label);
    let app = TestApp::assemble(store, ledger, Arc::new(RecordingPush::new()), "root", None);
    let admin = app.register("root").await;
    let mut customers = Vec::new();
    for i in 0..20 {
        let a = app.register(&format!("customer{i:02}")).await;
        customers.push(Customer {
            username: a.username,
            token: a.access,
        });
    }
    let admin = Customer {
        username: admin.username,
        token: admin.access,
    };
    let started = std::time::Instant::now();
    bank::run(
        Arc::new(Handlers(app)),
        &admin,
        customers,
        seed,
        Plan {
            transfers: 1_000,
            tasks: 8,
        },
    )
    .await;
    eprintln!(
        "bank test ({label}, seed {seed}): {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_bank_balances_on_the_memory_store() {
    bank(
        Arc::new(chatman::adapters::memory::MemoryAccounts::new()),
        Arc::new(chatman::adapters::memory_ledger::MemoryLedger::new()),
        "memory",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_bank_balances_on_dynamodb_local() {
    let (store, ledger) = support::dynamo_stores().await;
    bank(store, ledger, "DynamoDB Local").await;
}
