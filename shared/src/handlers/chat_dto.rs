//! Request bodies of the chat routes. Unknown fields are refused, like everywhere else.

use serde::{Deserialize, Deserializer};

/// POST /rooms: a direct room (`kind: "direct", username`) or a group/channel.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRoomBody {
    pub kind: String,
    pub username: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub members: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchRoomBody {
    pub name: Option<String>,
    pub description: Option<String>,
    pub posting: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub avatar_upload_id: Option<Option<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddMembersBody {
    pub usernames: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetRoleBody {
    pub role: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendBody {
    pub text: Option<String>,
    pub upload_ids: Option<Vec<String>>,
    pub client_id: Option<String>,
    pub reply_to: Option<String>,
}

/// PATCH /rooms/{id}/messages/{message_id}: the new text.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditBody {
    pub text: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadBody {
    pub message_id: Option<String>,
}

/// Tells a field that is `null` (`Some(None)`) from one that is absent (`None`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}
