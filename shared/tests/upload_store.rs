//! The upload store contract, on the memory store and on DynamoDB Local alike: an upload is
//! stored once, read back as written, attached at most once however many writers race, and a
//! release makes it attachable again.
#![allow(clippy::unwrap_used)]

mod support;

use chatman::adapters::memory_uploads::MemoryUploads;
use chatman::domain::{ContentType, Filename, Purpose, Upload, UploadId, UploadState, UserId};
use chatman::ports::{AttachError, StoreError, UploadStore};
use std::sync::Arc;
use time::Duration;

fn sample() -> Upload {
    let now = support::start_time();
    Upload {
        id: UploadId::new(),
        owner: UserId::new(),
        purpose: Purpose::Message,
        filename: Filename::parse("holiday photo.jpg").unwrap(),
        content_type: ContentType::parse("image/jpeg").unwrap(),
        size: 123_456,
        state: UploadState::Pending,
        created_at: now,
        expires_at: now + Duration::days(1),
    }
}

async fn stores() -> Vec<(&'static str, Arc<dyn UploadStore>)> {
    vec![
        ("memory", Arc::new(MemoryUploads::new())),
        ("dynamodb", support::dynamo_store().await),
    ]
}

#[tokio::test]
async fn an_upload_reads_back_as_written_and_its_id_is_taken_once() {
    for (name, store) in stores().await {
        let upload = sample();
        store.put_upload(&upload).await.unwrap();
        assert_eq!(
            store.upload(&upload.id).await.unwrap(),
            Some(upload.clone()),
            "{name}"
        );
        assert!(
            matches!(store.put_upload(&upload).await, Err(StoreError::Conflict)),
            "{name}"
        );
        assert_eq!(
            store.upload(&UploadId::new()).await.unwrap(),
            None,
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_racing_attaches_reserve_an_upload_once() {
    for (name, store) in stores().await {
        let upload = sample();
        store.put_upload(&upload).await.unwrap();
        let now = support::start_time();
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let (store, id) = (store.clone(), upload.id);
                tokio::spawn(async move { store.mark_attached(&id, now).await })
            })
            .collect();
        let mut won = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(()) => won += 1,
                Err(AttachError::NotPending) => {}
                Err(e) => panic!("{name}: {e}"),
            }
        }
        assert_eq!(won, 1, "{name}");
        let stored = store.upload(&upload.id).await.unwrap().unwrap();
        assert_eq!(stored.state, UploadState::Attached, "{name}");
    }
}

#[tokio::test]
async fn a_released_upload_can_be_attached_again_and_unknown_ones_never() {
    for (name, store) in stores().await {
        let upload = sample();
        store.put_upload(&upload).await.unwrap();
        let now = support::start_time();
        store.mark_attached(&upload.id, now).await.unwrap();
        store.release(&upload).await.unwrap();
        assert_eq!(
            store.upload(&upload.id).await.unwrap().unwrap().state,
            UploadState::Pending,
            "{name}"
        );
        store.mark_attached(&upload.id, now).await.unwrap();
        assert!(
            matches!(
                store.mark_attached(&UploadId::new(), now).await,
                Err(AttachError::NotPending)
            ),
            "{name}"
        );
    }
}
