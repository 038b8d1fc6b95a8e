# Build: the distributed binary (profile dist: whole-program optimised) from the locked
# dependencies.
FROM rust:1-bookworm AS build
WORKDIR /src
# The dependencies first, in a layer of their own, built against empty targets: a change to
# the sources then rebuilds only this crate.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src benches \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && echo 'fn main() {}' > benches/core.rs \
    && cargo build --profile dist --locked --bin tradeoff \
    && rm -rf src benches
COPY src src
COPY benches benches
COPY data data
COPY prompts prompts
# The copied sources keep their own times, which can be older than the empty targets' build.
RUN touch src/main.rs src/lib.rs && cargo build --profile dist --locked --bin tradeoff

# Run: a small image with the binary, the packs, and a volume for the store.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin tradeoff \
    && mkdir -p /data \
    && chown tradeoff /data
COPY --from=build /src/target/dist/tradeoff /usr/local/bin/tradeoff
COPY data /app/data
COPY prompts /app/prompts
WORKDIR /app
USER tradeoff
ENV TRADEOFF_DATA_DIR=/data \
    TRADEOFF_ADDR=0.0.0.0:3000 \
    RUST_LOG=info
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["tradeoff", "health"]
CMD ["tradeoff", "serve"]
