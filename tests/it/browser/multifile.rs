//! Several files and a folder in one share, and paste to share, through the real UI.
//!
//! - Three files (chosen at once through the `multiple` file input) and a nested folder
//!   (through the `webkitdirectory` input) become one `qopy-7-files.tar`; a second browser
//!   session opens the link and downloads it, and the system's GNU tar lists and unpacks it:
//!   the names, and the SHA-256 of every file, are the chosen ones.
//! - A folder (with empty folders in it) and a file dropped together through a real drag
//!   (DevTools `Input.dispatchDragEvent`) are walked with webkitGetAsEntry, and again with
//!   only getAsFileSystemHandle; both archives list and unpack as on disk.
//! - A pasted image (a `paste` event with a DataTransfer, dispatched in the page while no
//!   field has the focus) selects Share Files with it; a second one makes an archive; pasted
//!   text fills Share Text. Nothing is sent until the share button is clicked, and a paste into
//!   the text area is left to the browser.

use super::driver::Browser;
use super::ui::{open_app, read_share_dialog, STEP};
use super::ui_file::{download_via_link, sha256_hex};
use crate::harness::{test_bytes, TestServer};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Writes `files` (relative path -> bytes) under `root`.
fn write_tree(root: &Path, files: &[(&str, Vec<u8>)]) {
    for (rel, data) in files {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, data).unwrap();
    }
}

/// Runs the system's tar and returns its standard output.
fn tar(args: &[&str]) -> String {
    let out = Command::new("tar")
        .args(args)
        .env("LC_ALL", "C.UTF-8")
        .output()
        .expect("GNU tar is needed for this test");
    assert!(
        out.status.success(),
        "tar {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("tar's output is UTF-8")
}

/// The names in the archive at `saved`, in order, as the system's tar lists them.
fn tar_names(saved: &Path) -> Vec<String> {
    tar(&["-tf", &saved.display().to_string()])
        .lines()
        .map(|l| l.to_string())
        .collect()
}

/// Unpacks the archive at `saved` with the system's tar into a fresh folder, and returns
/// every file there (relative path -> SHA-256).
fn unpacked_hashes(saved: &Path) -> BTreeMap<String, String> {
    let out = tempfile::tempdir().unwrap();
    tar(&[
        "-xf",
        &saved.display().to_string(),
        "-C",
        &out.path().display().to_string(),
    ]);
    hashes_under(out.path())
}

/// Every file under `root` (relative path -> SHA-256).
fn hashes_under(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, sha256_hex(&std::fs::read(&p).unwrap()));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_files_and_a_nested_folder_go_out_as_one_tar_that_unpacks_to_the_same_files() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let loose = dir.path().join("loose");
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("one.txt", b"the first file\n".to_vec()),
        ("two.bin", test_bytes(300 * 1024 + 17, 2)),
        ("Grüße drei.txt", "drei – ✓\n".as_bytes().to_vec()),
    ];
    write_tree(&loose, &files);
    let album = dir.path().join("album");
    let folder: Vec<(&str, Vec<u8>)> = vec![
        ("a.jpg", test_bytes(70_000, 3)),
        ("empty.txt", Vec::new()),
        // Over 64 MiB, so the archive takes the upload workers' path where the engine
        // has one (they read the Blob of parts at chunk offsets like any file).
        ("sub/b.bin", test_bytes(66 * 1024 * 1024 + 5, 4)),
        ("sub/deeper/c.txt", b"deep down\n".to_vec()),
    ];
    write_tree(&album, &folder);
    let mut want: BTreeMap<String, String> = files
        .iter()
        .map(|(n, d)| (n.to_string(), sha256_hex(d)))
        .collect();
    for (n, d) in &folder {
        want.insert(format!("album/{n}"), sha256_hex(d));
    }

    let b = Browser::start().await;
    open_app(&b, &server.url("/")).await;
    b.click("[data-testid=tab-file]").await;
    let paths: Vec<String> = files
        .iter()
        .map(|(n, _)| loose.join(n).display().to_string())
        .collect();
    b.find("[data-testid=file-input]")
        .await
        .send_keys(&paths.join("\n"))
        .await
        .expect("choose three files");
    b.wait_visible("[data-testid=file-info]").await;
    assert_eq!(
        b.text_of("[data-testid=file-name]").await,
        "qopy-3-files.tar"
    );
    // A folder is added to what is chosen.
    b.find("[data-testid=folder-input]")
        .await
        .send_keys(&album.display().to_string())
        .await
        .expect("choose a folder");
    b.wait_js(
        "the folder to be added",
        STEP,
        "document.querySelector('[data-testid=file-name]').textContent === 'qopy-7-files.tar'",
    )
    .await;
    let details = b.text_of("[data-testid=file-details]").await;
    assert!(
        details.starts_with("7 files in one .tar archive · "),
        "{details}"
    );
    let list: Value = b
        .js(
            "return [...document.querySelectorAll('[data-testid=file-list] li')].map((li) => li.textContent)",
            vec![],
        )
        .await;
    let list: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(list.len(), 4, "{list:?}");
    assert!(list[0].starts_with("one.txt · "), "{list:?}");
    assert!(list[2].starts_with("Grüße drei.txt · "), "{list:?}");
    assert!(list[3].starts_with("album/ · 4 files · "), "{list:?}");
    b.screenshot("desktop-light-share-files-archive").await;
    b.click("[data-testid=file-submit]").await;
    let shared = read_share_dialog(&b).await;
    // One browser at a time: the test binary runs at most two, and two tests that each
    // waited for a second one while holding a first would wait for ever.
    b.close().await;

    // Another browser (its own profile) opens the link and saves the archive.
    let b2 = Browser::start().await;
    let saved = download_via_link(&b2, &shared.url).await;
    assert_eq!(
        saved.file_name().unwrap().to_string_lossy(),
        "qopy-7-files.tar"
    );
    let details = b2.text_of("[data-testid=retrieve-file-details]").await;
    assert!(
        details.contains("tar archive") && details.contains("An archive of several files"),
        "{details}"
    );
    assert_eq!(
        tar_names(&saved),
        [
            "one.txt",
            "two.bin",
            "Grüße drei.txt",
            "album/",
            "album/a.jpg",
            "album/empty.txt",
            "album/sub/",
            "album/sub/b.bin",
            "album/sub/deeper/",
            "album/sub/deeper/c.txt",
        ]
    );
    assert_eq!(unpacked_hashes(&saved), want);
    let verbose = tar(&["-tvf", &saved.display().to_string(), "--numeric-owner"]);
    assert!(
        verbose
            .lines()
            .all(|l| l.contains(" 0/0 ")
                && (l.starts_with("-rw-r--r--") || l.starts_with("drwxr-xr-x"))),
        "{verbose}"
    );
    b2.close().await;
}

/// A 1x1 PNG.
const PNG_B64: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

/// Dispatches a `paste` event at the focused element (or the body) carrying an image named
/// `name`, or `text`; returns whether the page took it (preventDefault).
async fn paste(b: &Browser, image: Option<&str>, text: Option<&str>) -> bool {
    b.js(
        "const [b64, name, text] = arguments;\
         const dt = new DataTransfer();\
         if (name) dt.items.add(new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], name, { type: 'image/png' }));\
         if (text) dt.setData('text/plain', text);\
         const ev = new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true });\
         (document.activeElement || document.body).dispatchEvent(ev);\
         return ev.defaultPrevented;",
        vec![json!(PNG_B64), json!(image), json!(text)],
    )
    .await
        == json!(true)
}

async fn blur(b: &Browser) {
    b.js(
        "if (document.activeElement) document.activeElement.blur();",
        vec![],
    )
    .await;
}

async fn selected_tab(b: &Browser) -> String {
    b.js(
        "return document.querySelector('[role=tab][aria-selected=true]').id",
        vec![],
    )
    .await
    .as_str()
    .unwrap()
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pasting_an_image_or_text_fills_the_share_tabs_without_sending() {
    let server = TestServer::start().await;
    let b = Browser::start().await;
    open_app(&b, &server.url("/")).await;
    assert_eq!(selected_tab(&b).await, "tab-text");

    // An image pasted with no field focused: Share Files, with it chosen.
    blur(&b).await;
    assert!(
        paste(&b, Some("image.png"), None).await,
        "the page took the paste"
    );
    b.wait_visible("[data-testid=file-info]").await;
    assert_eq!(selected_tab(&b).await, "tab-file");
    assert_eq!(b.text_of("[data-testid=file-name]").await, "image.png");
    let details = b.text_of("[data-testid=file-details]").await;
    assert!(details.ends_with("image/png"), "{details}");

    // A second image is added: the two go out as one archive, the second one renamed.
    blur(&b).await;
    assert!(paste(&b, Some("image.png"), None).await);
    b.wait_js(
        "the second image to be added",
        STEP,
        "document.querySelector('[data-testid=file-name]').textContent === 'qopy-2-files.tar'",
    )
    .await;
    let list = b
        .js(
            "return [...document.querySelectorAll('[data-testid=file-list] li')].map((li) => li.textContent.split(' · ')[0])",
            vec![],
        )
        .await;
    assert_eq!(list, json!(["image.png", "image.png"]));

    // Text pasted with no field focused: Share Text, with the text filled in.
    blur(&b).await;
    let text = "pasted from the clipboard – ✓ 😀";
    assert!(paste(&b, None, Some(text)).await);
    assert_eq!(selected_tab(&b).await, "tab-text");
    let got = b
        .js(
            "return document.querySelector('[data-testid=text-input]').value",
            vec![],
        )
        .await;
    assert_eq!(got, json!(text));
    assert_eq!(
        b.text_of("[data-testid=text-counter]").await,
        "31 / 400,000"
    );

    // A paste into the text area is the browser's: the page leaves it alone.
    b.click("[data-testid=text-input]").await;
    assert!(!paste(&b, Some("image.png"), None).await);
    assert_eq!(selected_tab(&b).await, "tab-text");

    // Nothing was sent: no dialog, no upload session, no clip.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        b.js("return document.getElementById('share-modal').open", vec![])
            .await,
        json!(false)
    );
    let sessions = b
        .js(
            "return Object.keys(localStorage).filter((k) => k.startsWith('qopy.upload.')).length",
            vec![],
        )
        .await;
    assert_eq!(sessions, json!(0));

    // The pasted images are shared when the user clicks.
    b.click("[data-testid=tab-file]").await;
    b.click("[data-testid=file-submit]").await;
    let shared = read_share_dialog(&b).await;
    assert!(shared.url.starts_with(&server.url("/")), "{shared:?}");
    let problems = b.console_problems().await;
    assert!(problems.is_empty(), "console problems: {problems:#?}");
    b.close().await;
}

/// Drops `paths` onto the element for `css` the way a file manager would, through the
/// DevTools protocol (a real drag: the page gets FileSystemEntry objects for folders).
async fn drop_paths(b: &Browser, css: &str, paths: &[&Path]) {
    let r = b
        .js(
            "const r = document.querySelector(arguments[0]).getBoundingClientRect();\
             return [r.left + r.width / 2, r.top + r.height / 2];",
            vec![json!(css)],
        )
        .await;
    let (x, y) = (r[0].as_f64().unwrap(), r[1].as_f64().unwrap());
    let files: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let data = json!({ "items": [], "files": files, "dragOperationsMask": 1 });
    for kind in ["dragEnter", "dragOver", "drop"] {
        b.cdp(
            "Input.dispatchDragEvent",
            json!({ "type": kind, "x": x, "y": y, "data": data }),
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_folder_is_walked_with_its_empty_folders_and_a_dropped_file_joins_it() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let trip = dir.path().join("trip");
    let tree: Vec<(&str, Vec<u8>)> = vec![
        ("a.txt", b"alpha\n".to_vec()),
        ("sub/b.txt", test_bytes(5000, 9)),
    ];
    write_tree(&trip, &tree);
    std::fs::create_dir_all(trip.join("empty")).unwrap();
    std::fs::create_dir_all(trip.join("sub/deeper")).unwrap();
    let note = dir.path().join("note.md");
    std::fs::write(&note, b"# note\n").unwrap();

    let mut want: BTreeMap<String, String> = tree
        .iter()
        .map(|(n, d)| (format!("trip/{n}"), sha256_hex(d)))
        .collect();
    want.insert("note.md".into(), sha256_hex(b"# note\n"));

    let b = Browser::start().await;
    open_app(&b, &server.url("/")).await;
    // First as Chromium gives it (webkitGetAsEntry), then with only getAsFileSystemHandle.
    let mut links = Vec::new();
    for entries in [true, false] {
        if !entries {
            let has_handles = b
                .js(
                    "Object.defineProperty(DataTransferItem.prototype, 'webkitGetAsEntry', { value: undefined });\
                     return typeof DataTransferItem.prototype.getAsFileSystemHandle === 'function';",
                    vec![],
                )
                .await;
            assert_eq!(has_handles, json!(true));
        }
        b.click("[data-testid=tab-file]").await;
        drop_paths(&b, "[data-testid=drop-zone]", &[&trip, &note]).await;
        b.wait_js(
            "the dropped folder and file to be listed",
            STEP,
            "document.querySelector('[data-testid=file-name]').textContent === 'qopy-3-files.tar'",
        )
        .await;
        b.click("[data-testid=file-submit]").await;
        links.push((entries, read_share_dialog(&b).await.url));
        // A new share: the dialog's "Share something new" empties the form.
        b.click("[data-testid=modal-new]").await;
        b.wait_hidden("[data-testid=file-info]").await;
    }
    b.close().await; // one browser at a time (see above)

    let b2 = Browser::start().await;
    for (entries, url) in links {
        let saved = download_via_link(&b2, &url).await;
        assert_eq!(
            tar_names(&saved),
            [
                "trip/",
                "trip/a.txt",
                "trip/empty/",
                "trip/sub/",
                "trip/sub/b.txt",
                "trip/sub/deeper/",
                "note.md",
            ],
            "webkitGetAsEntry: {entries}"
        );
        assert_eq!(unpacked_hashes(&saved), want, "webkitGetAsEntry: {entries}");
        std::fs::remove_file(&saved).unwrap();
    }
    b2.close().await;
}
