#!/usr/bin/env bash
# make gpu-check: prove the driver on a machine with an NVIDIA GPU, end to end, in < 10 min.
#
# Records `dra inventory --record`, publishes the node's slices, prepares a whole GPU (and a
# MIG device where MIG is enabled) through the kubelet stand-in, checks every path of the CDI
# spec on the host, runs the spec's nvidia-smi with the spec's environment and libraries,
# and unprepares. On a machine without a GPU it exits 1 with one line saying why.
#
# Environment: NVIDIA_DRIVER_ROOT (default /), DRIVER_ROOT_MOUNT (default: the same),
# KUBECONFIG (a real control plane to publish to; default: the stand-in API server, said so),
# GPU_CHECK_OUT (where the record and the report go; default a temporary directory),
# PYTHON (default .venv/bin/python).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY=python3
exec timeout --kill-after=10 570 "$PY" hack/gpu-check.py "$@"
