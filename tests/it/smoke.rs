//! A first end-to-end pass: upload, info, download, restart, download again.

use crate::harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_download_and_restart() {
    let server = TestServer::start().await;
    let data = test_bytes(12_000_000, 1);
    let id = server.upload_file(&data).await;
    let (status, body) = server.download_bytes(&id, None).await;
    assert_eq!(status, 200);
    assert!(body == data, "downloaded bytes differ");
    let server = server.restart().await;
    let (status, body) = server.download_bytes(&id, None).await;
    assert_eq!(status, 200);
    assert!(body == data, "downloaded bytes differ after restart");
    server.stop().await;
}
