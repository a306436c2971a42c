//! deposit, transfer, donate and wallet. Each receiver has a live connection and a stale one
//! (`gone-*`), so every function that pushes `transfer_received` looks up connections
//! (BatchGetItem WSUSER#) and removes a Gone one (one transaction: DeleteItem WSCONN#,
//! UpdateItem WSUSER#), as deployed.

use super::{field, key, statuses};
use crate::iam_support::deployment::Deployment;
use crate::support::Account;
use serde_json::json;

pub async fn run(d: &Deployment) {
    let root = d.person("root").await;
    let payer = d.person("payer").await;
    let payee = d.person("payee").await;
    let stranger = d.person("stranger").await;
    assert_eq!(d.connect(&payee, "payee-live").await, 200);

    deposit(d, &root, &payer).await;
    transfer(d, &payer, &payee, &stranger).await;
    donate(d, &payer, &payee).await;
    wallet(d, &payee).await;
}

async fn deposit(d: &Deployment, root: &Account, payer: &Account) {
    assert_eq!(d.connect(payer, "gone-payer-1").await, 200);
    let body = json!({"username": "payer", "amount": 10_000});
    let k = key();
    let ok = d.keyed("/wallet/deposits", body.clone(), root, &k).await;
    let replay = d.keyed("/wallet/deposits", body.clone(), root, &k).await;
    let not_admin = d.keyed("/wallet/deposits", body, payer, &key()).await;
    let unknown = json!({"username": "nobody", "amount": 5});
    let unknown = d.keyed("/wallet/deposits", unknown, root, &key()).await;
    // A failed movement stores no answer: the key is released (DeleteItem IDEM#).
    d.rec.fail_next("TransactWriteItems");
    let failed = json!({"username": "payer", "amount": 1});
    let failed = d.keyed("/wallet/deposits", failed, root, &key()).await;
    assert_eq!(
        statuses(&[&ok, &replay, &not_admin, &unknown, &failed]),
        [201, 201, 403, 404, 500],
        "{}",
        ok.body
    );
}

async fn transfer(d: &Deployment, payer: &Account, payee: &Account, stranger: &Account) {
    assert_eq!(d.connect(payee, "gone-payee-1").await, 200);
    let to = |who: &str, amount: i64| json!({"to": who, "amount": amount, "description": "rent"});
    let k = key();
    let ok = d
        .keyed("/wallet/transfers", to("payee", 1_000), payer, &k)
        .await;
    let replay = d
        .keyed("/wallet/transfers", to("payee", 1_000), payer, &k)
        .await;
    let to_self = d
        .keyed("/wallet/transfers", to("payer", 1), payer, &key())
        .await;
    let too_much = d
        .keyed("/wallet/transfers", to("payee", 1_000_000), payer, &key())
        .await;
    let unknown = d
        .keyed("/wallet/transfers", to("nobody", 1), payer, &key())
        .await;
    d.rec.fail_next("TransactWriteItems");
    let failed = d
        .keyed("/wallet/transfers", to("payee", 1), payer, &key())
        .await;
    d.rec.serving("setup");
    let block = d
        .app
        .call("POST", "/users/payer/block", None, Some(&stranger.access));
    assert_eq!(block.await.status, 204);
    let blocked = d
        .keyed("/wallet/transfers", to("stranger", 1), payer, &key())
        .await;
    assert_eq!(
        statuses(&[
            &ok, &replay, &to_self, &too_much, &unknown, &failed, &blocked
        ]),
        [201, 201, 422, 422, 404, 500, 403],
        "{}",
        ok.body
    );
}

async fn donate(d: &Deployment, payer: &Account, payee: &Account) {
    let me = Some(payee.access.as_str());
    let open = json!({"expires_in_minutes": 60, "description": "tips"});
    let open = d.call("POST", "/donate-links", Some(open), me).await;
    let fixed = json!({"expires_in_minutes": 60, "amount": 250});
    let fixed = d.call("POST", "/donate-links", Some(fixed), me).await;
    let list = d.call("GET", "/donate-links", None, me).await;
    let open_id = field(&open.body, "id");
    let fixed_id = field(&fixed.body, "id");
    let public = d
        .call("GET", &format!("/donate-links/{open_id}"), None, None)
        .await;

    assert_eq!(d.connect(payee, "gone-payee-2").await, 200);
    let pay = |id: &str| format!("/donate-links/{id}/pay");
    let k = key();
    let paid = d
        .keyed(&pay(&open_id), json!({"amount": 300}), payer, &k)
        .await;
    let replay = d
        .keyed(&pay(&open_id), json!({"amount": 300}), payer, &k)
        .await;
    let paid_fixed = d.keyed(&pay(&fixed_id), json!({}), payer, &key()).await;
    let own = d
        .keyed(&pay(&open_id), json!({"amount": 1}), payee, &key())
        .await;
    // An open link needs an amount, found out after the key is claimed: the key is released.
    let no_amount = d.keyed(&pay(&open_id), json!({}), payer, &key()).await;
    let revoke = d
        .call("DELETE", &format!("/donate-links/{fixed_id}"), None, me)
        .await;
    let revoked = d
        .call("GET", &format!("/donate-links/{fixed_id}"), None, None)
        .await;
    let pay_revoked = d.keyed(&pay(&fixed_id), json!({}), payer, &key()).await;
    assert_eq!(
        statuses(&[
            &open,
            &fixed,
            &list,
            &public,
            &paid,
            &replay,
            &paid_fixed,
            &own,
            &no_amount,
            &revoke,
            &revoked,
            &pay_revoked
        ]),
        [201, 201, 200, 200, 201, 201, 201, 422, 400, 204, 410, 410],
        "{} {}",
        open.body,
        paid.body
    );
}

async fn wallet(d: &Deployment, payee: &Account) {
    let me = Some(payee.access.as_str());
    let balance = d.call("GET", "/wallet", None, me).await;
    let first = d
        .call("GET", "/wallet/transactions?limit=1", None, me)
        .await;
    let cursor = field(&first.body, "next_cursor");
    let next = format!("/wallet/transactions?limit=1&cursor={cursor}");
    let next = d.call("GET", &next, None, me).await;
    let anonymous = d.call("GET", "/wallet", None, None).await;
    assert_eq!(
        statuses(&[&balance, &first, &next, &anonymous]),
        [200, 200, 200, 401]
    );
    assert_eq!(balance.body["balance"], 1_000 + 300 + 250);
}
