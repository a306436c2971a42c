//! Implementations of the ports: AWS (DynamoDB, SES) for the cloud, memory and outbox for the
//! local server and tests. The store contract suite (`tests/store_contract.rs`) runs against both
//! account stores.

pub mod apigw;
pub mod aws;
pub mod dynamodb;
pub mod log_push;
pub mod memory;
pub mod memory_chat;
pub mod memory_connections;
pub mod memory_ledger;
pub mod outbox;
pub mod recording_push;
pub mod ses;
pub mod websocket_push;
