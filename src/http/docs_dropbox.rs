//! The OpenAPI operations of the drop-box routes (`dropbox.rs`), beside the others in
//! `docs.rs`. Errors of these routes use snake_case codes: `invalid_public_key`,
//! `owner_required`, `not_found`, `expired`.

use super::docs::{describe, op, with_body};
use super::openapi::{error, json_body, json_ok, response};
use crate::api;
use serde_json::{json, Value};

/// `POST /api/dropbox`.
pub fn create() -> Value {
    let o = with_body(
        op(
            "dropboxes",
            "createDropbox",
            "Create a drop box for a receiver's public key",
            &[],
            json!({
                "201": json_ok::<api::DropboxCreated>("Created; the owner token is given only here"),
                "400": error("`invalid_public_key`, or `Validation failed` (an unknown expiration, a limit below 1)"),
                "429": response("RateLimited"),
                "500": response("InternalError"),
            }),
        ),
        json_body::<api::DropboxRequest>(true),
    );
    describe(
        o,
        "The server keeps the public key as given and hands it to senders; it never sees a \
         private key or a content key. maxBytes and maxItems default to, and are capped by, \
         dropbox_max_bytes and dropbox_max_items. Items expire with the box.",
    )
}

/// `GET /api/dropbox/{id}`.
pub fn info() -> Value {
    op(
        "dropboxes",
        "dropboxInfo",
        "A drop box's public key, expiry, limits and use (for the sender page)",
        &["BoxId"],
        json!({
            "200": json_ok::<api::DropboxInfo>("The box"),
            "404": error("`not_found`: no such box (or swept after expiring)"),
            "410": error("`expired`: the box has expired and is not swept yet"),
            "429": response("RateLimited"),
            "500": response("InternalError"),
        }),
    )
}

/// `DELETE /api/dropbox/{id}`.
pub fn delete() -> Value {
    op(
        "dropboxes",
        "deleteDropbox",
        "Delete a drop box with its items and their clips",
        &["BoxId", "Owner"],
        json!({
            "204": { "description": "Deleted" },
            "403": error("`owner_required`"),
            "404": error("`not_found`"),
            "429": response("RateLimited"),
            "500": response("InternalError"),
        }),
    )
}

/// `GET /api/dropbox/{id}/items`.
pub fn items() -> Value {
    let mut o = op(
        "dropboxes",
        "dropboxItems",
        "The items that arrived after `after`, waiting up to `wait` seconds for one",
        &["BoxId", "Owner"],
        json!({
            "200": json_ok::<api::DropItems>("At most 200 items, in order (possibly none)"),
            "400": response("BadRequest"),
            "403": error("`owner_required`"),
            "404": error("`not_found`"),
            "410": error("`expired`"),
            "429": response("RateLimited"),
            "500": response("InternalError"),
        }),
    );
    if let Some(p) = o["parameters"].as_array_mut() {
        p.push(json!({ "name": "after", "in": "query", "required": false,
            "description": "List items with a greater seq (0, the default, lists all)",
            "schema": { "type": "integer", "minimum": 0 } }));
        p.push(json!({ "name": "wait", "in": "query", "required": false,
            "description": "With no item to list, wait this many seconds (at most 25) for one to arrive",
            "schema": { "type": "integer", "minimum": 0, "maximum": 25 } }));
    }
    describe(
        o,
        "Long polling: with nothing to list and wait > 0 the answer waits until an item \
         completes, the time passes or the server shuts down. A box has at most 8 waiting \
         requests (the server 256); more answer at once.",
    )
}

/// `DELETE /api/dropbox/{id}/items/{clipId}`.
pub fn delete_item() -> Value {
    let mut o = op(
        "dropboxes",
        "deleteDropItem",
        "Delete one item and its clip (the receiver has saved it); its room is free again",
        &["BoxId", "Owner"],
        json!({
            "204": { "description": "Deleted" },
            "403": error("`owner_required`"),
            "404": error("`not_found`: no such box, or no such item in it"),
            "429": response("RateLimited"),
            "500": response("InternalError"),
        }),
    );
    if let Some(p) = o["parameters"].as_array_mut() {
        p.insert(
            1,
            json!({ "name": "clipId", "in": "path", "required": true,
            "description": "The item's clipId", "schema": { "type": "string", "pattern": "^[A-Za-z0-9]{10}$" } }),
        );
    }
    o
}

/// `GET /drop/{id}`.
pub fn page() -> Value {
    op(
        "pages",
        "dropPage",
        "The app page for a drop-box link (the page reads the ID from its path)",
        &["BoxId", "IfNoneMatch"],
        json!({
            "200": response("Page"),
            "304": response("NotModified"),
            "404": error("Not a well-formed drop-box ID"),
        }),
    )
}
