# Every target creates the virtual environment it needs, so a fresh clone works with one command.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench protos clean gpu-check

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

protos: $(STAMP)
	$(BIN)/python -m dra.plugin.protos.generate

# On a machine with an NVIDIA GPU: inventory, publish, prepare a GPU (and a MIG device), check
# the CDI spec on the host, run its nvidia-smi, unprepare. Without a GPU: exit 1, one line.
gpu-check: $(STAMP)
	PYTHON=$(BIN)/python hack/gpu-check.sh

clean:
	rm -rf $(VENV) build *.egg-info
