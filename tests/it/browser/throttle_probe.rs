use super::driver::Browser;
use crate::harness::TestServer;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_throttle() {
    let server = TestServer::start().await;
    let b = Browser::start().await;
    b.goto(&server.url("/")).await;
    b.cdp("Network.enable", json!({})).await;
    for up in [-1i64, 2_000_000] {
        b.cdp("Network.emulateNetworkConditions", json!({ "offline": false, "latency": 0, "downloadThroughput": -1, "uploadThroughput": up })).await;
        let r = b.js_async("const t = performance.now(); const init = await fetch('/api/upload/initiate', {method:'POST', headers:{'Content-Type':'application/json'}, body: JSON.stringify({filename:'abcdef0123456789', filesize: 5242880, totalChunks: 1, contentType:'file', expiration:'1hr'})}); const j = await init.json(); const t1 = performance.now(); const r = await fetch('/api/upload/chunk/' + j.uploadId + '/0', {method:'PUT', headers:{'Content-Type':'application/octet-stream'}, body: new Uint8Array(5242880)}); return [r.status, Math.round(performance.now() - t1)];", vec![]).await;
        eprintln!("upload throughput {up}: {r}");
    }
    b.close().await;
}
