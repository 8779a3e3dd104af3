//! Free loopback ports, in a file of its own so the benchmarks that start test processes
//! (`benches/s3_store.rs`) can include it without the rest of the harness.

/// A loopback port free at the moment of the call.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
