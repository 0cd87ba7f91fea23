# Image of the DRA GPU driver's kubelet plugin (`dra plugin run`).
# Build: docker build -t ghcr.io/dra-gpu/dra-gpu-driver:0.1.0 .
# NVML comes from the host's driver (libnvidia-ml.so, made visible by the NVIDIA container
# runtime or a driver-root mount); nvidia-smi and nvidia-cuda-mps-control likewise.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY dra ./dra
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --system --uid 65532 dra \
 && pip install --no-cache-dir --upgrade pip
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
# Runs as root on the node (sockets in /var/lib/kubelet, GPU device nodes); the user above is
# for running the same image unprivileged with a built-in profile (demos, CI).
ENTRYPOINT ["dra", "plugin", "run"]
