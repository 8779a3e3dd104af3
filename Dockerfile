# Qopy: build a static binary, then ship it alone in an empty image as a non-root user.
#
# The binary is linked statically against glibc (`+crt-static`, Debian's libc6-dev has libc.a),
# so the runtime image is `scratch`: no shell, no libraries, no CA certificates (the server
# makes no outgoing TLS connections); its debug information is stripped. The test
# `tests/it/static_build.rs` builds the binary the same way and checks that it is static,
# serves from an empty directory and stops cleanly on SIGTERM.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY assets ./assets
COPY config ./config
COPY benches ./benches
RUN target="$(uname -m)-unknown-linux-gnu" \
 && RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --release --locked --bin qopy --target "$target" \
 && cp "target/$target/release/qopy" /qopy && strip --strip-debug /qopy \
 && mkdir -p /data-empty

FROM scratch
COPY --from=build /qopy /qopy
# A /data owned by the runtime user, so a fresh named volume is writable.
COPY --from=build --chown=65532:65532 /data-empty /data
ENV QOPY_LISTEN=0.0.0.0:8080 \
    QOPY_DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 8080
# `qopy healthcheck` asks /api/health on the port of the same configuration (QOPY_LISTEN,
# QOPY_CONFIG); it exits 0 when healthy and 1 otherwise.
HEALTHCHECK --interval=30s --timeout=10s --start-period=10s --retries=3 CMD ["/qopy", "healthcheck"]
USER 65532:65532
# The server handles SIGTERM itself (also as PID 1): it stops accepting, finishes, flushes
# the database and exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/qopy"]
