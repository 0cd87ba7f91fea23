# Every target creates the virtual environment it needs, so a fresh clone works with one command.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench protos clean sync-manifests fuzz gpu-check k8s

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,sim,dask]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/dra sim compare --embedded-default

test: $(STAMP)
	$(BIN)/python -m pytest

# Differential fuzzing of dra.allocator against the upstream allocator library (needs Go):
# FUZZ_EXAMPLES generated problems per Kubernetes version (half with the version's default
# gates, half with every gate on), fresh random seeds, disagreements written to fuzz-failures/;
# and a fifth as many fresh DRA CEL cases per version against upstream's CEL.
FUZZ_EXAMPLES ?= 10000
fuzz: $(STAMP)
	ORACLE_EXAMPLES=$$(( $(FUZZ_EXAMPLES) / 2 )) FUZZ_EXAMPLES=$$(( $(FUZZ_EXAMPLES) / 5 )) ORACLE_RANDOM=1 DRA_ORACLE_FAILURES=fuzz-failures \
		nice -n 10 $(BIN)/python -m pytest tests/test_oracle_allocator.py tests/test_oracle_cel.py -q -s -p no:cacheprovider

bench: $(STAMP)
	$(BIN)/python -m benchmarks

# Upstream etcd, kube-apiserver, kube-scheduler and kube-controller-manager of every supported
# minor, and helm, built from Go modules into $${DRA_GPU_CACHE:-~/.cache/dra-gpu} (cached; see docs/real-kubernetes.md).
# One minor: make k8s K8S_VERSION=1.37
K8S_VERSION ?= all
k8s: $(STAMP)
	nice -n 10 $(BIN)/python -m dra.testing.cluster.build --kubernetes-version $(K8S_VERSION)
	nice -n 10 $(BIN)/python -m dra.testing.helm

protos: $(STAMP)
	$(BIN)/python -m dra.plugin.protos.generate

# manifests/deviceclasses.yaml is the source of truth; the package (dra/data, for wheel
# installs) and the Helm chart (no symlinks out of a chart) carry byte-identical copies.
sync-manifests:
	cp manifests/deviceclasses.yaml dra/data/deviceclasses.yaml
	cp manifests/deviceclasses.yaml manifests/helm/dra-gpu-driver/files/deviceclasses.yaml

# On a machine with an NVIDIA GPU: inventory, publish, prepare a GPU (and a MIG device), check
# the CDI spec on the host, run its nvidia-smi, unprepare. Without a GPU: exit 1, one line.
gpu-check: $(STAMP)
	PYTHON=$(BIN)/python hack/gpu-check.sh

clean:
	rm -rf $(VENV) build *.egg-info
