# Qopy: build the binary, then ship it alone in a minimal image as a non-root user.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY assets ./assets
COPY config ./config
COPY benches ./benches
RUN cargo build --release --locked && mkdir -p /data-empty

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/qopy /qopy
# A /data owned by the runtime user, so a fresh named volume is writable.
COPY --from=build --chown=65532:65532 /data-empty /data
ENV QOPY_LISTEN=0.0.0.0:8080 \
    QOPY_DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 8080
# `qopy healthcheck` asks /api/health on the port of the same configuration (QOPY_LISTEN,
# QOPY_CONFIG); it exits 0 when healthy and 1 otherwise.
HEALTHCHECK --interval=30s --timeout=10s --start-period=10s --retries=3 CMD ["/qopy", "healthcheck"]
USER nonroot
ENTRYPOINT ["/qopy"]
