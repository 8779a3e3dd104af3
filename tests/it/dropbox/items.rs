//! Drop boxes: items sent through uploads and listed in order, long polls, and the limits
//! enforced at initiate.

use super::*;
use futures_util::StreamExt;
use qopy::v4::wrap::{unwrap_secret, wrap_secret};
use qopy::v4::{base64url, base64url_decode};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_arrive_through_uploads_and_are_listed_in_order() {
    let s = start().await;
    let (b, created) = create(&s, json!({})).await;
    let box_expires = created["expiresAt"].as_u64().unwrap();
    let datas: Vec<Vec<u8>> = vec![
        test_bytes(3 * CHUNK as usize + 5, 1),
        b"a short text".to_vec(),
        test_bytes(CHUNK as usize, 3),
    ];
    let mut clips = Vec::new();
    for (i, data) in datas.iter().enumerate() {
        let secret = format!("secret-{i}");
        let v = send(&s, &b, data, secret.as_bytes()).await;
        // The item expires with its box, not with the expiration the sender asked for.
        assert_eq!(v["expiresAt"].as_u64(), Some(box_expires));
        clips.push(v["clipId"].as_str().unwrap().to_string());
    }
    let (status, v) = list(&s, &b, "").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["expiresAt"].as_u64(), Some(box_expires));
    assert_eq!(v["next"], 3);
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    for (i, item) in items.iter().enumerate() {
        assert_eq!(item["seq"], i as u64 + 1);
        assert_eq!(item["clipId"], clips[i].as_str());
        assert_eq!(item["size"], datas[i].len() as u64);
        assert!(item["createdAt"].as_u64().unwrap() > 0);
        // The wrapped key is the sender's, and only the receiver can open it.
        let wrapped = base64url_decode(item["wrappedKey"].as_str().unwrap()).unwrap();
        let secret = unwrap_secret(&b.keys, &wrapped, &b.id).unwrap();
        assert_eq!(secret, format!("secret-{i}").into_bytes());
        let (status, bytes) = s.download_bytes(&clips[i], None).await;
        assert_eq!((status, bytes == datas[i]), (200, true));
    }
    let (_, v) = list(&s, &b, "?after=2").await;
    assert_eq!(v["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        (v["items"][0]["seq"].as_u64(), v["next"].as_u64()),
        (Some(3), Some(3))
    );
    let (_, v) = list(&s, &b, "?after=3").await;
    assert_eq!(
        (v["items"].as_array().unwrap().len(), v["next"].as_u64()),
        (0, Some(3))
    );
    assert_eq!(list(&s, &b, "?after=x").await.0, 400);
    let (_, i) = s.get_json(&format!("/api/dropbox/{}", b.id)).await;
    let total: u64 = datas.iter().map(|d| d.len() as u64).sum();
    assert_eq!(
        (i["items"].as_u64(), i["usedBytes"].as_u64()),
        (Some(3), Some(total))
    );

    // What an item's initiate may not carry.
    let wrapped = wrap_secret(b"k", &b.keys.public_bytes(), &b.id).unwrap();
    let base = item_initiate(&b.id, 10, &wrapped);
    let with = |k: &str, v: Value| {
        let mut body = base.clone();
        body[k] = v;
        body
    };
    let without = |k: &str| {
        let mut body = base.clone();
        body.as_object_mut().unwrap().remove(k);
        body
    };
    let normal = json!({ "filename": "x", "filesize": 10, "contentType": "file", "wrappedKey": base64url(&wrapped) });
    for (body, status, code) in [
        (without("wrappedKey"), 400, "invalid_wrapped_key"),
        (
            with("wrappedKey", json!(base64url(&[1u8; 93]))),
            400,
            "invalid_wrapped_key",
        ),
        (
            with("wrappedKey", json!(base64url(&[1u8; 301]))),
            400,
            "invalid_wrapped_key",
        ),
        (with("wrappedKey", json!("***")), 400, "invalid_wrapped_key"),
        (normal, 400, "invalid_wrapped_key"),
        (
            with("quickShare", json!(true)),
            400,
            "not_allowed_in_dropbox",
        ),
        (with("oneTime", json!(true)), 400, "not_allowed_in_dropbox"),
        (
            with("maxDownloads", json!(3)),
            400,
            "not_allowed_in_dropbox",
        ),
        (
            with("hasPassword", json!(true)),
            400,
            "not_allowed_in_dropbox",
        ),
        (with("dropbox", json!("ZZZZZZZZ")), 404, "not_found"),
        (without("filesize"), 400, "Validation failed"),
    ] {
        let (got, v) = s.post_json("/api/upload/initiate", body.clone()).await;
        assert_eq!((got, error_of(&v)), (status, code), "{body} gave {v}");
    }
    // The wrapped key's bounds are inclusive, and the expiration asked for is not checked.
    for len in [94, 300] {
        let body = with("wrappedKey", json!(base64url(&vec![1u8; len])));
        let (got, v) = s
            .post_json("/api/upload/initiate", with("expiration", json!("3days")))
            .await;
        assert_eq!(got, 200, "{v}");
        let (got, v) = s.post_json("/api/upload/initiate", body).await;
        assert_eq!(got, 200, "{len}: {v}");
        assert_eq!(v["expiresAt"].as_u64(), Some(box_expires));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_is_answered_by_a_completion_or_when_its_time_is_up() {
    let s = start().await;
    let (b, _) = create(&s, json!({})).await;
    // Nothing arrives: an empty answer after the wait.
    let (status, v) = list(&s, &b, "?after=0&wait=1").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (v["items"].as_array().unwrap().len(), v["next"].as_u64()),
        (0, Some(0))
    );

    // A poll waiting 25 s (the client gives up after 15) is answered by the completion.
    let poll = spawn_poll(&s, &b, 0, Duration::from_secs(15));
    polls_waiting(&s, 1).await;
    let v = send(&s, &b, b"arrives while polled", b"k").await;
    let (status, listed) = poll.await.unwrap();
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed["items"][0]["clipId"], v["clipId"]);
    assert_eq!(listed["next"], 1);

    // Shutdown answers a waiting poll at once (empty), so the server stops without waiting
    // for it.
    let poll = spawn_poll(&s, &b, 1, Duration::from_secs(15));
    polls_waiting(&s, 1).await;
    s.stop().await;
    let (status, listed) = poll.await.unwrap();
    assert_eq!(status, 200, "{listed}");
    assert_eq!(
        (
            listed["items"].as_array().unwrap().len(),
            listed["next"].as_u64()
        ),
        (0, Some(1))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_count_and_over_size_are_refused_and_the_last_place_has_one_winner() {
    let s = start().await;
    let (b, _) = create(&s, json!({ "maxItems": 2, "maxBytes": 1000 })).await;
    let wrapped = wrap_secret(b"k", &b.keys.public_bytes(), &b.id).unwrap();
    let init =
        |size: usize| s.post_json("/api/upload/initiate", item_initiate(&b.id, size, &wrapped));
    let (status, v) = init(1001).await;
    assert_eq!((status, error_of(&v)), (413, "dropbox_too_large"), "{v}");
    let (status, v) = init(600).await;
    assert_eq!(status, 200, "{v}");
    let (status, v) = init(401).await;
    assert_eq!((status, error_of(&v)), (413, "dropbox_too_large"), "{v}");
    // Two senders race for the last place: exactly one gets it.
    let (a, c) = tokio::join!(init(100), init(100));
    let mut statuses = [a.0, c.0];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{} {}", a.1, c.1);
    let loser = if a.0 == 409 { &a.1 } else { &c.1 };
    assert_eq!(error_of(loser), "dropbox_full");
    let (status, v) = init(1).await;
    assert_eq!((status, error_of(&v)), (409, "dropbox_full"));
    let (_, i) = s.get_json(&format!("/api/dropbox/{}", b.id)).await;
    assert_eq!(
        (i["usedBytes"].as_u64(), i["items"].as_u64()),
        (Some(700), Some(0))
    );
}

/// Waits until `n` long polls wait on the server (its `dropbox_waiting_polls` metric), so a
/// test acts once its polls are registered, however busy the machine.
async fn polls_waiting(s: &TestServer, n: u64) {
    let end = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let text = s
            .get("/metrics")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let now = text
            .lines()
            .find_map(|l| l.strip_prefix("qopy_dropbox_waiting_polls "))
            .and_then(|v| v.trim().parse::<u64>().ok());
        if now == Some(n) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < end,
            "{n} long polls never waited (metric: {now:?})"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Starts a long poll of box `b` after `after`, waiting 25 s, with a client that gives up
/// after `patience`.
fn spawn_poll(
    s: &TestServer,
    b: &TestBox,
    after: u64,
    patience: Duration,
) -> tokio::task::JoinHandle<(u16, Value)> {
    let poller = Http::with_timeout(s.base.clone(), patience);
    let path = format!("/api/dropbox/{}/items?after={after}&wait=25", b.id);
    let token = b.token.clone();
    tokio::spawn(async move {
        owned(&poller, Method::GET, &path, &token)
            .json_answer()
            .await
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_polls_beyond_a_box_cap_answer_at_once() {
    let s = start().await;
    let (b, _) = create(&s, json!({})).await;
    let waiting: Vec<_> = (0..8)
        .map(|_| spawn_poll(&s, &b, 0, Duration::from_secs(20)))
        .collect();
    polls_waiting(&s, 8).await;
    // The ninth would wait 25 s; its client gives up after 10, so only an answer at once
    // passes.
    let (status, v) = spawn_poll(&s, &b, 0, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["items"].as_array().unwrap().len(), 0);
    // Another box has its own cap.
    let (other, _) = create(&s, json!({})).await;
    let theirs = spawn_poll(&s, &other, 0, Duration::from_secs(20));
    polls_waiting(&s, 9).await;
    // One completion answers all eight waiting on the first box.
    let sent = send(&s, &b, b"for everyone", b"k").await;
    for poll in waiting {
        let (status, v) = poll.await.unwrap();
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["items"][0]["clipId"], sent["clipId"]);
    }
    let sent = send(&s, &other, b"for the other", b"k").await;
    let (status, v) = theirs.await.unwrap();
    assert_eq!((status, &v["items"][0]["clipId"]), (200, &sent["clipId"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_holds_at_most_200_items_and_next_pages_on() {
    let s = TestServer::start_with(|c| {
        c.chunk_size = CHUNK;
        c.dropbox_max_items = 300;
    })
    .await;
    let (b, _) = create(&s, json!({ "maxItems": 201 })).await;
    let sends = (0..201u32).map(|i| {
        let (s, b) = (&s, &b);
        async move { send(s, b, &i.to_be_bytes(), b"k").await }
    });
    // A few at a time, as several senders would.
    let mut pending = futures_util::stream::iter(sends).buffer_unordered(4);
    let mut sent = 0;
    while pending.next().await.is_some() {
        sent += 1;
    }
    assert_eq!(sent, 201);
    let (_, first) = list(&s, &b, "").await;
    let items = first["items"].as_array().unwrap();
    assert_eq!((items.len(), first["next"].as_u64()), (200, Some(200)));
    let seqs: Vec<u64> = items.iter().map(|i| i["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=200).collect::<Vec<u64>>());
    let (_, rest) = list(&s, &b, "?after=200").await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        (rest["items"][0]["seq"].as_u64(), rest["next"].as_u64()),
        (Some(201), Some(201))
    );
}
