# scriptsync container image: build with cargo, run as a non-root user on a slim base.
#
#   docker build -t scriptsync:dev .
#   docker run --rm -v "$PWD/config:/etc/scriptsync:ro" scriptsync:dev check-config --config /etc/scriptsync/example.toml
#
# Docker does not run on the development machines of this project, so this file is kept
# conventional (two stages, pinned toolchain, locked dependencies) rather than tested there.

# ---- build ---------------------------------------------------------------------------------
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# The workspace manifests first, so the dependency layer is cached across source changes.
COPY Cargo.toml Cargo.lock ./
# jemalloc's built-in options: an [env] of the build, read when jemalloc is compiled.
COPY .cargo .cargo
COPY crates/scriptsync-sim/Cargo.toml crates/scriptsync-sim/Cargo.toml
RUN mkdir -p src crates/scriptsync-sim/src \
    && echo 'fn main() {}' > src/main.rs && touch src/lib.rs crates/scriptsync-sim/src/lib.rs \
    && cargo fetch --locked
COPY . .
RUN cargo build --release --locked --bin scriptsync \
    && strip target/release/scriptsync

# ---- runtime -------------------------------------------------------------------------------
FROM debian:bookworm-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin scriptsync
COPY --from=build /src/target/release/scriptsync /usr/local/bin/scriptsync
USER 10001:10001
# The admin endpoints (/healthz, /readyz, /metrics, /status); set [admin] listen = "0.0.0.0:9464".
EXPOSE 9464
ENTRYPOINT ["/usr/local/bin/scriptsync"]
CMD ["run", "--config", "/etc/scriptsync/config.toml"]
