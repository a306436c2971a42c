//! DynamoDB round trips and consumed capacity per transfer, deposit, donation and refund, through the
//! very handlers the Lambda functions run, against DynamoDB Local.

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use chatman::adapters::dynamodb::{DynamoAccounts, DynamoLedger, Meter, schema};
use chatman::adapters::outbox::Outbox;
use chatman::adapters::recording_push::RecordingPush;
use chatman::handlers::{
    Context, Function, deposit::Deposit, donate::Donate, routes, signup::Signup,
    transfer::Transfer, verify_otp::VerifyOtp,
};
use chatman::http::apigw::{Incoming, to_event, to_request};
use chatman::ports::{Push, SystemClock};
use chatman::security::jwt::{TokenScope, TokenSigner};
use chatman::security::otp::OtpKey;
use chatman::settings::Settings;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counts every HTTP request the SDK transmits (retries included): the round trips, and the
/// write capacity each would cost on AWS (`pricing`).
#[derive(Debug, Default)]
struct RoundTrips {
    sent: Arc<AtomicU64>,
    priced_wcu: Arc<AtomicU64>,
}

impl Intercept for RoundTrips {
    fn name(&self) -> &'static str {
        "RoundTrips"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        self.sent.fetch_add(1, Ordering::Relaxed);
        let request = context.request();
        let target = request.headers().get("x-amz-target").unwrap_or_default();
        let body = request.body().bytes().unwrap_or_default();
        self.priced_wcu
            .fetch_add(crate::pricing::priced_wcu(target, body), Ordering::Relaxed);
        Ok(())
    }
}

struct App {
    functions: Vec<(&'static str, Box<dyn Function>)>,
    outbox: Arc<Outbox>,
}

impl App {
    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let (route_key, path_params) =
            routes::match_route(method, path).unwrap_or_else(|| panic!("no route {path}"));
        let function = routes::function_of(route_key).unwrap_or_default();
        let mut headers = vec![("host".to_owned(), "bench".to_owned())];
        if let Some(t) = token {
            headers.push(("authorization".into(), format!("Bearer {t}")));
        }
        if let Some(k) = key {
            headers.push(("idempotency-key".into(), k.to_owned()));
        }
        let bytes = body.map(|b| {
            headers.push(("content-type".into(), "application/json".into()));
            b.to_string().into_bytes()
        });
        let event = to_event(&Incoming {
            method,
            path,
            raw_query: "",
            headers,
            body: bytes.as_deref().unwrap_or_default(),
            route_key,
            path_params,
            source_ip: "127.0.0.1".into(),
            host: "bench".into(),
        });
        let request = to_request(event).unwrap_or_else(|e| panic!("event: {e}"));
        let handler = self
            .functions
            .iter()
            .find(|(n, _)| *n == function)
            .map(|(_, f)| f)
            .unwrap_or_else(|| panic!("no function {function}"));
        let response = handler.handle(request).await;
        let bytes: &[u8] = response.body().as_ref();
        (
            response.status().as_u16(),
            serde_json::from_slice(bytes).unwrap_or(Value::Null),
        )
    }

    async fn register(&self, name: &str) -> anyhow::Result<String> {
        let email = format!("{name}@example.com");
        let (_, started) = self
            .call("POST", "/auth/signup", None, None, Some(json!({"username": name, "email": email, "password": "correct horse battery staple"})))
            .await;
        let code = self.outbox.to(Some(&email))[0]
            .mail
            .subject
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned();
        let (status, verified) = self
            .call(
                "POST",
                "/auth/signup/verify",
                None,
                None,
                Some(json!({"signup_id": started["signup_id"], "code": code})),
            )
            .await;
        anyhow::ensure!(status == 201, "verify: {verified}");
        Ok(verified["tokens"]["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }
}

const SAMPLES: u64 = 20;

pub async fn run(endpoint: &str) -> anyhow::Result<()> {
    let trips = Arc::new(AtomicU64::new(0));
    let wcu = Arc::new(AtomicU64::new(0));
    let aws = chatman::adapters::aws::local(endpoint);
    let conf = aws_sdk_dynamodb::config::Builder::from(&aws)
        .interceptor(RoundTrips {
            sent: trips.clone(),
            priced_wcu: wcu.clone(),
        })
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(conf);
    let table = format!("bench-{}", std::process::id());
    schema::create_accounts_table(&client, &table).await?;
    let meter = Arc::new(Meter::default());
    let scope = TokenScope {
        issuer: "bench".into(),
        audience: "bench".into(),
    };
    let ctx = Context {
        store: Arc::new(DynamoAccounts::new(client.clone(), table.clone())),
        clock: Arc::new(SystemClock),
        settings: Arc::new(Settings::new("root", "http://bench", scope.clone())),
        ledger: Arc::new(DynamoLedger::new(client, table).with_meter(meter.clone())),
    };
    let outbox = Arc::new(Outbox::new(false));
    let signer = TokenSigner::ephemeral(scope);
    let otp = OtpKey::generate();
    let push: Arc<dyn Push> = Arc::new(RecordingPush::new());
    let verifier = signer.verifier().clone();
    let app = App {
        functions: vec![
            (
                "signup",
                Box::new(Signup::new(ctx.clone(), outbox.clone(), otp.clone())),
            ),
            (
                "verify-otp",
                Box::new(VerifyOtp::new(
                    ctx.clone(),
                    outbox.clone(),
                    otp,
                    signer.clone(),
                )),
            ),
            (
                "transfer",
                Box::new(Transfer::new(ctx.clone(), verifier.clone(), push.clone())),
            ),
            (
                "deposit",
                Box::new(Deposit::new(ctx.clone(), verifier.clone(), push.clone())),
            ),
            ("donate", Box::new(Donate::new(ctx.clone(), verifier, push))),
        ],
        outbox,
    };
    let root = app.register("root").await?;
    let alice = app.register("alice").await?;
    let bob = app.register("bob").await?;
    let (_, link) = app
        .call(
            "POST",
            "/donate-links",
            Some(&alice),
            None,
            Some(json!({"expires_in_minutes": 60})),
        )
        .await;
    let link_id = link["id"].as_str().unwrap_or_default().to_owned();
    // Carol pays alice's link; bob receives the transfers and deposits.
    let carol = app.register("carol").await?;
    let (s, _) = app
        .call(
            "POST",
            "/wallet/deposits",
            Some(&root),
            Some("warm"),
            Some(json!({"username": "alice", "amount": 10_000_000})),
        )
        .await;
    anyhow::ensure!(s == 201, "funding failed");
    app.call(
        "POST",
        "/wallet/deposits",
        Some(&root),
        Some("warm2"),
        Some(json!({"username": "carol", "amount": 10_000_000})),
    )
    .await;

    // Bob refunds (in full) the transfers alice sent him in the first row.
    let mut transfers: Vec<String> = Vec::new();
    println!(
        "   {:<38}{:>13}{:>16}{:>20}{:>14}{:>9}",
        "request (201s, mean of 20)",
        "round trips",
        "ledger units",
        "of which TransactWI",
        "WCU on AWS",
        "target"
    );
    for (label, kind, token) in [
        ("POST /wallet/transfers", "transfer", &alice),
        ("POST /wallet/deposits", "deposit", &root),
        ("POST /donate-links/{id}/pay", "donation", &carol),
        ("the same transfer, replayed", "replay", &alice),
        ("POST /wallet/transfers/{id}/refunds", "refund", &bob),
    ] {
        trips.store(0, Ordering::Relaxed);
        wcu.store(0, Ordering::Relaxed);
        meter.reset();
        for i in 0..SAMPLES {
            let key = format!("{kind}-{i}");
            let (status, body) = match kind {
                "transfer" => {
                    app.call(
                        "POST",
                        "/wallet/transfers",
                        Some(token),
                        Some(&key),
                        Some(json!({"to": "bob", "amount": 1})),
                    )
                    .await
                }
                "deposit" => {
                    app.call(
                        "POST",
                        "/wallet/deposits",
                        Some(token),
                        Some(&key),
                        Some(json!({"username": "bob", "amount": 1})),
                    )
                    .await
                }
                "refund" => {
                    let id = transfers
                        .get(i as usize)
                        .ok_or_else(|| anyhow::anyhow!("no transfer to refund"))?;
                    app.call(
                        "POST",
                        &format!("/wallet/transfers/{id}/refunds"),
                        Some(token),
                        Some(&key),
                        Some(json!({"reason": "bench"})),
                    )
                    .await
                }
                "donation" => {
                    app.call(
                        "POST",
                        &format!("/donate-links/{link_id}/pay"),
                        Some(token),
                        Some(&key),
                        Some(json!({"amount": 1})),
                    )
                    .await
                }
                _ => {
                    app.call(
                        "POST",
                        "/wallet/transfers",
                        Some(token),
                        Some("transfer-0"),
                        Some(json!({"to": "bob", "amount": 1})),
                    )
                    .await
                }
            };
            anyhow::ensure!(status == 201, "{label}: {status} {body}");
            if kind == "transfer" {
                transfers.push(
                    body["transfer"]["id"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                );
            }
        }
        let m = meter.read();
        let n = SAMPLES as f64;
        let priced = wcu.load(Ordering::Relaxed) as f64 / n;
        // The target is for a transfer (<= 10 WCU); the others are reported.
        let target = match kind {
            "transfer" if priced <= 10.0 => "met",
            "transfer" => "MISSED",
            _ => "-",
        };
        println!(
            "   {:<38}{:>13.1}{:>16.1}{:>20.1}{:>14.1}{:>9}",
            label,
            trips.load(Ordering::Relaxed) as f64 / n,
            m.capacity_units / n,
            m.transaction_units / n,
            priced,
            target,
        );
    }
    println!(
        "   round trips count every DynamoDB request of the handler (auth, lookups, ledger); units are\n   \
         what DynamoDB Local reported for the ledger's own requests (the accounts reads ask for none:\n   \
         each is one strongly consistent GetItem of an item under 4 KB, 1 RCU). WCU on AWS: every\n   \
         write request of the handler priced by AWS's rules (1 per KB standard, 2 per KB per item in\n   \
         a transaction); target for a transfer: <= 10 WCU."
    );
    Ok(())
}
