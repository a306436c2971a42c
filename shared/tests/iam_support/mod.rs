//! The recording side of the IAM agreement test: an SDK interceptor that notes every DynamoDB
//! request as (function, action, table or index, partition key prefix), attributed to the function
//! serving at that moment, and the reader of what `template.yaml` allows each function.
//!
//! `TransactWriteItems` is recorded item by item as the action IAM authorizes it by (`PutItem`,
//! `UpdateItem`, `DeleteItem`, `ConditionCheckItem`), and the batch actions key by key, as AWS does.

pub mod deployment;
pub mod scenarios;

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

/// (function, action, resource, key prefix such as `USER#*`); resource is `table` or the index.
pub type Access = (String, String, String, String);

#[derive(Debug, Default)]
pub struct Recorder {
    serving: Mutex<String>,
    pub seen: Mutex<BTreeSet<Access>>,
    /// An action whose next request fails before it is sent, as a throttled or failing
    /// DynamoDB would: how the error paths (an idempotency key released) are driven.
    fail_next: Mutex<Option<&'static str>>,
}

impl Recorder {
    pub fn serving(&self, function: &str) {
        *self.serving.lock().unwrap() = function.to_owned();
    }

    /// The next `action` request fails (once).
    pub fn fail_next(&self, action: &'static str) {
        *self.fail_next.lock().unwrap() = Some(action);
    }

    fn record(&self, action: &str, resource: &str, key: &str) {
        let prefix = match key.split_once('#') {
            Some((head, _)) => format!("{head}#*"),
            None => key.to_owned(),
        };
        let function = self.serving.lock().unwrap().clone();
        self.seen.lock().unwrap().insert((
            function,
            action.to_owned(),
            resource.to_owned(),
            prefix,
        ));
    }
}

#[derive(Debug)]
pub struct RecordRequests(pub Arc<Recorder>);

fn pk(item: &Value) -> &str {
    item["pk"]["S"].as_str().unwrap_or("?")
}

impl Intercept for RecordRequests {
    fn name(&self) -> &'static str {
        "RecordRequests"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let target = request.headers().get("x-amz-target").unwrap_or("");
        let action = target.rsplit('.').next().unwrap_or("").to_owned();
        let body: Value = serde_json::from_slice(request.body().bytes().unwrap_or(b"{}"))?;
        let rec = &self.0;
        match action.as_str() {
            "GetItem" | "DeleteItem" | "UpdateItem" => {
                rec.record(&action, "table", pk(&body["Key"]))
            }
            "PutItem" => rec.record(&action, "table", pk(&body["Item"])),
            "TransactWriteItems" => {
                for item in body["TransactItems"].as_array().unwrap() {
                    let (kind, op) = item.as_object().unwrap().iter().next().unwrap();
                    let key = if kind == "Put" {
                        &op["Item"]
                    } else {
                        &op["Key"]
                    };
                    let as_action = match kind.as_str() {
                        "Put" => "PutItem",
                        "Update" => "UpdateItem",
                        "Delete" => "DeleteItem",
                        _ => "ConditionCheckItem",
                    };
                    rec.record(as_action, "table", pk(key));
                }
            }
            "BatchWriteItem" => {
                for table in body["RequestItems"].as_object().unwrap().values() {
                    for request in table.as_array().unwrap() {
                        let key = match request.get("PutRequest") {
                            Some(put) => &put["Item"],
                            None => &request["DeleteRequest"]["Key"],
                        };
                        rec.record(&action, "table", pk(key));
                    }
                }
            }
            "BatchGetItem" => {
                for table in body["RequestItems"].as_object().unwrap().values() {
                    for key in table["Keys"].as_array().unwrap() {
                        rec.record(&action, "table", pk(key));
                    }
                }
            }
            "Query" => {
                // "<partition attribute> = :name AND ...": the partition key's value.
                let condition = body["KeyConditionExpression"].as_str().unwrap();
                let name = condition
                    .split('=')
                    .nth(1)
                    .unwrap()
                    .split_whitespace()
                    .next()
                    .unwrap();
                let value = body["ExpressionAttributeValues"][name]["S"]
                    .as_str()
                    .unwrap();
                let resource = body["IndexName"].as_str().unwrap_or("table");
                rec.record(&action, resource, value);
            }
            other => rec.record(other, "table", "?"),
        }
        let mut fail = rec.fail_next.lock().unwrap();
        if fail.is_some_and(|a| a == action) {
            *fail = None;
            return Err("an injected DynamoDB failure".into());
        }
        Ok(())
    }
}

/// What each function's policy allows, read from the template's statement layout: `Action:`
/// (one or a list), `Resource:` (the table or an index) and `dynamodb:LeadingKeys: [...]`.
pub fn allowed_by_template() -> BTreeSet<Access> {
    let template = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml"),
    )
    .unwrap();
    let mut allowed = BTreeSet::new();
    let (mut function, mut actions, mut resource) = (String::new(), Vec::new(), String::new());
    for line in template.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix("Binary:") {
            function = name.trim().to_owned();
        } else if let Some(list) = line.strip_prefix("Action:") {
            actions = list
                .trim_matches(|c| " []".contains(c))
                .split(',')
                .filter_map(|a| a.trim().strip_prefix("dynamodb:"))
                .map(str::to_owned)
                .collect();
        } else if let Some(arn) = line.strip_prefix("Resource:") {
            resource = match arn.split_once("/index/") {
                Some((_, index)) => index.trim().to_owned(),
                None => "table".to_owned(),
            };
        } else if let Some(keys) = line.strip_prefix("dynamodb:LeadingKeys:") {
            for key in keys.trim_matches(|c| " []".contains(c)).split(',') {
                for action in &actions {
                    allowed.insert((
                        function.clone(),
                        action.clone(),
                        resource.clone(),
                        key.trim().trim_matches('"').to_owned(),
                    ));
                }
            }
        }
    }
    allowed
}
