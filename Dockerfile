# syntax=docker/dockerfile:1
# Image of the DRA GPU driver's kubelet plugin (`dra plugin run`): the `dra` package and its
# runtime dependencies only -- no simulator, no matplotlib/simpy/tqdm (`dra sim` says how to
# get it), no test tools.
#   docker build -t ghcr.io/dra-gpu/dra-gpu-driver:0.1.0 .
#
# Base: Python 3.12.8 on Debian bookworm, slim variant, pinned by tag AND digest (the
# multi-arch index digest of that tag; re-check it with
# `docker buildx imagetools inspect python:3.12.8-slim-bookworm` when moving the pin).
# tests/test_image_install.py builds the same wheel from the same COPY lines (there is no
# Docker engine in CI) and runs the driver from a clean venv with only runtime dependencies.
#
# NVML, nvidia-smi and nvidia-cuda-mps-control come from the host's driver: the DaemonSet
# mounts the host driver root (nvidiaDriverRoot) read-only at /driver-root.
ARG PYTHON_IMAGE=python:3.12.8-slim-bookworm@sha256:2199a62885a12290dc9c5be3ca0681d367576ab7bf037da120e564723292a2f0

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY dra ./dra
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels dra-gpu \
 && rm -rf /wheels \
 && useradd --system --no-create-home --uid 65532 dra
# Non-root by default: `dra inventory`, `dra slices`, `dra allocate` and a plugin on a
# built-in profile need nothing more. The DaemonSet runs this image as root and privileged
# on GPU nodes (docs/deploy.md: kubelet plugin sockets, /dev/nvidia*, MIG and MPS need it).
USER 65532:65532
ENTRYPOINT ["dra", "plugin", "run"]
