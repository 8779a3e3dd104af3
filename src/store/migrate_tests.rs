//! Tests of the start-up migration: records of every earlier version are rewritten once,
//! and chunk records without an owner are found.

use super::*;
use crate::store::codec::Record;

fn rec(len: u64, token: u64) -> ChunkRecord {
    ChunkRecord {
        len,
        sha256: [token as u8; 32],
        token,
    }
}

#[test]
fn version_1_clips_and_sessions_are_rewritten_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let head = |id: &str, one_time: bool, blob: u64| ClipHead {
        id: ClipId::parse(id).unwrap(),
        kind: ContentKind::File,
        filename: "f".into(),
        mime: "application/octet-stream".into(),
        size: 12,
        created_at: 1,
        expires_at: 2,
        one_time,
        quick_share: false,
        plaintext: false,
        access: None,
        blob: BlobDir(blob),
    };
    let clip = ClipV1 {
        head: head("ABCDEFGHJK", false, 7),
        chunks: vec![rec(5, 1), rec(7, 2)],
    };
    let clip_id = clip.head.id;
    let clip2 = ClipV2 {
        head: head("ABCDEF", true, 10),
        upload: UploadId(44),
        chunk_count: 1,
    };
    let clip2_id = clip2.head.id;
    let session = SessionV1 {
        filename: "g".into(),
        mime: "text/plain".into(),
        kind: ContentKind::Text,
        total_chunks: 3,
        chunk_size: 5,
        lifetime_ms: 60_000,
        one_time: true,
        quick_share: false,
        has_password: false,
        blob: BlobDir(8),
        created_at: 1,
        last_activity: 1,
        received: 2,
    };
    let sid = UploadId(42);
    let sid2 = UploadId(43);
    let session2 = SessionV2 {
        v1: SessionV1 {
            filename: "h".into(),
            blob: BlobDir(9),
            ..session.clone()
        },
        received_bytes: 77,
    };
    let sid3 = UploadId(45);
    let session3 = SessionV3 {
        v1: SessionV1 {
            one_time: false,
            ..session.clone()
        },
        received_bytes: 5,
        declared_size: Some(99),
    };
    {
        let store = Store::open(&path).unwrap();
        store
            .clips
            .insert(clip_id.as_bytes(), encode_as(1, &clip).unwrap())
            .unwrap();
        store
            .clips
            .insert(clip2_id.as_bytes(), encode_as(2, &clip2).unwrap())
            .unwrap();
        store
            .sessions
            .insert(session_key(sid3), encode_as(3, &session3).unwrap())
            .unwrap();
        store
            .sessions
            .insert(session_key(sid), encode_as(1, &session).unwrap())
            .unwrap();
        store
            .sessions
            .insert(session_key(sid2), encode_as(2, &session2).unwrap())
            .unwrap();
        for (n, r) in [rec(5, 3), rec(4, 4)].iter().enumerate() {
            store
                .chunks
                .insert(chunk_key(sid, n as u32), encode(r).unwrap())
                .unwrap();
        }
        // A database of the first release has no format marker.
        store.meta.remove(FORMAT_KEY).unwrap();
        store.flush_blocking().unwrap();
    }
    // Opening migrates.
    let store = Store::open(&path).unwrap();
    let c = store.clip(&clip_id).unwrap().unwrap();
    assert_eq!((c.size, c.chunk_count, c.blob), (12, 2, BlobDir(7)));
    assert_eq!(c.max_downloads, None);
    let c2 = store.clip(&clip2_id).unwrap().unwrap();
    assert_eq!(
        (c2.upload, c2.chunk_count, c2.blob, c2.max_downloads),
        (UploadId(44), 1, BlobDir(10), Some(1))
    );
    assert!(c2.one_time());
    let chunks = store.chunks(c.upload).unwrap();
    assert_eq!(chunks, vec![(0, rec(5, 1)), (1, rec(7, 2))]);
    let s = store.session(sid).unwrap().unwrap();
    assert_eq!((s.received, s.received_bytes, s.blob), (2, 9, BlobDir(8)));
    assert_eq!(s.max_downloads, Some(1));
    let s3 = store.session(sid3).unwrap().unwrap();
    assert_eq!(
        (s3.received_bytes, s3.declared_size, s3.max_downloads),
        (5, Some(99), None)
    );
    let s2 = store.session(sid2).unwrap().unwrap();
    assert_eq!(
        (
            s2.filename.as_str(),
            s2.received_bytes,
            s2.blob,
            s2.declared_size
        ),
        ("h", 77, BlobDir(9), None)
    );
    assert!(store.ownerless_chunk_uploads().unwrap().is_empty());
    assert_eq!(migrate(&store).unwrap(), 0, "nothing left to migrate");
}

#[test]
fn version_4_sessions_are_rewritten_without_a_drop_box() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let old = SessionV4 {
        filename: "v4".into(),
        mime: "application/octet-stream".into(),
        kind: ContentKind::File,
        total_chunks: 2,
        chunk_size: 5,
        lifetime_ms: 60_000,
        max_downloads: Some(3),
        quick_share: false,
        has_password: true,
        blob: BlobDir(11),
        created_at: 7,
        last_activity: 8,
        received: 1,
        received_bytes: 5,
        declared_size: Some(10),
    };
    let sid = UploadId(46);
    {
        let store = Store::open(&path).unwrap();
        store
            .sessions
            .insert(session_key(sid), encode_as(4, &old).unwrap())
            .unwrap();
        // A database of the previous release records format 4.
        store.meta.insert(FORMAT_KEY, &[4u8]).unwrap();
        store.flush_blocking().unwrap();
    }
    let store = Store::open(&path).unwrap();
    let raw = store.sessions.get(session_key(sid)).unwrap().unwrap();
    assert_eq!(raw[0], UploadSession::VERSION);
    let s = store.session(sid).unwrap().unwrap();
    assert_eq!(s, old.clone().upgrade());
    assert_eq!(
        (
            s.filename.as_str(),
            s.max_downloads,
            s.received_bytes,
            s.declared_size
        ),
        ("v4", Some(3), 5, Some(10))
    );
    assert_eq!(s.dropbox, None);
    assert_eq!(
        store.meta.get(FORMAT_KEY).unwrap().as_deref(),
        Some(&[FORMAT][..])
    );
}

#[test]
fn chunk_records_without_session_or_clip_are_found() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    let orphan = UploadId(9);
    store
        .chunks
        .insert(chunk_key(orphan, 0), encode(&rec(3, 1)).unwrap())
        .unwrap();
    store
        .chunks
        .insert(chunk_key(orphan, 1), encode(&rec(3, 2)).unwrap())
        .unwrap();
    assert_eq!(store.ownerless_chunk_uploads().unwrap(), vec![orphan]);
    store.remove_chunk_records(orphan).unwrap();
    assert_eq!(store.chunk_record_count(), 0);
    assert!(store.ownerless_chunk_uploads().unwrap().is_empty());
}
