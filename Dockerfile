# The hermetic build environment for release builds: Debian bookworm with
# every host tool `plinth doctor` asks for, and plinth itself.
#
#   docker build -t plinth .
#   docker run --rm -v "$PWD:/work" -w /work plinth build recipes/microkit-hello
#
# The apt-get list below is exactly the Debian packages of `plinth doctor`
# (internal/doctor/tools.yaml); a test keeps the two in step.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false -o /out/plinth ./cmd/plinth

FROM debian:bookworm
ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8
RUN apt-get update && apt-get install -y --no-install-recommends \
        cargo-web \
        clang \
        cmake \
        device-tree-compiler \
        gcc \
        gcc-aarch64-linux-gnu \
        gcc-riscv64-linux-gnu \
        git \
        libxml2-utils \
        lld \
        llvm \
        make \
        ninja-build \
        picolibc-aarch64-linux-gnu \
        python3 \
        python3-future \
        python3-jinja2 \
        python3-jsonschema \
        python3-lxml \
        python3-ply \
        python3-six \
        python3-yaml \
        qemu-system-arm \
        ipxe-qemu \
        graphviz \
        qemu-system-misc \
        qemu-system-x86 \
        rustc-web \
        rust-web-src \
        swtpm \
        swtpm-tools \
        u-boot-tools \
        xz-utils \
        zstd \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/plinth /usr/local/bin/plinth
ENTRYPOINT ["plinth"]
