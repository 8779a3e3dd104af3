//! The installable app without a browser: the manifest is served as
//! `application/manifest+json`, names its icons, and each icon is a PNG of the size it
//! states; the pages link it; `POST /share-target` that reaches the server (no service
//! worker took it: plain HTTP) is a 400 that explains why, as a page for browsers and JSON
//! otherwise, and nothing of its body is kept.

use crate::harness::{content_type, files_under, Answer, TestServer};
use serde_json::Value;

#[tokio::test]
async fn the_manifest_and_its_icons_are_served() {
    let s = TestServer::start().await;
    let r = s.get("/manifest.webmanifest").answer().await;
    assert_eq!(r.status(), 200);
    assert_eq!(content_type(&r), "application/manifest+json");
    let m: Value = serde_json::from_slice(&r.bytes().await.unwrap()).expect("the manifest is JSON");
    assert_eq!(m["name"], "Qopy");
    assert_eq!(m["short_name"], "Qopy");
    assert_eq!(m["start_url"], "/");
    assert_eq!(m["scope"], "/");
    assert_eq!(m["display"], "standalone");
    // The colours of app.css: the accent and the light background.
    assert_eq!(m["theme_color"], "#360f5a");
    assert_eq!(m["background_color"], "#f6f4f9");
    let css = s.get("/css/app.css").answer().await.text().await.unwrap();
    assert!(css.contains("--accent: light-dark(#360f5a"));
    assert!(css.contains("--bg: light-dark(#f6f4f9"));

    let icons = m["icons"].as_array().expect("icons");
    let mut pngs = Vec::new();
    for icon in icons {
        let src = icon["src"].as_str().unwrap();
        let r = s.get(src).answer().await;
        assert_eq!(r.status(), 200, "{src}");
        let ty = icon["type"].as_str().unwrap();
        assert_eq!(content_type(&r), ty, "{src}");
        let bytes = r.bytes().await.unwrap();
        if ty != "image/png" {
            continue;
        }
        let img = image::load_from_memory_with_format(&bytes, image::ImageFormat::Png)
            .unwrap_or_else(|e| panic!("{src} is not a PNG: {e}"))
            .to_rgba8();
        let sizes = icon["sizes"].as_str().unwrap();
        assert_eq!(format!("{}x{}", img.width(), img.height()), sizes, "{src}");
        pngs.push((
            icon["purpose"].as_str().unwrap().to_string(),
            sizes.to_string(),
            img,
        ));
    }
    let has = |purpose: &str, sizes: &str| pngs.iter().any(|(p, s, _)| p == purpose && s == sizes);
    assert!(has("any", "192x192") && has("any", "512x512") && has("maskable", "512x512"));
    for (purpose, _, img) in &pngs {
        let (w, h) = img.dimensions();
        let accent = image::Rgba([0x36, 0x0f, 0x5a, 0xff]);
        // The mark: the accent colour and white, near the centre.
        assert_eq!(
            *img.get_pixel(w / 2, h / 2),
            accent,
            "{purpose}: the ring's hole"
        );
        let white = (0..w).any(|x| img.get_pixel(x, h * 15 / 32).0 == [255, 255, 255, 255]);
        assert!(white, "{purpose}: no white ring");
        if purpose == "maskable" {
            // Full bleed, and the mark inside the safe circle (40% of the size around the
            // centre): everything outside it is the plain accent colour.
            let r = 0.4 * w as f64;
            for (x, y, p) in img.enumerate_pixels() {
                let (dx, dy) = (
                    x as f64 + 0.5 - w as f64 / 2.0,
                    y as f64 + 0.5 - h as f64 / 2.0,
                );
                if dx * dx + dy * dy > r * r {
                    assert_eq!(*p, accent, "maskable: ({x}, {y}) outside the safe zone");
                }
            }
        } else {
            // Rounded corners: transparent.
            assert_eq!(img.get_pixel(0, 0).0[3], 0, "{purpose}: corner");
            assert_eq!(*img.get_pixel(w / 2, 2), accent, "{purpose}: top edge");
        }
    }

    let st = &m["share_target"];
    assert_eq!(st["action"], "/share-target");
    assert_eq!(st["method"], "POST");
    assert_eq!(st["enctype"], "multipart/form-data");
    assert_eq!(st["params"]["title"], "title");
    assert_eq!(st["params"]["text"], "text");
    assert_eq!(st["params"]["url"], "url");
    assert_eq!(st["params"]["files"][0]["name"], "files");
    assert_eq!(st["params"]["files"][0]["accept"][0], "*/*");

    for page in ["/", "/privacy.html"] {
        let html = s.get(page).answer().await.text().await.unwrap();
        assert!(
            html.contains(r#"<link rel="manifest" href="/manifest.webmanifest">"#),
            "{page}"
        );
        assert!(
            html.contains(r##"<meta name="theme-color" content="#360f5a">"##),
            "{page}"
        );
        assert!(
            html.contains(r#"<link rel="apple-touch-icon" href="/img/icon-192.png">"#),
            "{page}"
        );
    }
    let worker = s.get("/share-worker.js").answer().await;
    assert_eq!(worker.status(), 200);
    assert_eq!(content_type(&worker), "text/javascript; charset=utf-8");
    s.stop().await;
}

/// A multipart body as a share sheet sends it, with `marker` in the text and the file.
fn shared_form(marker: &str, file_len: usize) -> reqwest::multipart::Form {
    let mut file = marker.as_bytes().to_vec();
    file.resize(file_len.max(marker.len()), b'x');
    reqwest::multipart::Form::new()
        .text("title", "A title")
        .text("text", format!("some text {marker}"))
        .text("url", "https://example.invalid/page")
        .part(
            "files",
            reqwest::multipart::Part::bytes(file)
                .file_name("photo.jpg")
                .mime_str("image/jpeg")
                .unwrap(),
        )
}

/// Whether any file under `dir` contains `needle`.
fn any_file_contains(dir: &std::path::Path, needle: &[u8]) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| {
        let p = e.path();
        if p.is_dir() {
            any_file_contains(&p, needle)
        } else {
            std::fs::read(&p).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle))
        }
    })
}

#[tokio::test]
async fn a_share_target_post_reaching_the_server_is_refused_and_not_kept() {
    let s = TestServer::start().await;
    let marker = "SHARE-TARGET-MARKER-6d1f0c";

    // A script or API client: the JSON error.
    let r = s
        .post("/share-target")
        .header("accept", "application/json")
        .multipart(shared_form(marker, 0))
        .answer()
        .await;
    assert_eq!(r.status(), 400);
    assert!(content_type(&r).starts_with("application/json"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "Sharing needs HTTPS");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("needs HTTPS") && message.contains("Nothing was stored"),
        "{message}"
    );

    // A browser's navigation (Accept: text/html): a page, even for a body of several MiB
    // (read to its end, so the browser sees the answer and not a reset connection).
    let r = s
        .post("/share-target")
        .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .multipart(shared_form(marker, 6 << 20))
        .answer()
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(content_type(&r), "text/html; charset=utf-8");
    let page = r.text().await.unwrap();
    assert!(page.contains("Sharing into Qopy needs HTTPS"), "{page}");
    assert!(page.contains("Nothing was stored"));

    // A form posted under Referrer-Policy: no-referrer (the pages' policy) carries
    // `Origin: null`, and a share sheet may send any: the explanation still comes, not a 403.
    for origin in ["null", "http://elsewhere.invalid"] {
        let r = s
            .post("/share-target")
            .header("origin", origin)
            .header("accept", "text/html")
            .multipart(shared_form(marker, 0))
            .answer()
            .await;
        assert_eq!(r.status(), 400, "Origin: {origin}");
        assert!(r.text().await.unwrap().contains("needs HTTPS"));
    }
    // Other routes keep refusing such origins.
    let r = s
        .post("/")
        .header("origin", "null")
        .body("x")
        .answer()
        .await;
    assert_eq!(r.status(), 403);

    // Only POST is routed there.
    let (status, _) = s.get("/share-target").json_answer().await;
    assert_eq!(status, 405);

    // Nothing was kept: no clip, no upload session, no file, and the marker nowhere in the
    // data directory.
    let (_, stats) = s.admin_get("/api/admin/stats").await;
    assert_eq!(stats["activeClips"], 0, "{stats}");
    assert_eq!(stats["activeUploads"], 0, "{stats}");
    assert!(files_under(&s.data_dir()).is_empty());
    assert!(!any_file_contains(&s.data_dir(), marker.as_bytes()));
    s.stop().await;
}
