//! `qopy receive` and `qopy send --to`: drop boxes from the command line, against a real
//! server, with the binary run as a user runs it.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::cli::User;
use crate::harness::{eventually, test_bytes, Answer, TestServer};
use qopy::v4::wrap::{fingerprint, unwrap_secret, KeyPair};

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A box made over HTTP with a key the test holds.
struct KeyedBox {
    keys: KeyPair,
    id: String,
    owner: String,
    /// The box's link with the fingerprint of `keys`, as its owner would hand it out.
    link: String,
}

/// Makes a box over HTTP with a new key pair.
async fn open_box(server: &TestServer) -> KeyedBox {
    let keys = KeyPair::generate();
    let r = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(server.url("/api/dropbox"))
        .json(
            &json!({ "publicKey": qopy::v4::base64url(&keys.public_bytes()), "expiration": "1hr" }),
        )
        .answer()
        .await;
    assert_eq!(r.status().as_u16(), 201);
    let v: Value = r.json().await.unwrap();
    let id = v["id"].as_str().unwrap().to_string();
    let (_, fp) = fingerprint(&keys.public_bytes()).unwrap();
    KeyedBox {
        link: server.url(&format!("/drop/{id}#{fp}")),
        owner: v["ownerToken"].as_str().unwrap().to_string(),
        id,
        keys,
    }
}

/// The box's arrivals as its owner sees them.
async fn items(server: &TestServer, bx: &KeyedBox) -> Vec<Value> {
    let r = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(server.url(&format!("/api/dropbox/{}/items?after=0", bx.id)))
        .header("x-qopy-owner", &bx.owner)
        .answer()
        .await;
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().await.unwrap();
    v["items"].as_array().unwrap().clone()
}

/// Sends SIGINT (Ctrl-C) to `child` and waits for it to end; its exit code.
pub(crate) async fn ctrl_c(child: &mut tokio::process::Child) -> Option<i32> {
    let pid = child.id().unwrap() as i32;
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid).unwrap(),
        rustix::process::Signal::INT,
    )
    .unwrap();
    tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("receive ends on Ctrl-C")
        .unwrap()
        .code()
}

/// Starts `qopy receive --server BASE -o inbox --expiry 1hr` as `user` (the directory
/// `inbox` in their home must exist) and reads the box's link from its first line.
pub(crate) async fn start_receive(user: &User, base: &str) -> (tokio::process::Child, String) {
    let mut child = user
        .command(&[
            "receive", "--server", base, "-o", "inbox", "--expiry", "1hr",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let link = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("receive prints its link")
        .unwrap()
        .expect("a link line");
    (child, link)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receive_saves_what_send_to_sends_and_closes_the_box_on_ctrl_c() {
    let server = TestServer::start().await;
    let (receiver, sender) = (User::new(), User::new());
    std::fs::create_dir_all(receiver.path("inbox")).unwrap();
    let a = test_bytes(3 * 1024 * 1024 + 17, 5);
    let b = b"a note from the phone\n".to_vec();
    std::fs::write(sender.path("photo.jpg"), &a).unwrap();
    std::fs::write(sender.path("note.txt"), &b).unwrap();
    std::fs::create_dir_all(sender.path("album/sub")).unwrap();
    std::fs::write(sender.path("album/sub/c.bin"), test_bytes(70_000, 6)).unwrap();

    let (mut child, link) = start_receive(&receiver, &server.base).await;
    assert!(link.contains("/drop/") && link.contains('#'), "{link}");
    let id = link
        .split("/drop/")
        .nth(1)
        .unwrap()
        .split('#')
        .next()
        .unwrap()
        .to_string();

    let sent = sender
        .run(
            &["send", "--to", &link, "photo.jpg", "note.txt", "album"],
            None,
            &[],
        )
        .await
        .ok();
    assert!(
        sent.stderr.contains(&format!("into drop box {id}")),
        "{}",
        sent.stderr
    );
    let inbox = receiver.path("inbox");
    // Three arrivals saved under their final names (a `.part` file is one still being
    // written, and counting it raced the save of the archive under load).
    eventually("three arrivals saved", Duration::from_secs(60), || {
        std::fs::read_dir(&inbox)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter(|e| !e.file_name().to_string_lossy().ends_with(".part"))
                    .count()
            })
            .unwrap_or(0)
            >= 3
    })
    .await;
    assert_eq!(
        sha256(&std::fs::read(inbox.join("photo.jpg")).unwrap()),
        sha256(&a)
    );
    assert_eq!(std::fs::read(inbox.join("note.txt")).unwrap(), b);
    let names: Vec<String> = std::fs::read_dir(&inbox)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let tar_name = names
        .iter()
        .find(|n| n.ends_with(".tar"))
        .expect("the folder as an archive");
    let mut archive = tar::Archive::new(std::fs::File::open(inbox.join(tar_name)).unwrap());
    let unpacked = receiver.path("unpacked");
    archive.unpack(&unpacked).unwrap();
    assert_eq!(
        std::fs::read(unpacked.join("album/sub/c.bin")).unwrap(),
        test_bytes(70_000, 6)
    );

    // Ctrl-C closes the box: nothing can be sent into it any more.
    assert_eq!(ctrl_c(&mut child).await, Some(0));
    let gone = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(server.url(&format!("/api/dropbox/{id}")))
        .answer()
        .await;
    assert_eq!(gone.status().as_u16(), 404, "the box is still open");
    sender
        .run(&["send", "--to", &link, "note.txt"], None, &[])
        .await
        .failed("");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_to_refuses_a_box_whose_key_is_not_the_links() {
    let server = TestServer::start().await;
    let sender = User::new();
    std::fs::write(sender.path("x.txt"), b"secret plans").unwrap();
    let bx = open_box(&server).await;
    let (_, other) = fingerprint(&KeyPair::generate().public_bytes()).unwrap();
    let link = server.url(&format!("/drop/{}#{other}", bx.id));
    sender
        .run(&["send", "--to", &link, "x.txt"], None, &[])
        .await
        .failed("does not match the link");
    assert!(items(&server, &bx).await.is_empty(), "something was sent");
    // With the right fingerprint, or with the bare ID (then the key is printed to compare).
    sender
        .run(&["send", "--to", &bx.link, "x.txt"], None, &[])
        .await
        .ok();
    let run = sender
        .run(
            &[
                "send",
                "--server",
                &server.base,
                "--to",
                &bx.id.to_lowercase(),
                "x.txt",
            ],
            None,
            &[],
        )
        .await
        .ok();
    let (display, _) = fingerprint(&bx.keys.public_bytes()).unwrap();
    assert!(run.stderr.contains(&display), "{}", run.stderr);
    assert_eq!(items(&server, &bx).await.len(), 2);
    // Options that make no sense for a drop box are refused before anything is sent.
    sender
        .run(&["send", "--to", &link, "--one-time", "x.txt"], None, &[])
        .await
        .failed("cannot be used with");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_directory_never_holds_what_was_sent_or_its_key() {
    let server = TestServer::start().await;
    let sender = User::new();
    let marker = b"PLAINTEXT-MARKER-4f1c-".repeat(5000);
    std::fs::write(sender.path("m.txt"), &marker).unwrap();
    let bx = open_box(&server).await;
    sender
        .run(&["send", "--to", &bx.link, "m.txt"], None, &[])
        .await
        .ok();
    let got = items(&server, &bx).await;
    assert_eq!(got.len(), 1);
    let wrapped = qopy::v4::base64url_decode(got[0]["wrappedKey"].as_str().unwrap()).unwrap();
    let secret = unwrap_secret(&bx.keys, &wrapped, &bx.id).expect("the receiver's key opens it");
    let secret = String::from_utf8(secret).unwrap();
    // The bytes of everything in the data directory hold none of: the content, the item's
    // secret (its content key), the receiver's private key.
    let private = bx.keys.private_bytes();
    let needles: [(&str, &[u8]); 3] = [
        ("the content", &marker[..64]),
        ("the secret", secret.as_bytes()),
        ("the private key", &private[..]),
    ];
    let mut files = 0;
    for entry in walk(&server.data_dir()) {
        let bytes = std::fs::read(&entry).unwrap();
        files += 1;
        for (what, needle) in needles {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "{what} is in {}",
                entry.display()
            );
        }
    }
    assert!(files > 0);
    server.stop().await;
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
