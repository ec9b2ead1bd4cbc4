#!/usr/bin/env bash
# Builds and runs the project's Dockerfile, unchanged, with buildah/podman from Debian
# bookworm: no daemon, and no image registry (the two base images are stand-ins made here
# with debootstrap and the host's Rust toolchain; a machine that can pull rust:*-slim and
# distroless needs none of this: `buildah bud -t scriptsync:dev .` or `docker build`).
# Run as root, from anywhere. Usage:
#   .ci/image/build-offline.sh [all|tools|bases|build|rebuild|run]
# Work files go to $IMAGE_WORK (default /tmp/scriptsync-image); the source is a clone of this
# checkout's HEAD. Measured on the development machine (2 cores): bases 30 s, first build
# 420 s, rebuild after a source change 115 s (only the scriptsync crate recompiles).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(git -C "$HERE" rev-parse --show-toplevel)
W=${IMAGE_WORK:-/tmp/scriptsync-image}
mkdir -p "$W/ctx-rust" "$W/ctx-runtime"
cp "$HERE/rust-base/Containerfile" "$W/ctx-rust/Containerfile"
cp "$HERE/runtime-base/Containerfile" "$W/ctx-runtime/Containerfile"
export CONTAINERS_CONF=$HERE/containers.conf    # runc + ulimits this VM allows (see that file)
step=${1:-all}
log() { printf '\n=== %s\n' "$*"; }

tools() {
  log "install tools"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    buildah podman crun runc fuse-overlayfs slirp4netns uidmap debootstrap
  buildah --version; podman --version; runc --version | head -1
}

bases() {
  log "localhost/debian:bookworm from debootstrap"
  if [ ! -x $W/rootfs/bin/bash ]; then
    nice -n 10 debootstrap --variant=minbase bookworm $W/rootfs http://deb.debian.org/debian
  fi
  rm -rf $W/rootfs/var/cache/apt/archives/*.deb $W/rootfs/var/cache/apt/*.bin $W/rootfs/var/lib/apt/lists/*
  # what the official debian images ship: apt keeps no package cache in image layers
  cat > $W/rootfs/etc/apt/apt.conf.d/docker-clean <<'CONF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CONF
  tar -C $W/rootfs -c . | podman import --change 'CMD ["/bin/bash"]' - localhost/debian:bookworm

  log "localhost/rust:1.95-slim-bookworm from the host's rustup toolchain"
  # toolchain (without its 800 MB of HTML docs) as /usr/local/rustup, rustup + proxies as
  # /usr/local/cargo/bin, like the official image.
  local st=$W/toolchain-stage; rm -rf $st; mkdir -p $st/rustup $st/cargo/bin
  printf 'version = "12"\ndefault_toolchain = "1.95.0-x86_64-unknown-linux-gnu"\nprofile = "minimal"\nauto_self_update = "disable"\n' > $st/rustup/settings.toml
  cp /root/.cargo/bin/rustup $st/cargo/bin/
  for p in cargo rustc rustdoc cargo-clippy clippy-driver cargo-fmt rustfmt rust-gdb rust-gdbgui rust-lldb; do
    ln -s rustup $st/cargo/bin/$p
  done
  local tc; tc=$(readlink -f /root/.rustup/toolchains/1.95.0-x86_64-unknown-linux-gnu)
  tar -C $st --mode=a+w --owner=0 --group=0 -cf $W/ctx-rust/rust-toolchain.tar rustup cargo
  tar -C "$tc" --exclude=./share/doc --mode=a+w --owner=0 --group=0 \
      --transform 's,^\.,rustup/toolchains/1.95.0-x86_64-unknown-linux-gnu,' \
      -rf $W/ctx-rust/rust-toolchain.tar .
  nice -n 10 buildah bud --layers -t localhost/rust:1.95-slim-bookworm $W/ctx-rust

  log "localhost/distroless-cc:nonroot (stand-in for gcr.io/distroless/cc-debian12:nonroot)"
  nice -n 10 buildah bud --layers -t localhost/distroless-cc:nonroot $W/ctx-runtime
  podman images
}

src() {
  if [ ! -d $W/src/.git ]; then git clone -q "$REPO" $W/src; fi
  git -C $W/src fetch -q "$REPO" HEAD && git -C $W/src checkout -q --detach FETCH_HEAD
  git -C $W/src log -1 --format='source: %H %s' | cut -c1-120
}

build() {
  log "build the project's Dockerfile, unchanged"
  src
  local t0=$SECONDS
  # This VM reaches crates.io only through a TLS-intercepting egress proxy whose CA is in the
  # host's bundle, not in the image's: bind the host bundle into the RUN steps (build time only,
  # nothing of it lands in a layer). On an ordinary machine drop the -v line.
  nice -n 10 buildah bud --layers --network host \
    -v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro \
    --build-arg RUST_IMAGE=localhost/rust:1.95-slim-bookworm \
    --build-arg RUNTIME_IMAGE=localhost/distroless-cc:nonroot \
    --build-arg REVISION="$(git -C $W/src rev-parse HEAD)" \
    -t localhost/scriptsync:dev -f $W/src/Dockerfile $W/src
  echo "BUILD_SECONDS=$((SECONDS - t0))"
}

rebuild() {
  log "rebuild after touching src/text.rs"
  src
  echo "// touched by build-image.sh $(date +%s)" >> $W/src/src/text.rs
  build
  git -C $W/src checkout -q -- src/text.rs
}

run() {
  log "run the image"
  src
  podman image inspect localhost/scriptsync:dev --format \
    'User={{.Config.User}} Entrypoint={{.Config.Entrypoint}} Cmd={{.Config.Cmd}} ExposedPorts={{.Config.ExposedPorts}} Size={{.Size}}'
  podman image inspect localhost/scriptsync:dev --format '{{range $k,$v := .Labels}}{{$k}}={{$v}}{{"\n"}}{{end}}'
  podman images localhost/scriptsync:dev
  podman run --rm localhost/scriptsync:dev --version
  # as the Dockerfile's header writes it: fails, example.toml names secrets by env var
  podman run --rm -v $W/src/config:/etc/scriptsync:ro localhost/scriptsync:dev \
    check-config --config /etc/scriptsync/example.toml || echo "exit=$? (expected: secrets unset)"
  # with the four secrets example.toml names (dummy values), read-only root fs as the chart runs it
  podman run --rm --read-only -v $W/src/config:/etc/scriptsync:ro \
    -e SCRIPTSYNC_BROKER_PASSWORD=dummy -e ACME_GENESYS_CLIENT_SECRET=dummy \
    -e GLOBEX_GENESYS_CLIENT_SECRET=dummy -e GLOBEX_SERVICENOW_CLIENT_SECRET=dummy \
    localhost/scriptsync:dev check-config --config /etc/scriptsync/example.toml > $W/check-config.out
  echo "check-config exit=$?"; head -3 $W/check-config.out; wc -l < $W/check-config.out
  # the default CMD with no config mounted
  podman run --rm localhost/scriptsync:dev || echo "default CMD exit=$?"
  # the user the process runs as, and the binary's shared libraries (the stand-in base has a shell)
  podman run --rm --entrypoint id localhost/scriptsync:dev
  podman run --rm --entrypoint ldd localhost/scriptsync:dev /usr/local/bin/scriptsync
  podman run --rm --entrypoint ls localhost/scriptsync:dev -l /usr/local/bin/scriptsync
  podman history localhost/scriptsync:dev
}

case $step in
  all) tools; bases; build; rebuild; run ;;
  *) "$step" ;;
esac
