//! Qopy: a self-hosted appliance for sharing text and files that expire, end-to-end
//! encrypted in the sender's browser.
//!
//! The crate is layered, with dependencies pointing one way:
//! `http` (warp routes, errors, headers, limits) → `service` (the use cases) →
//! `store` (sled), `blobs` (chunk files and memory maps, or objects in an S3 bucket through
//! `s3`), `cache` → `model` (plain types);
//! `names` is the one rule for client file names, used by `service` and `http`.
//! `app::run` wires them together and is the only way to start a server; `server` owns the
//! accept loop; `sweeper` removes what has expired or been abandoned; `metrics` holds the Prometheus
//! registry the server loop records into; `private_dir` keeps the data directory readable by
//! its owner only. `client` is the command-line client (`qopy send`,
//! `qopy get`), which talks to a server over HTTP only.

pub mod api;
pub mod app;
pub mod blobs;
pub mod cache;
pub mod cli;
pub mod client;
pub mod clock;
pub mod config;
pub mod http;
pub mod metrics;
pub mod model;
pub mod names;
pub mod net;
pub mod private_dir;
pub mod s3;
pub mod server;
pub mod service;
pub mod snapshots;
pub mod store;
pub mod sweeper;
pub mod tls;
pub mod v4;
