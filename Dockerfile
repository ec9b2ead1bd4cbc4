# syntax=docker/dockerfile:1.7
# scriptsync container image: built with cargo on the Rust image, run as a non-root user on a
# distroless base (glibc, CA certificates, no shell, no package manager).
#
#   docker build -t scriptsync:dev .       (BuildKit, the default of Docker 23+)
#   buildah bud -t scriptsync:dev .        (or podman build: buildah ≥ 1.24 has cache mounts)
#
# Built and run on the development machine (no daemon, no registry) with Debian's buildah 1.28
# and podman 4.3 on stand-in bases: .ci/image/build-offline.sh says how, with its timings.
#   docker run --rm -v "$PWD/config:/etc/scriptsync:ro" \
#     -e SCRIPTSYNC_BROKER_PASSWORD=x -e ACME_GENESYS_CLIENT_SECRET=x \
#     -e GLOBEX_GENESYS_CLIENT_SECRET=x -e GLOBEX_SERVICENOW_CLIENT_SECRET=x \
#     scriptsync:dev check-config --config /etc/scriptsync/example.toml
# (example.toml names its secrets by environment variable: check-config refuses unset ones.)
#
# Both bases are build arguments, so a release pins them by digest:
#   docker build --build-arg RUST_IMAGE=rust:1.95-slim-bookworm@sha256:<digest> \
#                --build-arg RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot@sha256:<digest> .
ARG RUST_IMAGE=rust:1.95-slim-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

# ---- build ---------------------------------------------------------------------------------
FROM ${RUST_IMAGE} AS build
# tikv-jemalloc-sys runs jemalloc's configure and make; the slim image has gcc but no make.
RUN apt-get update \
    && apt-get install -y --no-install-recommends make \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The registry and target/ are BuildKit cache mounts: the dependencies (jemalloc included,
# with the options of .cargo/config.toml) compile once and stay compiled across source
# changes; only the workspace's own crates rebuild.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked --bin scriptsync \
    && cp target/release/scriptsync /usr/local/bin/scriptsync \
    && strip /usr/local/bin/scriptsync

# ---- runtime -------------------------------------------------------------------------------
FROM ${RUNTIME_IMAGE} AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="scriptsync" \
      org.opencontainers.image.description="Keeps contact-centre compliance scripts in sync across Genesys Cloud and ServiceNow" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /usr/local/bin/scriptsync /usr/local/bin/scriptsync
# A numeric non-root user (distroless needs no passwd entry for it): the chart's runAsUser,
# with a read-only root file system.
USER 10001:10001
# The admin endpoints (/healthz, /readyz, /metrics, /status); set [admin] listen = "0.0.0.0:9464".
EXPOSE 9464
ENTRYPOINT ["/usr/local/bin/scriptsync"]
CMD ["run", "--config", "/etc/scriptsync/config.toml"]
