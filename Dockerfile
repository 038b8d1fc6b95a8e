# Build: a release binary from the locked dependencies.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY benches benches
COPY data data
COPY prompts prompts
RUN cargo build --release --locked --bin tradeoff

# Run: a small image with the binary, the packs, and a volume for the store.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin tradeoff \
    && mkdir -p /data \
    && chown tradeoff /data
COPY --from=build /src/target/release/tradeoff /usr/local/bin/tradeoff
COPY data /app/data
COPY prompts /app/prompts
WORKDIR /app
USER tradeoff
ENV TRADEOFF_DATA_DIR=/data \
    TRADEOFF_ADDR=0.0.0.0:3000 \
    RUST_LOG=info
VOLUME ["/data"]
EXPOSE 3000
CMD ["tradeoff", "serve"]
