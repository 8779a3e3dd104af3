//! One-shot uploads for scripts (`PUT /`, `PUT /:name`, `POST /` multipart or raw, a pipe),
//! reading them back with a plain GET (never consuming), `GET /metrics`, and image previews.

use crate::harness::{content_type, files_under, test_bytes, Answer, TestServer};
use qopy::clock::Clock;
use std::io::Cursor;
use std::time::Duration;

const CHUNK: u64 = 64 * 1024;

async fn server() -> TestServer {
    TestServer::start_with(|c| c.chunk_size = CHUNK).await
}

/// The clip ID at the end of an answer URL, after checking the answer's shape.
fn id_of(server: &TestServer, answer: &str) -> String {
    assert!(answer.ends_with('\n'), "no trailing newline: {answer:?}");
    let url = answer.trim_end();
    let prefix = format!("{}/file/", server.base);
    assert!(url.starts_with(&prefix), "{url} is not under {prefix}");
    url[prefix.len()..].to_string()
}

async fn put(server: &TestServer, path: &str, body: Vec<u8>) -> (u16, String) {
    let r = server.put(path).body(body).answer().await;
    (r.status().as_u16(), r.text().await.unwrap())
}

/// A body sent as a stream of pieces, so it goes out without a Content-Length (chunked), as
/// `curl -T -` sends a pipe.
fn piped(data: Vec<u8>) -> reqwest::Body {
    let pieces: Vec<Result<Vec<u8>, std::io::Error>> =
        data.chunks(10_000).map(|c| Ok(c.to_vec())).collect();
    reqwest::Body::wrap_stream(futures_util::stream::iter(pieces))
}

async fn get_raw(server: &TestServer, id: &str) -> (u16, Vec<u8>) {
    let r = server.get_file(id, "*/*").await;
    (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn put_root_answers_a_url_that_gives_the_bytes_back() {
    let s = server().await;
    let data = test_bytes(3 * CHUNK as usize + 123, 1);
    let (status, answer) = put(&s, "/", data.clone()).await;
    assert_eq!(status, 200, "{answer}");
    let id = id_of(&s, &answer);
    assert_eq!(id.len(), 10);
    let (status, info) = s.get_json(&format!("/api/clip/{id}/info")).await;
    assert_eq!(status, 200);
    assert_eq!(info["encrypted"], false);
    assert_eq!(info["oneTime"], false);
    // A plain GET of the answer gives the same bytes, as often as asked.
    for _ in 0..2 {
        let (status, body) = get_raw(&s, &id).await;
        assert_eq!(status, 200);
        assert_eq!(body, data);
    }
    // The API download gives them too, flagged as unencrypted.
    let r = s.download(&id, None).await;
    assert_eq!(r.headers()["x-qopy-encrypted"], "false");
    assert_eq!(r.bytes().await.unwrap().to_vec(), data);
    // A browser still gets the app page.
    let r = s
        .get_file(&id, "text/html,application/xhtml+xml,*/*;q=0.8")
        .await;
    assert_eq!(r.status().as_u16(), 200);
    assert!(content_type(&r).starts_with("text/html"));
}

#[tokio::test]
async fn put_with_a_name_keeps_the_name_and_type() {
    let s = server().await;
    let (status, answer) = put(&s, "/notes%20v2.txt", b"hello, world\n".to_vec()).await;
    assert_eq!(status, 200, "{answer}");
    let id = id_of(&s, &answer);
    let (status, d) = s.get_json(&format!("/api/clip/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(d["filename"], "notes v2.txt");
    assert_eq!(d["mimeType"], "text/plain");
    assert_eq!(d["encrypted"], false);
    assert_eq!(get_raw(&s, &id).await.1, b"hello, world\n");
}

#[tokio::test]
async fn post_multipart_file_field() {
    let s = server().await;
    let data = test_bytes(2 * CHUNK as usize, 2);
    let form = reqwest::multipart::Form::new()
        .text("note", "ignored")
        .part(
            "file",
            reqwest::multipart::Part::bytes(data.clone()).file_name("x.bin"),
        );
    let r = s.post("/?expiry=1hr").multipart(form).answer().await;
    assert_eq!(r.status().as_u16(), 200);
    let id = id_of(&s, &r.text().await.unwrap());
    let (_, d) = s.get_json(&format!("/api/clip/{id}")).await;
    assert_eq!(d["filename"], "x.bin");
    assert_eq!(d["filesize"], data.len());
    assert_eq!(get_raw(&s, &id).await.1, data);
    // Multipart without a `file` field is a 400, and leaves nothing behind.
    let form = reqwest::multipart::Form::new().text("other", "x");
    let r = s.post("/").multipart(form).answer().await;
    assert_eq!(r.status().as_u16(), 400);
}

#[tokio::test]
async fn text_from_a_pipe_without_content_length() {
    let s = server().await;
    let text = "line of text\n".repeat(20_000).into_bytes();
    assert!(text.len() as u64 > 3 * CHUNK);
    // `curl -T - host/`: PUT / with a chunked body.
    let r = s.put("/").body(piped(text.clone())).answer().await;
    assert_eq!(r.status().as_u16(), 200);
    let id = id_of(&s, &r.text().await.unwrap());
    let (_, d) = s.get_json(&format!("/api/clip/{id}")).await;
    assert_eq!(d["filename"], "paste.txt");
    assert_eq!(d["mimeType"], "text/plain; charset=utf-8");
    assert_eq!(d["filesize"], text.len());
    assert_eq!(get_raw(&s, &id).await.1, text);
    // `curl --data-binary @- host/`: POST / with curl's form content type.
    let r = s
        .post("/")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(piped(b"from stdin".to_vec()))
        .answer()
        .await;
    assert_eq!(r.status().as_u16(), 200);
    let id = id_of(&s, &r.text().await.unwrap());
    assert_eq!(get_raw(&s, &id).await.1, b"from stdin");
    // An empty body is refused.
    let (status, _) = put(&s, "/", Vec::new()).await;
    assert_eq!(status, 400);
    assert!(files_under(&s.data_dir())
        .iter()
        .all(|f| !f.contains(".tmp")));
}

#[tokio::test]
async fn expiry_one_time_and_quick_share_options() {
    let s = server().await;
    let now = s.clock.now_ms();
    // Expiry from the query, then from the header.
    let (_, a) = put(&s, "/?expiry=5min", b"a".to_vec()).await;
    let short = id_of(&s, &a);
    let (_, a) = s
        .put("/")
        .header("x-qopy-expiry", "6hr")
        .body("b")
        .text_answer()
        .await;
    let long = id_of(&s, &a);
    let (_, i) = s.get_json(&format!("/api/clip/{short}/info")).await;
    let at = i["expiresAt"].as_u64().unwrap();
    assert!(
        at >= now + 5 * 60_000 && at < now + 6 * 60_000,
        "{at} vs {now}"
    );
    let (_, i) = s.get_json(&format!("/api/clip/{long}/info")).await;
    assert!(i["expiresAt"].as_u64().unwrap() >= now + 6 * 3_600_000);
    let (status, _) = put(&s, "/?expiry=3years", b"c".to_vec()).await;
    assert_eq!(status, 400);
    let (status, _) = put(&s, "/?oneTime=maybe", b"c".to_vec()).await;
    assert_eq!(status, 400);

    // Quick Share: 6 characters, 5 minutes whatever the expiry asked.
    let quick_share = s.put("/?expiry=24hr").header("x-qopy-quick-share", "1");
    let (_, a) = quick_share.body("quick").text_answer().await;
    let quick = id_of(&s, &a);
    assert_eq!(quick.len(), 6);
    let (_, i) = s.get_json(&format!("/api/clip/{quick}/info")).await;
    assert_eq!(i["quickShare"], true);
    assert!(i["expiresAt"].as_u64().unwrap() < now + 6 * 60_000);

    // One-time: GETs never consume; they explain how to download.
    let (_, a) = put(&s, "/?oneTime=1", b"secret bytes".to_vec()).await;
    let once = id_of(&s, &a);
    for _ in 0..3 {
        let r = s.get(&format!("/file/{once}")).answer().await;
        assert_eq!(r.status().as_u16(), 409);
        assert!(content_type(&r).starts_with("text/plain"));
        let t = r.text().await.unwrap();
        assert!(
            t.contains(&format!("curl -X POST {}/file/{once}", s.base)),
            "{t}"
        );
        assert!(!t.contains("secret bytes"));
    }
    let (status, i) = s.get_json(&format!("/api/clip/{once}/info")).await;
    assert_eq!(status, 200);
    assert_eq!(i["oneTime"], true);
    // POST consumes it.
    let r = s.post(&format!("/file/{once}")).answer().await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"secret bytes");
    let (status, _) = s.get_json(&format!("/api/clip/{once}/info")).await;
    assert_eq!(status, 404);
    let r = s.post(&format!("/file/{once}")).answer().await;
    assert_eq!(r.status().as_u16(), 404);

    // Expiry is enforced.
    s.clock.advance(Duration::from_secs(5 * 60 + 1));
    let (status, _) = s.get_json(&format!("/api/clip/{short}/info")).await;
    assert_eq!(status, 404);
    let (status, _) = s.get_json(&format!("/api/clip/{quick}/info")).await;
    assert_eq!(status, 404);
    let (status, _) = s.get_json(&format!("/api/clip/{long}/info")).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn encrypted_clips_never_come_back_raw() {
    let s = server().await;
    let id = s.upload_file(&test_bytes(1000, 3)).await;
    let r = s.get_file(&id, "*/*").await;
    assert_eq!(r.status().as_u16(), 200);
    assert!(content_type(&r).starts_with("text/html"));
    let r = s.post(&format!("/file/{id}")).answer().await;
    assert_eq!(r.status().as_u16(), 400);
}

#[tokio::test]
async fn oversized_uploads_are_refused_and_leave_nothing() {
    let s = TestServer::start_with(|c| {
        c.chunk_size = CHUNK;
        c.max_file_size = 3 * CHUNK;
    })
    .await;
    let big = test_bytes(3 * CHUNK as usize + 1, 4);
    // Declared too large: refused before the body is read.
    let (status, body) = put(&s, "/big.bin", big.clone()).await;
    assert_eq!(status, 413, "{body}");
    // Streamed without a length: refused when the limit is crossed, chunks already written
    // are removed.
    let r = s.put("/").body(piped(big.clone())).answer().await;
    assert_eq!(r.status().as_u16(), 413);
    let form = reqwest::multipart::Form::new()
        .part("file", reqwest::multipart::Part::bytes(big).file_name("b"));
    let r = s.post("/").multipart(form).answer().await;
    assert_eq!(r.status().as_u16(), 413);
    assert_eq!(files_under(&s.data_dir()), Vec::<String>::new());
    let (_, stats) = s.admin_get("/api/admin/stats").await;
    assert_eq!(stats["activeUploads"], 0, "{stats}");
    // Exactly the limit is fine.
    let (status, _) = put(&s, "/ok.bin", test_bytes(3 * CHUNK as usize, 5)).await;
    assert_eq!(status, 200);
}

/// Sums the samples of a metric whose labels include all of `labels`.
fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            let metric = l.split(['{', ' ']).next().unwrap_or("");
            metric == name
        })
        .filter(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum()
}

async fn scrape(s: &TestServer) -> String {
    let r = s.get("/metrics").answer().await;
    assert_eq!(r.status().as_u16(), 200);
    r.text().await.unwrap()
}

#[tokio::test]
async fn metrics_move_with_requests() {
    let s = server().await;
    let before = scrape(&s).await;
    let put_ok = [("method", "PUT"), ("route", "/"), ("status", "200")];
    assert_eq!(metric(&before, "qopy_http_requests_total", &put_ok), 0.0);
    let clips0 = metric(&before, "qopy_clips", &[]);
    let in0 = metric(&before, "qopy_http_request_bytes_total", &[]);
    let out0 = metric(&before, "qopy_http_response_bytes_total", &[]);

    let data = test_bytes(100_000, 6);
    let (_, a) = put(&s, "/", data.clone()).await;
    let id = id_of(&s, &a);
    let r = s.put("/").body(piped(data.clone())).answer().await;
    assert_eq!(r.status().as_u16(), 200);
    for _ in 0..3 {
        let (status, _) = s.get_json(&format!("/api/clip/{id}/info")).await;
        assert_eq!(status, 200);
    }
    let (status, _) = s.get_json("/api/clip/ZZZZZZZZZZ/info").await;
    assert_eq!(status, 404);
    assert_eq!(get_raw(&s, &id).await.1.len(), data.len());
    s.sweep().await;

    let after = scrape(&s).await;
    assert_eq!(metric(&after, "qopy_http_requests_total", &put_ok), 2.0);
    let info = [("method", "GET"), ("route", "/api/clip/{id}/info")];
    assert_eq!(
        metric(
            &after,
            "qopy_http_requests_total",
            &[info[0], info[1], ("status", "200")]
        ),
        3.0
    );
    assert_eq!(
        metric(
            &after,
            "qopy_http_requests_total",
            &[info[0], info[1], ("status", "404")]
        ),
        1.0
    );
    assert_eq!(
        metric(&after, "qopy_http_request_duration_seconds_count", &info),
        4.0
    );
    assert_eq!(metric(&after, "qopy_clips", &[]), clips0 + 2.0);
    // Both bodies came in, counted with and without a Content-Length.
    assert!(metric(&after, "qopy_http_request_bytes_total", &[]) >= in0 + 2.0 * data.len() as f64);
    assert!(metric(&after, "qopy_http_response_bytes_total", &[]) >= out0 + data.len() as f64);
    assert!(metric(&after, "qopy_sweeper_runs_total", &[]) >= 1.0);
    assert!(metric(&after, "qopy_cache_hits_total", &[]) >= 1.0);
    assert!(metric(&after, "qopy_storage_used_bytes", &[]) >= 2.0 * data.len() as f64);
    assert!(metric(&after, "qopy_storage_free_bytes", &[]) > 0.0);
    assert!(after.contains("qopy_upload_sessions"));
    assert!(after.contains("qopy_cache_misses_total"));
    // Labels carry route templates, never IDs.
    assert!(!after.contains(&id));
    assert!(!after.contains("ZZZZZZZZZZ"));
}

fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A tiny, valid-looking PNG whose header declares `w` x `h` pixels.
fn png_declaring(w: u32, h: u32) -> Vec<u8> {
    let mut p = png(1, 1);
    assert_eq!(&p[12..16], b"IHDR");
    p[16..20].copy_from_slice(&w.to_be_bytes());
    p[20..24].copy_from_slice(&h.to_be_bytes());
    let crc = crc32(&p[12..29]);
    p[29..33].copy_from_slice(&crc.to_be_bytes());
    p
}

async fn preview(s: &TestServer, id: &str) -> reqwest::Response {
    s.get(&format!("/api/clip/{id}/preview")).answer().await
}

#[tokio::test]
async fn previews_of_image_clips() {
    let s = server().await;
    let (status, a) = put(&s, "/photo.png", png(1600, 1000)).await;
    assert_eq!(status, 200);
    let id = id_of(&s, &a);
    for _ in 0..2 {
        let r = preview(&s, &id).await;
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(r.headers()["content-type"], "image/jpeg");
        let jpeg = r.bytes().await.unwrap();
        let img = image::load_from_memory_with_format(&jpeg, image::ImageFormat::Jpeg).unwrap();
        assert_eq!((img.width(), img.height()), (800, 500));
    }
    // Cached beside the clip's chunks, and kept by the sweeps (a restart sweeps with no grace).
    assert!(files_under(&s.data_dir())
        .iter()
        .any(|f| f.ends_with("preview.jpg")));
    let s = s.restart().await;
    assert!(files_under(&s.data_dir())
        .iter()
        .any(|f| f.ends_with("preview.jpg")));
    assert_eq!(preview(&s, &id).await.status().as_u16(), 200);
    // Still readable, and never enlarged: a small image keeps its size.
    let (_, a) = put(&s, "/", png(120, 90)).await;
    let small = id_of(&s, &a);
    let jpeg = preview(&s, &small).await.bytes().await.unwrap();
    let img = image::load_from_memory(&jpeg).unwrap();
    assert_eq!((img.width(), img.height()), (120, 90));
    // A tall image fits the height.
    let (_, a) = put(&s, "/", png(300, 1200)).await;
    let tall = id_of(&s, &a);
    let img = image::load_from_memory(&preview(&s, &tall).await.bytes().await.unwrap()).unwrap();
    assert_eq!((img.width(), img.height()), (150, 600));
}

#[tokio::test]
async fn previews_are_refused_for_bombs_encrypted_and_non_images() {
    let s = server().await;
    let (_, a) = put(&s, "/bomb.png", png_declaring(50_000, 50_000)).await;
    let bomb = id_of(&s, &a);
    let r = preview(&s, &bomb).await;
    assert_eq!(r.status().as_u16(), 422);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"], "Image refused");
    assert!(v["message"].as_str().unwrap().contains("too large"), "{v}");
    // The server is fine afterwards.
    let (status, _) = s.get_json("/api/health").await;
    assert_eq!(status, 200);

    let encrypted = s.upload_file(&png(10, 10)).await;
    let r = preview(&s, &encrypted).await;
    assert_eq!(r.status().as_u16(), 415);
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(v["message"].as_str().unwrap().contains("encrypted"), "{v}");

    let (_, a) = put(&s, "/", b"just text".to_vec()).await;
    let text = id_of(&s, &a);
    assert_eq!(preview(&s, &text).await.status().as_u16(), 415);

    // One-time: no preview (it would reveal the clip), and it is not consumed.
    let (_, a) = put(&s, "/?oneTime=1", png(10, 10)).await;
    let once = id_of(&s, &a);
    assert_eq!(preview(&s, &once).await.status().as_u16(), 415);
    let (status, _) = s.get_json(&format!("/api/clip/{once}/info")).await;
    assert_eq!(status, 200);

    assert_eq!(preview(&s, "ZZZZZZZZZZ").await.status().as_u16(), 404);
}

/// A non-browser GET of a clip link can tell an unencrypted clip from anything else, so
/// guessing IDs that way uses up the failed-lookup budget like the API does.
#[tokio::test]
async fn raw_gets_of_unknown_ids_count_as_failed_lookups() {
    let s = TestServer::start_with(|c| {
        c.chunk_size = CHUNK;
        c.rate_limits = true;
        c.limits.failed_per_address = qopy::config::Rate {
            count: 3,
            per: Duration::from_secs(300),
        };
    })
    .await;
    let (_, a) = put(&s, "/", b"shared".to_vec()).await;
    let id = id_of(&s, &a);
    for i in 0..3 {
        // Misses still get the page (as before), but they are counted.
        let (status, _) = get_raw(&s, &format!("NOSUCH{i:04}")).await;
        assert_eq!(status, 200);
    }
    let (status, _) = get_raw(&s, &id).await;
    assert_eq!(status, 429);
    // A browser is never refused the page.
    let r = s.get_file(&id, "text/html").await;
    assert_eq!(r.status().as_u16(), 200);
}
