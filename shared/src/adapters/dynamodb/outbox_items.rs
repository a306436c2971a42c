//! Outbox records as items of the table, and back from the images the table's stream carries
//! (the Lambda event's DynamoDB JSON, or DynamoDB Streams' own records locally).
//!
//! | pk | sk | attributes | TTL |
//! |---|---|---|---|
//! | `OUTBOX#{room}` | `{record id}` (UUIDv7) | `room`, `audience` (`members`/`users`), `users` (list), `frame` (the event as the client gets it), `at` (millis) | 1 day |
//! | `OUTBOX#{room}#{shard:02}` | `{record id}-{shard}` | the same, `audience` = `shard`, `shard` | 1 day |
//!
//! One partition per room (and per room shard), so the stream hands a room's records over in
//! the order they were written: `deleted` never overtakes its `message`.

use super::items::{Item, Read, n, s};
use crate::domain::time::{from_millis, to_millis};
use crate::domain::{RoomId, UserId};
use crate::ports::{Audience, Outgoing};
use anyhow::{Context as _, anyhow};
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;
use time::Duration;

pub const OUTBOX_PREFIX: &str = "OUTBOX#";
/// How long a record stays after it was written: the stream keeps records 24 h anyway.
const KEEP: Duration = Duration::days(1);

fn outbox_pk(o: &Outgoing) -> String {
    match o.audience {
        Audience::Shard(shard) => format!("{OUTBOX_PREFIX}{}#{shard:02}", o.room),
        _ => format!("{OUTBOX_PREFIX}{}", o.room),
    }
}

pub fn outbox_item(o: &Outgoing) -> Item {
    let mut item: Item = [
        ("pk".to_owned(), s(outbox_pk(o))),
        ("sk".to_owned(), s(&o.id)),
        ("room".to_owned(), s(o.room.to_string())),
        ("frame".to_owned(), s(o.frame())),
        ("at".to_owned(), n(to_millis(o.at))),
        ("ttl".to_owned(), n((o.at + KEEP).unix_timestamp())),
    ]
    .into_iter()
    .collect();
    let audience = match &o.audience {
        Audience::Members => "members",
        Audience::Users(users) => {
            item.insert(
                "users".to_owned(),
                AttributeValue::L(users.iter().map(|u| s(u.to_string())).collect()),
            );
            "users"
        }
        Audience::Shard(shard) => {
            item.insert("shard".to_owned(), n(shard));
            "shard"
        }
    };
    item.insert("audience".to_owned(), s(audience));
    item
}

/// Whether an item (a stream image) is an outbox record at all.
pub fn is_outbox(item: &Item) -> bool {
    matches!(item.get("pk"), Some(AttributeValue::S(pk)) if pk.starts_with(OUTBOX_PREFIX))
}

/// The record an outbox item holds. `Ok(None)` for an item whose event this version does not
/// know (skipped rather than retried for ever).
pub fn outgoing_from(item: &Item) -> anyhow::Result<Option<Outgoing>> {
    let r = Read(item);
    let room = RoomId::parse(r.s("room")?).map_err(|e| anyhow!("outbox room: {e}"))?;
    let audience = match r.s("audience")? {
        "members" => Audience::Members,
        "shard" => Audience::Shard(r.n("shard")?),
        "users" => {
            let Some(AttributeValue::L(list)) = item.get("users") else {
                return Err(anyhow!("outbox record without its users"));
            };
            let users = list
                .iter()
                .map(|v| match v {
                    AttributeValue::S(id) => {
                        UserId::parse(id).map_err(|e| anyhow!("outbox user: {e}"))
                    }
                    _ => Err(anyhow!("outbox user is not a string")),
                })
                .collect::<anyhow::Result<_>>()?;
            Audience::Users(users)
        }
        other => return Err(anyhow!("unknown outbox audience {other}")),
    };
    let Some(event) = Outgoing::event_from_frame(r.s("frame")?) else {
        return Ok(None);
    };
    Ok(Some(Outgoing {
        id: r.s("sk")?.to_owned(),
        room,
        audience,
        event,
        at: from_millis(r.n("at")?),
    }))
}

/// An image in DynamoDB JSON (`{"pk": {"S": "..."}, "n": {"N": "1"}, ...}`), as a Lambda stream
/// event carries it. Only the types outbox records use are read; others are refused.
pub fn item_from_json(image: &Value) -> anyhow::Result<Item> {
    let Value::Object(fields) = image else {
        return Err(anyhow!("an image is a JSON object"));
    };
    fields
        .iter()
        .map(|(name, v)| {
            Ok((
                name.clone(),
                value_from_json(v).with_context(|| name.clone())?,
            ))
        })
        .collect()
}

fn value_from_json(v: &Value) -> anyhow::Result<AttributeValue> {
    let Value::Object(typed) = v else {
        return Err(anyhow!("not a typed value"));
    };
    let (kind, inner) = typed.iter().next().ok_or_else(|| anyhow!("empty value"))?;
    Ok(match (kind.as_str(), inner) {
        ("S", Value::String(x)) => AttributeValue::S(x.clone()),
        ("N", Value::String(x)) => AttributeValue::N(x.clone()),
        ("BOOL", Value::Bool(b)) => AttributeValue::Bool(*b),
        ("NULL", _) => AttributeValue::Null(true),
        ("L", Value::Array(items)) => AttributeValue::L(
            items
                .iter()
                .map(value_from_json)
                .collect::<Result<_, _>>()?,
        ),
        ("M", Value::Object(_)) => AttributeValue::M(item_from_json(inner)?),
        ("SS", Value::Array(items)) => AttributeValue::Ss(
            items
                .iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect(),
        ),
        (other, _) => return Err(anyhow!("unsupported attribute type {other}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::Event;
    use serde_json::json;
    use time::OffsetDateTime;

    fn record(audience: Audience) -> Outgoing {
        Outgoing::new(
            RoomId::new(),
            audience,
            Event::new("message", json!({"room_id": "r", "seq": 7})),
            OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap(),
        )
    }

    #[test]
    fn every_audience_survives_the_item_round_trip() {
        for audience in [
            Audience::Members,
            Audience::Users(vec![UserId::new(), UserId::new()]),
            Audience::Shard(11),
        ] {
            let out = record(audience);
            let item = outbox_item(&out);
            assert!(is_outbox(&item));
            assert_eq!(outgoing_from(&item).unwrap(), Some(out));
        }
    }

    #[test]
    fn a_lambda_stream_image_reads_as_the_item_it_was() {
        let out = record(Audience::Users(vec![UserId::new()]));
        let item = outbox_item(&out);
        // What Lambda hands over: the same item in DynamoDB JSON.
        let json = json!(item
            .iter()
            .map(|(k, v)| (k.clone(), match v {
                AttributeValue::S(x) => json!({ "S": x }),
                AttributeValue::N(x) => json!({ "N": x }),
                AttributeValue::L(l) => json!({ "L": l.iter().map(|x| json!({"S": x.as_s().unwrap()})).collect::<Vec<_>>() }),
                _ => unreachable!(),
            }))
            .collect::<serde_json::Map<_, _>>());
        assert_eq!(
            outgoing_from(&item_from_json(&json).unwrap()).unwrap(),
            Some(out)
        );
    }

    #[test]
    fn shards_of_a_room_have_partitions_of_their_own() {
        let out = record(Audience::Members);
        let pk = |o: &Outgoing| outbox_item(o)["pk"].as_s().unwrap().clone();
        assert_ne!(pk(&out.for_shard(1)), pk(&out.for_shard(2)));
        assert!(pk(&out.for_shard(1)).starts_with(&pk(&out)));
    }
}
