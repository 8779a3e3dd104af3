//! Drop boxes from the command line: `qopy receive` makes a key pair, opens a drop box on the
//! server with its public key, prints the box's link (with the key's fingerprint in its
//! fragment) and a QR code of it, and saves whatever arrives until it is interrupted;
//! `qopy send --to LINK FILE...` sends each file (a directory as one tar archive) into a box.
//!
//! Every item is an ordinary V4 upload with a fresh secret; the secret travels wrapped to the
//! box's public key (key wrap v1, [`crate::v4::wrap`]), so only the receiver can open it. The
//! private key lives in this process's memory only: when `receive` ends, the box is deleted,
//! because nothing could open what arrived later.
//!
//! Trust: a link carries the first 16 bytes of the SHA-256 of the box's public key, and
//! `send --to` refuses a box whose key the server reports differently. Both commands print the
//! key's short fingerprint, which the receiving page shows as well.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::api::{DropItem, DropItems, DropboxCreated, DropboxInfo, DropboxRequest};
use crate::v4::wrap::{fingerprint, unwrap_secret, KeyPair};

use super::api::Api;
use super::args::{GetArgs, ReceiveArgs};
use super::{ClientError, Result};

/// How long one poll for arrivals waits on the server (it caps this at 25 s).
const POLL_WAIT_SECS: u64 = 20;
/// Failed polls in a row after which `receive` gives up.
const POLL_ATTEMPTS: u32 = 30;
/// Attempts at saving one arrival.
const SAVE_ATTEMPTS: u32 = 3;

/// A drop box to send into: its ID and its receiver's public key, checked against the link.
#[derive(Debug, Clone)]
pub struct DropTarget {
    /// The box's ID.
    pub id: String,
    /// The receiver's public key (65 bytes, uncompressed P-256).
    pub public_key: Vec<u8>,
    /// The key's short fingerprint, for the person to compare with the receiver's screen.
    pub fingerprint: String,
}

/// A drop-box link: `BASE/drop/ID#FINGERPRINT` (the fragment may be missing when typed), or
/// a bare ID against `server`. Returns (base, id, fingerprint link form).
pub fn parse_drop_link(
    link: &str,
    server: impl FnOnce() -> Result<String>,
) -> Result<(String, String, Option<String>)> {
    let link = link.trim();
    let (before, fp) = match link.split_once('#') {
        Some((b, f)) if !f.is_empty() => (b, Some(f.to_string())),
        Some((b, _)) => (b, None),
        None => (link, None),
    };
    let bad = || ClientError::BadLink(format!("{before} (expected http(s)://HOST/drop/ID)"));
    let (base, id) = if before.contains("://") {
        let url = reqwest::Url::parse(before).map_err(|_| bad())?;
        let path = url.path().trim_end_matches('/');
        let (prefix, id) = path.rsplit_once("/drop/").ok_or_else(bad)?;
        let mut base = url.clone();
        base.set_path(prefix);
        base.set_query(None);
        base.set_fragment(None);
        (super::settings::normalize(base.as_str())?, id.to_string())
    } else {
        (server()?, before.to_string())
    };
    let id = id.to_ascii_uppercase();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(bad());
    }
    Ok((base, id, fp))
}

/// Looks the box up and checks its key against the link's fingerprint.
pub fn resolve(api: &Api, id: &str, link_fp: Option<&str>) -> Result<DropTarget> {
    let info: DropboxInfo = api.get_json(&format!("/api/dropbox/{id}"))?;
    let public_key = crate::v4::base64url_decode(&info.public_key)
        .ok_or_else(|| ClientError::Usage("the server sent a malformed public key".into()))?;
    let (display, link) = fingerprint(&public_key)
        .map_err(|_| ClientError::Usage("the server sent an invalid public key".into()))?;
    if let Some(want) = link_fp {
        if want != link {
            return Err(ClientError::Usage(format!(
                "the drop box's key ({display}) does not match the link: the server may have \
                 replaced it; nothing was sent"
            )));
        }
    }
    Ok(DropTarget {
        id: id.to_string(),
        public_key,
        fingerprint: display,
    })
}

/// `qopy send --to LINK FILE...`: each FILE into the box, one item each.
pub fn send_to(args: &super::SendArgs) -> Result<()> {
    let link = args.to.as_deref().unwrap_or_default();
    let (base, id, fp) =
        parse_drop_link(link, || super::settings::server_url(args.server.as_deref()))?;
    let api = Api::new(&base)?;
    let target = resolve(&api, &id, fp.as_deref())?;
    if fp.is_none() {
        eprintln!(
            "qopy: the link has no key fingerprint; check that the receiver shows {}",
            target.fingerprint
        );
    } else {
        eprintln!(
            "qopy: drop box {id}, key fingerprint {}",
            target.fingerprint
        );
    }
    for file in &args.files {
        super::upload::send_with(args, &base, std::slice::from_ref(file), Some(&target))?;
    }
    Ok(())
}

/// `qopy receive`.
pub fn receive(args: &ReceiveArgs) -> Result<()> {
    let base = super::settings::server_url(args.server.as_deref())?;
    let api = Api::new(&base)?;
    let dir = args.output.clone().unwrap_or_else(|| PathBuf::from("."));
    if !dir.is_dir() {
        return Err(ClientError::Usage(format!(
            "{} is not a directory",
            dir.display()
        )));
    }
    let keys = KeyPair::generate();
    let public = keys.public_bytes();
    let (display, link_fp) = fingerprint(&public).expect("a key we made is valid");
    let created: DropboxCreated = api.post_json(
        "/api/dropbox",
        &DropboxRequest {
            public_key: crate::v4::base64url(&public),
            expiration: args.expiry.clone(),
            ..Default::default()
        },
    )?;
    let owner = created.owner_token;
    let link = format!("{}#{link_fp}", created.url);
    let shared = Arc::new(Shared::default());
    {
        // Ctrl-C: between arrivals the box is closed and the process ends at once (a poll
        // may be waiting on the server); during one, it ends after that arrival is saved,
        // so no half-written file is left behind.
        let (shared, base, id, owner) = (
            shared.clone(),
            base.clone(),
            created.id.clone(),
            owner.clone(),
        );
        let _ = ctrlc::set_handler(move || {
            let busy = shared.busy.lock().unwrap_or_else(|e| e.into_inner());
            shared.stop.store(true, Ordering::SeqCst);
            if !*busy {
                close_box(&base, &id, &owner);
                std::process::exit(0);
            }
        });
    }
    eprintln!("{}", qr_text(&link));
    eprintln!(
        "qopy: drop box {} open until {}; key fingerprint {display}",
        created.id,
        humantime::format_rfc3339_seconds(
            std::time::UNIX_EPOCH + Duration::from_millis(created.expires_at)
        )
    );
    eprintln!(
        "qopy: saving arrivals into {}; Ctrl-C to close the box",
        dir.display()
    );
    println!("{link}");

    let result = receive_loop(&api, &created.id, &owner, &keys, &dir, &shared);
    // Also after a failure: the key goes with this process, so nobody should send into the
    // box in vain.
    close_box(&base, &created.id, &owner);
    result
}

/// What `receive` shares with its Ctrl-C handler.
#[derive(Default)]
struct Shared {
    /// Ctrl-C was pressed.
    stop: AtomicBool,
    /// An arrival is being saved.
    busy: Mutex<bool>,
}

/// Deletes the box (the key goes with this process, so nobody should send into it in vain).
fn close_box(base: &str, id: &str, owner: &str) {
    let closed =
        Api::new(base).and_then(|api| api.delete_owned(&format!("/api/dropbox/{id}"), owner));
    match closed {
        Ok(()) | Err(ClientError::NotFound) => eprintln!("qopy: drop box {id} closed"),
        Err(e) => eprintln!("qopy: could not close drop box {id}: {e}"),
    }
}

fn receive_loop(
    api: &Api,
    id: &str,
    owner: &str,
    keys: &KeyPair,
    dir: &Path,
    shared: &Shared,
) -> Result<()> {
    let mut after = 0u64;
    let mut failures = 0u32;
    // Arrivals that could not be saved yet, with their failed attempts: tried again after
    // each poll, and given up (left in the box) after SAVE_ATTEMPTS.
    let mut retry: Vec<(DropItem, u32)> = Vec::new();
    while !shared.stop.load(Ordering::SeqCst) {
        let wait = if retry.is_empty() { POLL_WAIT_SECS } else { 1 };
        let path = format!("/api/dropbox/{id}/items?after={after}&wait={wait}");
        let asked = Instant::now();
        // A poll on a connection that died without a word must not wait for ever.
        let timeout = Duration::from_secs(wait + 15);
        let items: DropItems = match api.get_owned_within(&path, owner, timeout) {
            Ok(items) => {
                failures = 0;
                items
            }
            Err(ClientError::NotFound) => {
                eprintln!("qopy: the drop box has expired or was removed");
                return Ok(());
            }
            // The network, a restarting server, a 5xx or 429: again, with backoff.
            Err(e) if retriable(&e) && failures < POLL_ATTEMPTS => {
                failures += 1;
                eprintln!("qopy: {e}; trying again");
                std::thread::sleep(Duration::from_secs(u64::from(failures).min(8)));
                continue;
            }
            Err(e) => return Err(e),
        };
        let early = items.items.is_empty() && asked.elapsed() < Duration::from_secs(1);
        after = after.max(items.next);
        let todo: Vec<(DropItem, u32)> = std::mem::take(&mut retry)
            .into_iter()
            .chain(items.items.into_iter().map(|i| (i, 0)))
            .collect();
        for (item, tries) in todo {
            {
                let mut busy = shared.busy.lock().unwrap_or_else(|e| e.into_inner());
                if shared.stop.load(Ordering::SeqCst) {
                    return Ok(());
                }
                *busy = true;
            }
            let saved = save_item(api, id, owner, keys, dir, &item);
            *shared.busy.lock().unwrap_or_else(|e| e.into_inner()) = false;
            if let Err(e) = saved {
                // One arrival that cannot be saved must not stop the others.
                if tries + 1 < SAVE_ATTEMPTS {
                    eprintln!(
                        "qopy: arrival {} was not saved: {e}; trying again",
                        item.seq
                    );
                    retry.push((item, tries + 1));
                } else {
                    eprintln!("qopy: arrival {} was not saved: {e}; giving up", item.seq);
                }
            }
        }
        if early && retry.is_empty() {
            // An empty answer that did not wait: the server has no room for another waiting
            // request (or is stopping). Asking again at once would only spin.
            std::thread::sleep(Duration::from_secs(3));
        }
    }
    Ok(())
}

/// Errors worth asking again for: the network, and answers that say "later".
fn retriable(e: &ClientError) -> bool {
    match e {
        ClientError::Network { .. } => true,
        ClientError::Api { status, .. } => *status == 429 || *status >= 500,
        _ => false,
    }
}

/// Opens one arrival with the private key, saves it in `dir` under the sender's name (made
/// unique) and removes it from the box.
fn save_item(
    api: &Api,
    id: &str,
    owner: &str,
    keys: &KeyPair,
    dir: &Path,
    item: &DropItem,
) -> Result<()> {
    let wrapped = crate::v4::base64url_decode(&item.wrapped_key)
        .ok_or_else(|| ClientError::Usage("an arrival has a malformed wrapped key".into()))?;
    let secret = match unwrap_secret(keys, &wrapped, id) {
        Ok(s) => String::from_utf8(s).ok(),
        Err(_) => None,
    };
    let Some(secret) = secret else {
        // Not made for this key (or damaged): keep it out of the way, say so, go on.
        eprintln!(
            "qopy: arrival {} cannot be opened with this box's key; skipped",
            item.seq
        );
        return Ok(());
    };
    let args = GetArgs {
        link: format!("{}/file/{}#{secret}", api.base(), item.clip_id),
        output: Some(dir.to_path_buf()),
        force: false,
        password: None,
        access_code: None,
        server: None,
    };
    super::download::get(&args)?;
    api.delete_owned(&format!("/api/dropbox/{id}/items/{}", item.clip_id), owner)
}

/// The link as a QR code of text blocks (two rows of modules a line), for a phone to scan
/// off the terminal; a quiet zone of four modules around it.
pub fn qr_text(link: &str) -> String {
    match qrcode::QrCode::new(link.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::unicode::Dense1x2>()
            .dark_color(qrcode::render::unicode::Dense1x2::Light)
            .light_color(qrcode::render::unicode::Dense1x2::Dark)
            .quiet_zone(true)
            .build(),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_links_parse() {
        let none = || Err(ClientError::Usage("no server".into()));
        let (base, id, fp) =
            parse_drop_link("http://h:8080/drop/abcd2345#Zm9vYmFyYmF6cXV4cXV1eA", none).unwrap();
        assert_eq!((base.as_str(), id.as_str()), ("http://h:8080", "ABCD2345"));
        assert_eq!(fp.as_deref(), Some("Zm9vYmFyYmF6cXV4cXV1eA"));
        let (base, id, fp) = parse_drop_link("https://h/q/drop/XY12/", none).unwrap();
        assert_eq!(
            (base.as_str(), id.as_str(), fp),
            ("https://h/q", "XY12", None)
        );
        let (base, id, _) = parse_drop_link("xy12", || Ok("http://s".into())).unwrap();
        assert_eq!((base.as_str(), id.as_str()), ("http://s", "XY12"));
        assert!(parse_drop_link("http://h/clip/ABC#x", none).is_err());
        assert!(parse_drop_link("http://h/drop/A%2FB", none).is_err());
    }

    #[test]
    fn the_qr_code_of_a_link_has_rows() {
        let q = qr_text("http://192.168.1.2:8080/drop/ABCD2345#Zm9vYmFyYmF6cXV4cXV1eA");
        assert!(q.lines().count() > 10, "{q}");
        assert!(q.contains('█') || q.contains('▀') || q.contains('▄'));
    }
}
