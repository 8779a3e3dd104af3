//! The integration tests: one binary whose modules each cover one area of the server,
//! always through the real HTTP interface of a server started by `harness`.

mod browser;
mod cli;
mod clips;
mod crash;
mod diskfull;
mod guards;
mod harness;
mod js;
mod load;
mod logs;
mod oneshot;
mod props;
mod regressions;
mod slow;
mod smoke;
mod static_build;
mod tls;
mod uploads;
mod v4;
