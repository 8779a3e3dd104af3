//! Tests of drop boxes in the store: reservations against both limits, completion into
//! numbered items, places given back by removed sessions, and removal of items and boxes
//! with their clips, on a real sled database.

use super::*;
use crate::model::{BlobDir, ChunkRecord, ContentKind};
use crate::store::fixtures::{file_session, open};

const EXPIRES: u64 = 10_000;

fn new_box(max_items: u32, max_bytes: u64) -> DropBox {
    DropBox {
        public_key: vec![4; 65],
        owner_hash: [1; 32],
        created_at: 1,
        expires_at: EXPIRES,
        max_bytes,
        max_items,
        items: 0,
        reserved: 0,
        used_bytes: 0,
        last_seq: 0,
    }
}

fn session(id: &BoxId, size: u64, blob: u64) -> UploadSession {
    let drop = SessionDrop {
        dropbox: *id,
        wrapped_key: vec![7; 100],
        reserved: size,
    };
    file_session(blob, 1, Some(size), Some(drop))
}

/// Stores one chunk of `len` bytes and completes the session into a clip.
fn complete(
    store: &Store,
    upload: UploadId,
    blob: u64,
    len: u64,
    clip: &str,
) -> Result<(), CompleteRefused> {
    let rec = ChunkRecord {
        len,
        sha256: [blob as u8; 32],
        token: blob,
    };
    store.put_chunk(upload, 0, &rec, 2).unwrap();
    let meta = ClipMeta {
        id: ClipId::parse(clip).unwrap(),
        kind: ContentKind::File,
        filename: "f".into(),
        mime: "application/octet-stream".into(),
        size: len,
        created_at: 2,
        expires_at: EXPIRES,
        max_downloads: None,
        quick_share: false,
        plaintext: false,
        access: None,
        blob: BlobDir(blob),
        upload,
        chunk_count: 1,
    };
    store.complete(upload, &meta, 2).unwrap()
}

#[test]
fn places_are_reserved_against_both_limits_and_given_back() {
    let (_dir, store) = open();
    let id = BoxId::parse("AAAAAAAA").unwrap();
    // Reserves a place of `size` bytes for upload `n` at time `now`.
    let reserve = |n, size, now| {
        store
            .insert_drop_session(UploadId(n), &session(&id, size, 1), now)
            .unwrap()
    };
    assert_eq!(reserve(1, 10, 2), Reserve::NoBox);
    assert!(store.create_dropbox(&id, &new_box(2, 100)).unwrap());
    assert!(
        !store.create_dropbox(&id, &new_box(2, 100)).unwrap(),
        "the ID is taken"
    );
    assert_eq!(reserve(1, 101, 2), Reserve::TooLarge(100));
    assert_eq!(reserve(1, 60, 2), Reserve::Done);
    assert_eq!(reserve(1, 10, 2), Reserve::IdTaken);
    assert_eq!(reserve(2, 41, 2), Reserve::TooLarge(40));
    assert_eq!(reserve(2, 40, 2), Reserve::Done);
    assert_eq!(reserve(3, 0, 2), Reserve::Full(2));
    assert_eq!(reserve(3, 1, EXPIRES), Reserve::Expired);
    let b = store.dropbox(&id).unwrap().unwrap();
    assert_eq!((b.reserved, b.used_bytes, b.items), (2, 100, 0));
    // A removed session gives its place and bytes back.
    assert!(store.remove_session(UploadId(1)).unwrap().is_some());
    let b = store.dropbox(&id).unwrap().unwrap();
    assert_eq!((b.reserved, b.used_bytes), (1, 40));
    assert_eq!(reserve(3, 60, 2), Reserve::Done);
}

#[test]
fn completions_become_numbered_items_and_removals_take_their_clips() {
    let (_dir, store) = open();
    let id = BoxId::parse("BBBBBBBB").unwrap();
    assert!(store.create_dropbox(&id, &new_box(10, 1000)).unwrap());
    for n in 1..=3u64 {
        assert_eq!(
            store
                .insert_drop_session(UploadId(n), &session(&id, 100, n), 2)
                .unwrap(),
            Reserve::Done
        );
    }
    // Completed with fewer bytes than declared: the box counts what is stored.
    complete(&store, UploadId(2), 2, 70, "CLIPAAAAA2").unwrap();
    complete(&store, UploadId(1), 1, 100, "CLIPAAAAA1").unwrap();
    let b = store.dropbox(&id).unwrap().unwrap();
    assert_eq!(
        (b.items, b.reserved, b.used_bytes, b.last_seq),
        (2, 1, 270, 2)
    );
    let items = store.drop_items(&id, 0, 10).unwrap();
    let listed: Vec<(u64, &str, u64)> = items
        .iter()
        .map(|i| (i.seq, i.clip.as_str(), i.size))
        .collect();
    assert_eq!(listed, vec![(1, "CLIPAAAAA2", 70), (2, "CLIPAAAAA1", 100)]);
    assert_eq!(items[0].wrapped_key, vec![7; 100]);
    assert_eq!(store.drop_items(&id, 1, 10).unwrap().len(), 1);
    assert_eq!(store.drop_items(&id, 0, 1).unwrap().len(), 1);
    assert!(store.drop_items(&id, u64::MAX, 10).unwrap().is_empty());
    assert_eq!(store.counter(counter::STORED_BYTES).unwrap(), 170);

    // One item removed: its clip, chunk records and room go.
    let clip1 = ClipId::parse("CLIPAAAAA1").unwrap();
    let gone = store.remove_drop_item(&id, &clip1).unwrap().unwrap();
    assert_eq!(gone.clips.len(), 1);
    assert!(store.clip(&clip1).unwrap().is_none());
    assert!(store.chunks(UploadId(1)).unwrap().is_empty());
    assert!(store.remove_drop_item(&id, &clip1).unwrap().is_none());
    let b = store.dropbox(&id).unwrap().unwrap();
    assert_eq!((b.items, b.used_bytes, b.last_seq), (1, 170, 2));

    // A box expired before completion refuses it; removing the box takes every item's clip.
    let late = ClipMeta {
        expires_at: EXPIRES,
        ..store
            .clip(&ClipId::parse("CLIPAAAAA2").unwrap())
            .unwrap()
            .unwrap()
    };
    assert_eq!(
        store
            .complete(
                UploadId(3),
                &ClipMeta {
                    id: ClipId::parse("CLIPAAAAA3").unwrap(),
                    upload: UploadId(3),
                    blob: BlobDir(3),
                    size: 0,
                    chunk_count: 0,
                    ..late
                },
                EXPIRES
            )
            .unwrap(),
        Err(CompleteRefused::DropboxExpired)
    );
    assert_eq!(store.expired_dropboxes(EXPIRES - 1, 10).unwrap(), vec![]);
    assert_eq!(store.expired_dropboxes(EXPIRES, 10).unwrap(), vec![id]);
    assert_eq!(store.next_dropbox_expiry().unwrap(), Some(EXPIRES));
    let gone = store.remove_dropbox(&id).unwrap().unwrap();
    assert_eq!(gone.clips.len(), 1);
    assert!(store
        .clip(&ClipId::parse("CLIPAAAAA2").unwrap())
        .unwrap()
        .is_none());
    assert!(store.chunks(UploadId(2)).unwrap().is_empty());
    assert!(store.dropbox(&id).unwrap().is_none());
    assert!(store.drop_items(&id, 0, 10).unwrap().is_empty());
    assert_eq!(store.next_dropbox_expiry().unwrap(), None);
    assert_eq!(store.counter(counter::STORED_BYTES).unwrap(), 0);
    // The session still reserved there completes into nothing.
    assert!(store.remove_dropbox(&id).unwrap().is_none());
    assert_eq!(
        complete(&store, UploadId(3), 3, 5, "CLIPAAAAA3"),
        Err(CompleteRefused::DropboxGone)
    );
    assert!(store.remove_session(UploadId(3)).unwrap().is_some());
}
