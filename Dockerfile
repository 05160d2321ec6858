# syntax=docker/dockerfile:1
#
# esm-controller image: a release build with Cargo, copied alone onto distroless.
#
#   docker build -t <registry>/esm-controller:0.1.0 .
#
# Expected size: about 36 MiB uncompressed = the binary (~12 MiB stripped, release profile
# with fat LTO and opt-level "z", measured with the build command below; rustls + aws-lc, so
# no OpenSSL) + the base image (~24 MiB: the Installed-Size of its Debian 12 packages libc6,
# libssl3, libgcc-s1, libgomp1, libstdc++6, tzdata, ca-certificates, base-files, netbase,
# media-types adds up to 25.0 MiB, and distroless leaves out their docs).
# tests/packaging/check-dockerfile.sh checks the binary part against a real build.
#
# Runtime contract: runs as UID/GID 65532, needs no writable filesystem (the chart sets
# readOnlyRootFilesystem), listens on 8080 (--http-addr) for /healthz, /readyz, /metrics.
# The binary links glibc dynamically (aws-lc needs libc; Rust's unwinder needs libgcc_s), so the
# runtime is distroless/cc, built on the same Debian release as the builder.
#
# No Docker engine runs in this project's CI: tests/packaging/check-dockerfile.sh enforces this
# file's invariants and runs the same cargo build command on the same files (.dockerignore
# applied) outside Docker.

ARG RUST_VERSION=1.95

FROM docker.io/library/rust:${RUST_VERSION}-bookworm AS builder
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY emulator ./emulator
# The cache mounts keep the registry and target/ between builds (BuildKit).
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin esm-controller \
    && install -D -m 0755 target/release/esm-controller /out/esm-controller

FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="esm-controller" \
      org.opencontainers.image.description="Kubernetes controller for AWS Lambda event source mappings" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="0.1.0"
COPY --from=builder /out/esm-controller /esm-controller
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/esm-controller"]
CMD ["run"]
