//! The data directory is private (issue 10): under umask 022 the database and blob files
//! were 0644 and the directories 0755. Now nothing under the data directory has a group or
//! other permission bit, whatever the umask, and a directory left open by an older version is
//! tightened at start-up.

use crate::harness::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Every path under `root` (and `root` itself) with a group or other permission bit.
fn open_to_others(root: &Path) -> Vec<(PathBuf, u32)> {
    let mut open = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        let meta = fs::symlink_metadata(&p).unwrap();
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            open.push((p.clone(), mode));
        }
        if meta.is_dir() {
            stack.extend(fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        }
    }
    open
}

fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 90]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_directory_is_private_whatever_the_umask() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    // A data directory an older version left open: a 0755 directory and a 0644 file.
    fs::create_dir(&data).unwrap();
    fs::set_permissions(&data, fs::Permissions::from_mode(0o755)).unwrap();
    let old_dir = data.join("blobs");
    fs::create_dir(&old_dir).unwrap();
    fs::set_permissions(&old_dir, fs::Permissions::from_mode(0o755)).unwrap();
    let old_file = data.join("left-over.txt");
    fs::write(&old_file, b"x").unwrap();
    fs::set_permissions(&old_file, fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(open_to_others(&data).len(), 3);

    // The server must not depend on the umask it is started with.
    // SAFETY: umask only swaps the process's file-mode creation mask.
    unsafe { libc::umask(0o022) };
    let d = data.clone();
    let s = TestServer::start_with(move |c| c.data_dir = d).await;
    // A chunked upload, a one-shot upload with its cached preview, a restart, one more upload.
    let data_bytes = test_bytes(3000, 7);
    let id = s.upload_file(&data_bytes).await;
    let r = s.put("/pic.png").body(png(64, 48)).answer().await;
    assert_eq!(r.status().as_u16(), 200);
    let url = r.text().await.unwrap();
    let pic = url.trim_end().rsplit('/').next().unwrap().to_string();
    let r = s.get(&format!("/api/clip/{pic}/preview")).answer().await;
    assert_eq!(r.status().as_u16(), 200);
    assert!(files_under(&data)
        .iter()
        .any(|f| f.ends_with("preview.jpg")));
    let s = s.restart().await;
    s.upload_file(&test_bytes(100, 8)).await;
    let (status, bytes) = s.download_bytes(&id, None).await;
    assert_eq!((status, bytes == data_bytes), (200, true));

    let open = open_to_others(&data);
    assert!(open.is_empty(), "readable by others: {open:?}");
    assert!(files_under(&data).len() >= 3, "the uploads are on disk");
    assert!(data.join("db").is_dir());
    s.stop().await;
}
