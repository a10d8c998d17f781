# modelpress: one image holding modelpress-server, modelpress-worker and the modelpress CLI.
# Build stage = the same scripts/setup a developer runs (keep them identical); runtime stage
# = Debian 12 slim with the shared libraries only, a non-root user and a /data volume.
#   docker build -t modelpress .
#   docker run -v mp-data:/data -p 50051:50051 -p 8080:8080 modelpress
FROM debian:bookworm AS build
WORKDIR /src
COPY . /src
RUN scripts/setup --deps \
 && cmake --preset release -DMP_BUILD_BENCH=OFF \
 && cmake --build --preset release -j "$(nproc)" \
 && cmake --install build/release --prefix /opt/modelpress

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libgrpc++1.51 libgrpc29 libprotobuf32 libonnx1 libhwy1 libsqlite3-0 libspdlog1.10 \
      libfmt9 libabsl20220623 zlib1g ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin modelpress \
 && mkdir -p /data && chown modelpress /data
COPY --from=build /opt/modelpress /opt/modelpress
ENV PATH=/opt/modelpress/bin:$PATH
USER modelpress
VOLUME /data
EXPOSE 50051 8080
ENTRYPOINT ["modelpress-server", "--data-dir", "/data"]
