//! File names through the real server: one rule (`qopy::names`) for initiate, one-shot
//! uploads (path, multipart `file` field) and every name given out, so bidi, format and
//! control characters never reach a `Content-Disposition` or a descriptor, and initiate and
//! one-shot uploads treat NUL, CR and LF the same way.

use crate::harness::{Answer, TestServer};
use serde_json::{json, Value};

const CHUNK: u64 = 64 * 1024;

async fn server() -> TestServer {
    TestServer::start_with(|c| c.chunk_size = CHUNK).await
}

/// Asserts a 400 validation error.
#[track_caller]
fn assert_invalid(got: (u16, &Value)) {
    assert_eq!(got.0, 400, "{}", got.1);
    assert_eq!(got.1["error"], "Validation failed", "{}", got.1);
}

/// Asserts that initiate refuses the file name `raw` with a 400 validation error.
async fn assert_initiate_refuses(s: &TestServer, raw: &str) {
    let (status, v) = s
        .post_json("/api/upload/initiate", json!({ "filename": raw }))
        .await;
    assert_invalid((status, &v));
}

/// Asserts that a one-shot upload of a name that cleans to nothing got the default name.
async fn assert_pasted(s: &TestServer, status: u16, answer: &str, raw: &str) {
    assert_eq!(status, 200, "{raw:?}: {answer}");
    assert_eq!(name_and_disposition(s, &id_of(answer)).await.0, "paste.txt");
}

/// The names a `Content-Disposition` gives: the quoted `filename` and, when present, the
/// percent-decoded RFC 5987 `filename*`.
fn disposition_names(cd: &str) -> Vec<String> {
    let quoted = cd
        .strip_prefix("attachment; filename=\"")
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("unexpected disposition {cd:?}"));
    let mut out = vec![quoted.to_string()];
    if let Some((_, star)) = cd.split_once("; filename*=UTF-8''") {
        let decoded = percent_encoding::percent_decode_str(star)
            .decode_utf8()
            .unwrap_or_else(|_| panic!("filename* is not UTF-8: {cd:?}"));
        out.push(decoded.into_owned());
    }
    out
}

/// Asserts that no name in `cd` holds a format, control or separator character, and that
/// the full (RFC 5987, else quoted) name is `want`.
fn assert_clean_disposition(cd: &str, want: &str) {
    let names = disposition_names(cd);
    for n in &names {
        assert!(
            !n.chars()
                .any(|c| qopy::names::is_format(c) || c.is_control()),
            "{cd:?}"
        );
        assert!(!n.contains(['/', '\\', '\u{2028}', '\u{2029}']), "{cd:?}");
    }
    assert_eq!(names.last().unwrap(), want, "{cd:?}");
}

/// `PUT /{path}` with `body`; returns (status, answer text).
async fn put(s: &TestServer, path: &str, body: &[u8]) -> (u16, String) {
    let r = s.put(path).body(body.to_vec()).answer().await;
    (r.status().as_u16(), r.text().await.unwrap())
}

/// `POST /` with a multipart field `file` named `name`; returns (status, answer text).
async fn post_multipart(s: &TestServer, name: &str, body: &[u8]) -> (u16, String) {
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(body.to_vec()).file_name(name.to_string()),
    );
    let r = s.post("/").multipart(form).answer().await;
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The clip ID at the end of a one-shot answer.
fn id_of(answer: &str) -> String {
    answer.trim_end().rsplit('/').next().unwrap().to_string()
}

/// The stored name as the descriptor gives it, and the `Content-Disposition` of a download.
async fn name_and_disposition(s: &TestServer, id: &str) -> (String, String) {
    let (status, d) = s.get_json(&format!("/api/clip/{id}")).await;
    assert_eq!(status, 200, "{d}");
    let r = s.download(id, None).await;
    assert_eq!(r.status().as_u16(), 200);
    let cd = r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    (d["filename"].as_str().unwrap().to_string(), cd)
}

/// Initiates, uploads and completes a file clip named `name`; returns its ID.
async fn upload_named(s: &TestServer, name: &str, data: &[u8]) -> String {
    let v: Value = s.upload(data, json!({ "filename": name }), json!({})).await;
    v["clipId"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bidi_and_format_characters_never_reach_a_content_disposition() {
    let s = server().await;
    // One-shot by path: U+202E RIGHT-TO-LEFT OVERRIDE, percent-encoded.
    let (status, answer) = put(&s, "/%E2%80%AEtxt.exe", b"MZ...").await;
    assert_eq!(status, 200, "{answer}");
    let id = id_of(&answer);
    let (name, cd) = name_and_disposition(&s, &id).await;
    assert_eq!(name, "txt.exe");
    assert_clean_disposition(&cd, "txt.exe");
    // The plain GET of an unencrypted clip gives the same header.
    let r = s.get_file(&id, "*/*").await;
    assert_eq!(r.status().as_u16(), 200);
    assert_clean_disposition(
        r.headers()["content-disposition"].to_str().unwrap(),
        "txt.exe",
    );

    // Initiate, complete, download.
    let id = upload_named(&s, "\u{202E}txt.exe", b"abc").await;
    let (name, cd) = name_and_disposition(&s, &id).await;
    assert_eq!(name, "txt.exe");
    assert_clean_disposition(&cd, "txt.exe");

    // The multipart `file` field: isolates, marks, zero-width characters, a tag, a BOM.
    let (status, answer) = post_multipart(
        &s,
        "\u{2067}r\u{200F}é\u{200B}sum\u{200D}é\u{2069}\u{E0041}\u{FEFF}.pdf",
        b"%PDF-1.4",
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let (name, cd) = name_and_disposition(&s, &id_of(&answer)).await;
    assert_eq!(name, "résumé.pdf");
    assert_clean_disposition(&cd, "résumé.pdf");

    // Every entry point gives the same name for the same input.
    let tricky = "a\u{202D}b\u{2066}c\u{061C}d\u{AD}e.txt";
    let (_, a) = put(&s, "/a%E2%80%ADb%E2%81%A6c%D8%9Cd%C2%ADe.txt", b"x").await;
    let (_, b) = post_multipart(&s, tricky, b"x").await;
    let c = upload_named(&s, tricky, b"x").await;
    for id in [id_of(&a), id_of(&b), c] {
        let (name, cd) = name_and_disposition(&s, &id).await;
        assert_eq!(name, "abcde.txt");
        assert_clean_disposition(&cd, "abcde.txt");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initiate_and_oneshot_treat_nul_cr_and_lf_alike() {
    let s = server().await;
    // (raw name, as a path segment, as stored)
    let cases = [
        ("a\0b.txt", "/a%00b.txt", "a_b.txt"),
        ("a\r\nb.txt", "/a%0D%0Ab.txt", "a__b.txt"),
        ("line\nbreak.txt", "/line%0Abreak.txt", "line_break.txt"),
        (
            "tab\tx\u{7f}\u{85}.bin",
            "/tab%09x%7F%C2%85.bin",
            "tab_x__.bin",
        ),
        ("name.txt\r\n", "/name.txt%0D%0A", "name.txt"),
        (
            "../../etc/passwd",
            "/..%2F..%2Fetc%2Fpasswd",
            ".._.._etc_passwd",
        ),
        ("a\\b", "/a%5Cb", "a_b"),
    ];
    for (raw, path, want) in cases {
        let from_initiate = upload_named(&s, raw, b"data").await;
        let (status, answer) = put(&s, path, b"data").await;
        assert_eq!(status, 200, "{raw:?}: {answer}");
        let from_oneshot = id_of(&answer);
        for id in [from_initiate, from_oneshot] {
            let (name, cd) = name_and_disposition(&s, &id).await;
            assert_eq!(name, want, "{raw:?}");
            assert_clean_disposition(&cd, want);
        }
    }
    // A multipart header cannot carry NUL, CR or LF (the multipart parser refuses the body),
    // but it can carry a tab and C1 controls: the same rule applies.
    let (status, answer) = post_multipart(&s, "tab\tx\u{85}.bin", b"data").await;
    assert_eq!(status, 200, "{answer}");
    let (name, cd) = name_and_disposition(&s, &id_of(&answer)).await;
    assert_eq!(name, "tab_x_.bin");
    assert_clean_disposition(&cd, "tab_x_.bin");

    // A name the rule leaves nothing of: initiate refuses it, a one-shot upload gets the
    // default name (as with no name at all).
    for (raw, path) in [
        ("\r\n", "/%0D%0A"),
        ("\u{202E}", "/%E2%80%AE"),
        ("\u{200B}\u{FEFF} ", "/%E2%80%8B%EF%BB%BF%20"),
    ] {
        assert_initiate_refuses(&s, raw).await;
        let (status, answer) = put(&s, path, b"plain text").await;
        assert_pasted(&s, status, &answer, raw).await;
    }
    for raw in [".", ".."] {
        assert_initiate_refuses(&s, raw).await;
        let (status, answer) = post_multipart(&s, raw, b"plain text").await;
        assert_pasted(&s, status, &answer, raw).await;
    }
    // Too long after cleaning: both refuse it; removed characters do not count.
    let long = "x".repeat(256);
    assert_initiate_refuses(&s, &long).await;
    let (status, _) = put(&s, &format!("/{long}"), b"x").await;
    assert_eq!(status, 400);
    let padded = format!("{}{}", "\u{200B}".repeat(10), "x".repeat(255));
    let id = upload_named(&s, &padded, b"x").await;
    assert_eq!(name_and_disposition(&s, &id).await.0, "x".repeat(255));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_stored_before_the_rule_are_cleaned_on_the_way_out() {
    let s = server().await;
    // (name an older server stored, name given out now)
    let olds = [
        ("\u{202E}\u{2066}gpj.exe\r\n", "gpj.exe"),
        ("\r\n", "download"),
    ];
    let mut uploads = Vec::new();
    for _ in olds {
        let upload = s
            .initiate(json!({ "filename": "safe.bin", "filesize": 3, "totalChunks": 1, "contentType": "file" }))
            .await;
        let (status, v) = s.put_chunk(&upload, 0, b"abc".to_vec()).await;
        assert_eq!(status, 200, "{v}");
        uploads.push(upload);
    }
    // An older server stored whatever the client sent: write such names under the sessions.
    let (dir, config, clock) = s.stop().await;
    {
        let store = qopy::store::Store::open(&config.data_dir.join("db")).unwrap();
        for (upload, (old, _)) in uploads.iter().zip(olds) {
            let id = qopy::model::UploadId::parse(upload).unwrap();
            assert!(store
                .seal_session(id, old, "application/octet-stream")
                .unwrap());
        }
        store.flush_blocking().unwrap();
    }
    let s = TestServer::boot(dir, config, clock).await;
    for (upload, (_, want)) in uploads.iter().zip(olds) {
        let (status, v) = s
            .post_json(&format!("/api/upload/complete/{upload}"), json!({}))
            .await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["filename"], want);
        let id = v["clipId"].as_str().unwrap().to_string();
        let (name, cd) = name_and_disposition(&s, &id).await;
        assert_eq!(name, want);
        assert_clean_disposition(&cd, want);
        let (status, info) = s.get_json(&format!("/api/file/{id}/info")).await;
        assert_eq!(status, 200, "{info}");
        assert_eq!(info["filename"], want);
    }
    s.stop().await;
}
