# modelpress: one image holding modelpress-server, modelpress-worker and the modelpress CLI.
# Build stage = the same scripts/setup a developer runs (keep them identical); runtime stage
# = Debian 12 slim with the shared libraries only, a non-root user and a /data volume.
#   docker build -t modelpress .
#   docker run -v mp-data:/data -p 7070:7070 -p 7080:7080 modelpress
# (one server with 1 local worker; in a cluster see deploy/: --local-workers=0 plus worker pods)
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
      libfmt9 libabsl20220623 zlib1g libssl3 libyaml-cpp0.7 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin modelpress \
 && mkdir -p /data && chown modelpress /data
COPY --from=build /opt/modelpress /opt/modelpress
ENV PATH=/opt/modelpress/bin:$PATH
USER modelpress
VOLUME /data
EXPOSE 7070 7080
ENTRYPOINT ["modelpress-server", "--data-dir=/data", "--listen=0.0.0.0:7070", "--http=0.0.0.0:7080"]
