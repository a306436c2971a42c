//! The bank test's driver, shared by the handler-level runs (memory and DynamoDB Local) and the
//! run over real HTTP against the local server: one seeded plan of deposits and transfers
//! (overdrafts, self transfers, duplicates with the same key, some concurrent) played from many
//! tasks through a `Teller`, then every promise of the ledger checked. Failures print the seed;
//! `CHATMAN_BANK_SEED=<n>` replays one.
#![allow(dead_code, clippy::unwrap_used)]

use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

/// One answer as the client saw it.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: u16,
    pub body: Value,
    pub replayed: bool,
}

pub type Pending<'a> = Pin<Box<dyn Future<Output = Outcome> + Send + 'a>>;

/// A way to reach the API: through the handlers in process, or over HTTP.
pub trait Teller: Send + Sync + 'static {
    fn call(
        &self,
        method: &'static str,
        path: String,
        token: String,
        key: Option<String>,
        body: Option<Value>,
    ) -> Pending<'_>;
}

/// A customer of the bank: a logged-in account.
#[derive(Debug, Clone)]
pub struct Customer {
    pub username: String,
    pub token: String,
}

/// SplitMix64: a tiny seeded generator, so the plan is reproducible without dependencies.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// The seed: `CHATMAN_BANK_SEED` when set, else fresh from the clock.
pub fn seed() -> u64 {
    std::env::var("CHATMAN_BANK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(7)
        })
}

/// Prints the seed if the test panics, so any failure can be replayed.
pub struct SeedGuard(pub u64, pub &'static str);

impl Drop for SeedGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "bank test ({}) failed with seed {}: rerun with CHATMAN_BANK_SEED={}",
                self.1, self.0, self.0
            );
        }
    }
}

#[derive(Debug, Clone)]
struct Op {
    key: String,
    from: usize,
    to: usize,
    amount: i64,
}

/// One delivery of an op: `copies` sends, concurrently or one after another.
#[derive(Debug, Clone)]
struct Delivery {
    op: usize,
    copies: usize,
    concurrent: bool,
}

pub struct Plan {
    pub transfers: usize,
    pub tasks: usize,
}

async fn send(teller: &dyn Teller, c: &[Customer], op: &Op) -> Outcome {
    teller
        .call(
            "POST",
            "/wallet/transfers".into(),
            c[op.from].token.clone(),
            Some(op.key.clone()),
            Some(json!({"to": c[op.to].username, "amount": op.amount})),
        )
        .await
}

/// Every entry of a customer's history, paging to the end.
async fn history(teller: &dyn Teller, who: &Customer) -> Vec<Value> {
    let mut all = Vec::new();
    let mut path = "/wallet/transactions?limit=100".to_owned();
    loop {
        let page = teller
            .call("GET", path.clone(), who.token.clone(), None, None)
            .await;
        assert_eq!(page.status, 200, "{}", page.body);
        all.extend(page.body["items"].as_array().unwrap().iter().cloned());
        match page.body["next_cursor"].as_str() {
            Some(c) => path = format!("/wallet/transactions?limit=100&cursor={c}"),
            None => return all,
        }
    }
}

/// One refund request of the bank's refund phase.
#[derive(Debug, Clone)]
struct RefundOp {
    key: String,
    /// The transfer's payee, who refunds it.
    who: usize,
    transfer: String,
    /// `None`: all that is left.
    amount: Option<i64>,
}

/// Some transfers that moved get refunded by their payee: one to three refunds of each at once
/// (all of it, part, more than was paid), every key sent twice at once. Checks that every key
/// answered one way and moved money at most once, that no transfer got back more than it paid,
/// and that its `refunded_total` and refunds are what the 201s said; answers the refunds' ids.
async fn refund_phase(
    teller: &dyn Teller,
    customers: &[Customer],
    ops: &[Op],
    paid: &[(usize, String)],
    seed: u64,
    rng: &mut Rng,
) -> BTreeSet<String> {
    let mut groups: Vec<Vec<RefundOp>> = Vec::new();
    for (j, (i, id)) in paid.iter().take(30).enumerate() {
        let op = &ops[*i];
        let refunds = (0..rng.range(1, 3))
            .map(|r| RefundOp {
                key: format!("refund-{seed}-{j}-{r}"),
                who: op.to,
                transfer: id.clone(),
                amount: match rng.range(0, 3) {
                    0 => None,
                    1 => Some(rng.range(1, op.amount as u64) as i64),
                    2 => Some(op.amount / 2 + 1),
                    _ => Some(op.amount + 1),
                },
            })
            .collect();
        groups.push(refunds);
    }
    let send = |r: &RefundOp| {
        let body = match r.amount {
            Some(a) => json!({"amount": a}),
            None => json!({}),
        };
        teller.call(
            "POST",
            format!("/wallet/transfers/{}/refunds", r.transfer),
            customers[r.who].token.clone(),
            Some(r.key.clone()),
            Some(body),
        )
    };
    let mut refunded = BTreeSet::new();
    for group in &groups {
        let sends: Vec<_> = group.iter().flat_map(|r| [send(r), send(r)]).collect();
        let outcomes = join_all(sends).await;
        let mut back = 0i64;
        let mut ids = BTreeSet::new();
        for (r, pair) in group.iter().zip(outcomes.chunks(2)) {
            let answers: Vec<&Outcome> = pair
                .iter()
                .filter(|o| !(o.status == 409 && o.body["code"] == "request_in_progress"))
                .collect();
            assert!(
                !answers.is_empty(),
                "seed {seed}: {r:?} got no answer: {pair:?}"
            );
            assert!(
                answers
                    .iter()
                    .all(|a| (a.status, &a.body) == (answers[0].status, &answers[0].body)),
                "seed {seed}: {r:?}: a duplicate got another answer: {pair:?}"
            );
            let answer = answers[0];
            match answer.status {
                201 => {
                    let t = &answer.body["transfer"];
                    assert_eq!(t["kind"], "refund", "seed {seed}");
                    assert_eq!(t["refund_of"], r.transfer.as_str(), "seed {seed}");
                    back += t["amount"].as_i64().unwrap();
                    let id = t["id"].as_str().unwrap().to_owned();
                    assert!(
                        refunded.insert(id.clone()),
                        "seed {seed}: a refund id twice"
                    );
                    ids.insert(id);
                }
                422 => assert!(
                    ["refund_exceeds_transfer", "insufficient_funds"]
                        .contains(&answer.body["code"].as_str().unwrap()),
                    "seed {seed}: {r:?}: {}",
                    answer.body
                ),
                other => panic!("seed {seed}: {r:?} answered {other}: {}", answer.body),
            }
        }
        let first = &group[0];
        let detail = teller
            .call(
                "GET",
                format!("/wallet/transfers/{}", first.transfer),
                customers[first.who].token.clone(),
                None,
                None,
            )
            .await;
        assert_eq!(detail.status, 200, "seed {seed}: {}", detail.body);
        let paid_amount = detail.body["amount"].as_i64().unwrap();
        assert!(
            back <= paid_amount,
            "seed {seed}: refunded {back} of {paid_amount}"
        );
        assert_eq!(detail.body["refunded_total"], back, "seed {seed}");
        let listed: BTreeSet<String> = detail.body["refunds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            listed, ids,
            "seed {seed}: the refunds listed are those that moved"
        );
    }
    refunded
}

/// Funds every customer by deposits, plays the plan from `plan.tasks` tasks, checks everything.
pub async fn run(
    teller: Arc<dyn Teller>,
    admin: &Customer,
    customers: Vec<Customer>,
    seed: u64,
    plan: Plan,
) {
    let n = customers.len();
    let mut rng = Rng::new(seed);
    let customers = Arc::new(customers);

    // Funding: one deposit each, duplicated once with the same key to prove deposits replay too.
    let mut deposited = 0i64;
    for (i, c) in customers.iter().enumerate() {
        let amount = rng.range(10_000, 100_000) as i64;
        let key = format!("fund-{seed}-{i}");
        let body = json!({"username": c.username, "amount": amount});
        let first = teller
            .call(
                "POST",
                "/wallet/deposits".into(),
                admin.token.clone(),
                Some(key.clone()),
                Some(body.clone()),
            )
            .await;
        assert_eq!(first.status, 201, "seed {seed}: deposit {}", first.body);
        let again = teller
            .call(
                "POST",
                "/wallet/deposits".into(),
                admin.token.clone(),
                Some(key),
                Some(body),
            )
            .await;
        assert!(
            again.replayed && again.body == first.body,
            "seed {seed}: deposit replay"
        );
        deposited += amount;
    }

    // The plan: random payers, payees and amounts (a tenth far beyond any balance, a twentieth
    // to oneself), a fifth sent twice or three times under the same key.
    let mut ops = Vec::with_capacity(plan.transfers);
    let mut queues: Vec<Vec<Delivery>> = vec![Vec::new(); plan.tasks];
    for i in 0..plan.transfers {
        let from = rng.range(0, n as u64 - 1) as usize;
        let to = if rng.chance(5) {
            from
        } else {
            (from + rng.range(1, n as u64 - 1) as usize) % n
        };
        let amount = match rng.range(0, 9) {
            0 => rng.range(100_000, 1_000_000),
            1..=3 => rng.range(5_000, 50_000),
            _ => rng.range(1, 5_000),
        } as i64;
        ops.push(Op {
            key: format!("bank-{seed}-{i}"),
            from,
            to,
            amount,
        });
        let copies = match rng.range(0, 9) {
            0 => 3,
            1 => 2,
            _ => 1,
        };
        let task = i % plan.tasks;
        if copies > 1 && rng.chance(50) {
            queues[task].push(Delivery {
                op: i,
                copies,
                concurrent: true,
            });
        } else {
            queues[task].push(Delivery {
                op: i,
                copies: 1,
                concurrent: false,
            });
            // The other copies come later from other tasks: late or racing duplicates.
            for c in 1..copies {
                let other = (task + c * 3) % plan.tasks;
                let at = rng.range(0, queues[other].len() as u64) as usize;
                queues[other].insert(
                    at,
                    Delivery {
                        op: i,
                        copies: 1,
                        concurrent: false,
                    },
                );
            }
        }
    }
    let ops = Arc::new(ops);

    let seen: Arc<Mutex<Vec<(usize, Outcome)>>> = Arc::new(Mutex::new(Vec::new()));
    let mut handles = Vec::new();
    for queue in queues {
        let (teller, customers, ops, seen) =
            (teller.clone(), customers.clone(), ops.clone(), seen.clone());
        handles.push(tokio::spawn(async move {
            for d in queue {
                let op = &ops[d.op];
                let outcomes = if d.concurrent {
                    let sends: Vec<_> = (0..d.copies)
                        .map(|_| send(teller.as_ref(), &customers, op))
                        .collect();
                    join_all(sends).await
                } else {
                    vec![send(teller.as_ref(), &customers, op).await]
                };
                let mut seen = seen.lock().unwrap();
                seen.extend(outcomes.into_iter().map(|o| (d.op, o)));
            }
        }));
    }
    for h in handles {
        h.await.expect("a bank task panicked");
    }
    let seen = Arc::try_unwrap(seen).unwrap().into_inner().unwrap();

    // No request got a 5xx.
    for (i, o) in &seen {
        assert!(
            o.status < 500,
            "seed {seed}: op {i} got {} {}",
            o.status,
            o.body
        );
    }

    // Per key: every answer identical, exactly one of them the original, money moved at most once.
    let mut by_op: BTreeMap<usize, Vec<&Outcome>> = BTreeMap::new();
    for (i, o) in &seen {
        by_op.entry(*i).or_default().push(o);
    }
    let mut moved: BTreeMap<String, usize> = BTreeMap::new();
    let mut duplicates = 0;
    for (i, outcomes) in &by_op {
        let op = &ops[*i];
        let answers: Vec<&&Outcome> = outcomes
            .iter()
            .filter(|o| !(o.status == 409 && o.body["code"] == "request_in_progress"))
            .collect();
        assert!(
            !answers.is_empty(),
            "seed {seed}: op {i} got no answer: {outcomes:?}"
        );
        let originals = answers.iter().filter(|o| !o.replayed).count();
        assert_eq!(
            originals, 1,
            "seed {seed}: op {i} answered fresh {originals} times"
        );
        for a in &answers {
            assert_eq!(
                (a.status, &a.body),
                (answers[0].status, &answers[0].body),
                "seed {seed}: op {i}: a duplicate got another answer"
            );
        }
        duplicates += outcomes.len() - 1;
        let answer = answers[0];
        if op.from == op.to {
            assert_eq!(
                (answer.status, answer.body["code"].as_str()),
                (422, Some("self_transfer")),
                "seed {seed}: op {i}"
            );
        }
        match answer.status {
            201 => {
                assert!(answer.body["balance"].as_i64().unwrap() >= 0, "seed {seed}");
                assert_eq!(answer.body["transfer"]["amount"], op.amount, "seed {seed}");
                let id = answer.body["transfer"]["id"].as_str().unwrap().to_owned();
                *moved.entry(id).or_default() += 1;
            }
            422 => assert!(
                ["insufficient_funds", "self_transfer"]
                    .contains(&answer.body["code"].as_str().unwrap()),
                "seed {seed}: op {i}: {}",
                answer.body
            ),
            other => panic!("seed {seed}: op {i} answered {other}: {}", answer.body),
        }
    }
    assert!(
        duplicates > plan.transfers / 10,
        "seed {seed}: too few duplicates to mean anything"
    );

    let paid: Vec<(usize, String)> = by_op
        .iter()
        .filter(|(_, outcomes)| outcomes.iter().any(|o| o.status == 201))
        .map(|(i, outcomes)| {
            let answer = outcomes.iter().find(|o| o.status == 201).unwrap();
            (
                *i,
                answer.body["transfer"]["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let refunded = refund_phase(teller.as_ref(), &customers, &ops, &paid, seed, &mut rng).await;

    // The ledgers: each transfer (and each refund) appears once out of the payer and once into
    // the payee, only for keys that answered 201; each balance is its entries' sum and never
    // below zero; the total is what was deposited.
    let mut outs: HashMap<String, usize> = HashMap::new();
    let mut ins: HashMap<String, usize> = HashMap::new();
    let mut total = 0i64;
    for c in customers.iter() {
        let wallet = teller
            .call("GET", "/wallet".into(), c.token.clone(), None, None)
            .await;
        let balance = wallet.body["balance"].as_i64().unwrap();
        assert!(balance >= 0, "seed {seed}: {} is negative", c.username);
        let entries = history(teller.as_ref(), c).await;
        let mut replayed = 0i64;
        for e in &entries {
            let amount = e["amount"].as_i64().unwrap();
            match e["direction"].as_str().unwrap() {
                "in" => replayed += amount,
                _ => replayed -= amount,
            }
            if e["kind"] == "transfer" || e["kind"] == "refund" {
                let id = e["transfer_id"].as_str().unwrap().to_owned();
                let side = if e["direction"] == "in" {
                    &mut ins
                } else {
                    &mut outs
                };
                *side.entry(id).or_default() += 1;
            }
        }
        assert_eq!(
            balance, replayed,
            "seed {seed}: {}'s balance is not its ledger",
            c.username
        );
        total += balance;
    }
    assert_eq!(total, deposited, "seed {seed}: money was made or lost");
    let answered: BTreeSet<&String> = moved.keys().chain(refunded.iter()).collect();
    assert!(
        moved.values().all(|n| *n == 1),
        "seed {seed}: a transfer id answered twice"
    );
    assert_eq!(
        outs.keys().collect::<BTreeSet<_>>(),
        answered,
        "seed {seed}: debits"
    );
    assert_eq!(
        ins.keys().collect::<BTreeSet<_>>(),
        answered,
        "seed {seed}: credits"
    );
    assert!(
        outs.values().chain(ins.values()).all(|n| *n == 1),
        "seed {seed}: an entry twice"
    );
    assert!(
        !answered.is_empty(),
        "seed {seed}: no transfer succeeded at all"
    );
}

/// Polls futures together (they interleave at every await), in order of the input.
pub async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut pending: Vec<Option<Pin<Box<F>>>> =
        futures.into_iter().map(|f| Some(Box::pin(f))).collect();
    let mut results: Vec<Option<F::Output>> = (0..pending.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (i, slot) in pending.iter_mut().enumerate() {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        results[i] = Some(v);
                        *slot = None;
                    }
                    std::task::Poll::Pending => done = false,
                }
            }
        }
        if done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    results.into_iter().flatten().collect()
}
