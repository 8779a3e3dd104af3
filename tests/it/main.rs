//! The integration tests: one binary whose modules each cover one area of the server,
//! always through the real HTTP interface of a server started by `harness`.

mod browser;
mod claims;
mod cli;
mod cli_dropbox;
mod clips;
mod crash;
mod diskfull;
mod dropbox;
mod garage;
mod guards;
mod harness;
mod hosts;
mod js;
mod load;
mod logs;
mod names;
mod oneshot;
mod private_data;
mod props;
mod pwa;
mod ranges;
mod regressions;
mod s3_store;
mod slow;
mod smoke;
mod stalls;
mod static_build;
mod tls;
mod uploads;
mod v4;
