//! Write capacity as AWS prices it, read from the requests the SDK sends. DynamoDB Local does not
//! price transactions as DynamoDB does (it reports 2.0 units for a transaction of any size), so
//! the figure the target is about is computed here from AWS's published rules:
//! a standard write costs 1 WCU per started KB of the item, a transactional write 2 WCU per
//! started KB, and every item of a transaction counts, `ConditionCheck` included. A conditional
//! write that is refused still costs its units, so every request sent is counted.
//!
//! Sizes: a `Put` carries its whole item, so its size is known; for an `Update`, `Delete` or
//! `ConditionCheck` only the key is sent, and the items the ledger updates (wallets, idempotency
//! records) are well under 1 KB, so they count one KB each.

use serde_json::Value;

/// The WCU one request to DynamoDB costs by AWS's rules; 0 for reads.
pub fn priced_wcu(target: &str, body: &[u8]) -> u64 {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return 0;
    };
    match target.rsplit('.').next().unwrap_or_default() {
        "PutItem" => kilobytes(&request["Item"]),
        "UpdateItem" | "DeleteItem" => 1,
        "BatchWriteItem" => request["RequestItems"]
            .as_object()
            .into_iter()
            .flat_map(|tables| tables.values())
            .filter_map(Value::as_array)
            .flatten()
            .map(|w| match w.get("PutRequest") {
                Some(put) => kilobytes(&put["Item"]),
                None => 1,
            })
            .sum(),
        "TransactWriteItems" => request["TransactItems"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| 2 * t.get("Put").map_or(1, |put| kilobytes(&put["Item"])))
            .sum(),
        _ => 0,
    }
}

/// Started kilobytes of an item in DynamoDB's JSON form (at least one).
fn kilobytes(item: &Value) -> u64 {
    item_size(item).div_ceil(1024).max(1)
}

/// An item's size as DynamoDB counts it: attribute names plus values.
fn item_size(item: &Value) -> u64 {
    item.as_object()
        .into_iter()
        .flatten()
        .map(|(name, value)| name.len() as u64 + value_size(value))
        .sum()
}

fn value_size(typed: &Value) -> u64 {
    let Some((kind, v)) = typed.as_object().and_then(|o| o.iter().next()) else {
        return 0;
    };
    match kind.as_str() {
        "S" | "B" => v.as_str().map_or(0, |s| s.len() as u64),
        // Numbers: about one byte per two significant digits, plus one.
        "N" => v.as_str().map_or(1, |s| (s.len() as u64).div_ceil(2) + 1),
        "BOOL" | "NULL" => 1,
        "M" => 3 + item_size(v),
        "L" => {
            3 + v
                .as_array()
                .into_iter()
                .flatten()
                .map(value_size)
                .sum::<u64>()
        }
        _ => v
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| e.as_str().map_or(1, |s| s.len() as u64))
            .sum(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_transaction_costs_two_per_item_and_a_plain_write_one() {
        let tx = json!({"TransactItems": [
            {"Update": {"Key": {"pk": {"S": "WALLET#a"}}}},
            {"Put": {"Item": {"pk": {"S": "x"}}}},
            {"ConditionCheck": {"Key": {"pk": {"S": "LINK#l"}}}},
        ]});
        let body = tx.to_string();
        assert_eq!(
            priced_wcu("DynamoDB_20120810.TransactWriteItems", body.as_bytes()),
            6
        );
        let put = json!({"Item": {"pk": {"S": "x"}}}).to_string();
        assert_eq!(priced_wcu("DynamoDB_20120810.PutItem", put.as_bytes()), 1);
        assert_eq!(priced_wcu("DynamoDB_20120810.GetItem", b"{}"), 0);
    }

    #[test]
    fn an_item_past_one_kilobyte_costs_more() {
        let big = json!({"Item": {"pk": {"S": "p"}, "description": {"S": "é".repeat(600)}}});
        let body = big.to_string();
        assert_eq!(priced_wcu("DynamoDB_20120810.PutItem", body.as_bytes()), 2);
    }
}
