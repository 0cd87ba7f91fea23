# Every target creates the virtual environment it needs, so a fresh clone works with one command.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench protos clean k8s

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,dask]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/dra sim compare --embedded-default

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m benchmarks

# Upstream etcd, kube-apiserver, kube-scheduler and kube-controller-manager of every supported
# minor, built from Go modules into $${DRA_GPU_CACHE:-~/.cache/dra-gpu} (cached; see docs/real-kubernetes.md).
# One minor: make k8s K8S_VERSION=1.37
K8S_VERSION ?= all
k8s: $(STAMP)
	nice -n 10 $(BIN)/python -m dra.testing.cluster.build --kubernetes-version $(K8S_VERSION)

protos: $(STAMP)
	$(BIN)/python -m dra.plugin.protos.generate

clean:
	rm -rf $(VENV) build *.egg-info
