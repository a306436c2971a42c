//! Implementations of the ports: AWS (DynamoDB, SES) for the cloud, memory and outbox for the
//! local server and tests. The store contract suite (`tests/store_contract.rs`) runs against both
//! account stores.

pub mod apigw;
pub mod aws;
pub mod dynamodb;
pub mod key_secrets;
pub mod log_push;
pub mod memory;
pub mod memory_chat;
pub mod memory_connections;
pub mod memory_expiry;
pub mod memory_files;
pub mod memory_ledger;
pub mod memory_outbox;
pub mod memory_uploads;
pub mod outbox;
pub mod recording_connection_api;
pub mod recording_push;
pub mod s3;
pub mod secrets_manager;
pub mod ses;
pub mod websocket_push;
