# Every target creates the virtual environment it needs, so a fresh clone works with one command.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench protos clean sync-manifests

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,sim,dask]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/dra sim compare --embedded-default

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m benchmarks

protos: $(STAMP)
	$(BIN)/python -m dra.plugin.protos.generate

# manifests/deviceclasses.yaml is the source of truth; the package (dra/data, for wheel
# installs) and the Helm chart (no symlinks out of a chart) carry byte-identical copies.
sync-manifests:
	cp manifests/deviceclasses.yaml dra/data/deviceclasses.yaml
	cp manifests/deviceclasses.yaml manifests/helm/dra-gpu-driver/files/deviceclasses.yaml

clean:
	rm -rf $(VENV) build *.egg-info
