"""The driver image's install, reproduced without a Docker engine, at current and floor versions.

There is no Docker engine here (``docker build`` cannot run), so the test reads the
``Dockerfile`` and replays its build: the build stage's ``COPY`` lines make the same build
context in a temp dir, its ``RUN pip wheel`` line builds the same wheels (``/wheels`` mapped
to a temp dir; ``--no-cache-dir`` dropped so pip's cache spares the network: it changes no
wheel), and the final stage's ``RUN pip install`` line installs them into a clean venv that
has only the runtime dependencies. From that venv (cwd outside the checkout, so nothing of the
repo leaks in) the driver must:

* answer ``dra plugin run --help``, the image's entrypoint;
* say in one line, exit 2, how to get ``dra sim`` (the image has no simulator);
* run ``dra plugin run`` with a built-in GPU profile against the stand-in API server
  (``dra.testing.apiserver.FakeApiServer``, reached through a kubeconfig as in a cluster)
  and publish its ResourceSlices;
* find the DeviceClasses as package data.

The same checks run a second time in a venv where the wheel is installed with
``-c constraints-floor.txt`` (every runtime dependency at the floor pyproject.toml declares),
which also imports every ``dra`` module: a floor that is not true fails here.

Needs the package index (PyPI) for the dependencies, as ``docker build`` does.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
import yaml

from dra.testing.apiserver import FakeApiServer

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
FLOORS = ROOT / "constraints-floor.txt"
NODE = "node-img"
SIM_ONLY = ("simpy", "matplotlib", "tqdm")

pytestmark = pytest.mark.slow


# ------------------------------------------------------------------------------ Dockerfile

def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#")))
    out = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), " ".join(rest.split())))
    return out


def stages() -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for word, rest in _instructions(DOCKERFILE.read_text()):
        if word == "FROM":
            result.append([])
        if result:
            result[-1].append((word, rest))
    return result


def build_stage_copies() -> list[tuple[list[str], str]]:
    """(sources, destination) of the build stage's COPY lines (relative to WORKDIR /src)."""
    copies = []
    for word, rest in stages()[0]:
        if word == "COPY":
            assert not rest.startswith("--"), f"unexpected COPY flags in the build stage: {rest}"
            *sources, dest = rest.split()
            copies.append((sources, dest))
    return copies


def run_line(stage: int, program: str) -> list[str]:
    """The argv of ``program`` (e.g. ``pip wheel``) in a RUN of ``stage``, up to the first ``&&``."""
    for word, rest in stages()[stage]:
        if word == "RUN" and rest.startswith(program):
            return shlex.split(rest.split("&&")[0])
    raise AssertionError(f"no `RUN {program}` in stage {stage} of the Dockerfile")


def make_context(dest: Path) -> Path:
    """Lay out WORKDIR /src as the build stage's COPY lines do (dest ``./`` or ``./<dir>``)."""
    import shutil

    for sources, target in build_stage_copies():
        for source in sources:
            src = ROOT / source
            assert src.exists(), f"Dockerfile copies missing {source}"
            if target.endswith("/"):  # COPY a b ./  -> each into the directory
                out = dest / target / src.name
            else:  # COPY dir ./dir  (one source)
                assert len(sources) == 1, f"COPY of several sources needs a directory: {target}"
                out = dest / target
            out.parent.mkdir(parents=True, exist_ok=True)
            if src.is_dir():
                shutil.copytree(src, out, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                shutil.copy2(src, out)
    return dest


# ------------------------------------------------------------------------------ fixtures

def _run(argv: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=900, **kw)


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("image")
    context = make_context(tmp / "src")
    wheels = tmp / "wheels"
    argv = [a for a in run_line(0, "pip wheel") if a != "--no-cache-dir"]
    argv = [str(wheels) if a == "/wheels" else a for a in argv]
    assert argv[:2] == ["pip", "wheel"]
    done = _run([sys.executable, "-m", *argv], cwd=context)
    assert done.returncode == 0, done.stderr[-3000:]
    return wheels


def _venv(path: Path) -> Path:
    """A clean venv without pip: this interpreter's pip installs into it (``pip --python``)."""
    done = _run([sys.executable, "-m", "venv", "--without-pip", str(path)])
    assert done.returncode == 0, done.stderr
    return path / "bin"


def _pip(bin_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "pip", "--python", str(bin_dir / "python"), *args]


@pytest.fixture(scope="module")
def image_venv(wheelhouse, tmp_path_factory) -> Path:
    """The final stage's install, verbatim but for the wheel directory."""
    bin_dir = _venv(tmp_path_factory.mktemp("venv-image") / "venv")
    argv = [a for a in run_line(-1, "pip install") if a != "--no-cache-dir"]
    argv = [str(wheelhouse) if a == "/wheels" else a for a in argv]
    assert argv[:2] == ["pip", "install"]
    # --no-compile: skip writing .pyc files (minutes for the kubernetes client on a busy CI
    # machine); what gets installed is the same.
    done = _run(_pip(bin_dir, "install", "--no-compile", *argv[2:]), cwd=wheelhouse)
    assert done.returncode == 0, done.stderr[-3000:]
    return bin_dir


@pytest.fixture(scope="module")
def floor_venv(wheelhouse, tmp_path_factory) -> Path:
    """The same wheel with every runtime dependency at its declared floor."""
    bin_dir = _venv(tmp_path_factory.mktemp("venv-floor") / "venv")
    ours = next(wheelhouse.glob("dra_gpu-*.whl"))
    done = _run(_pip(bin_dir, "install", "-q", "--no-compile", "-c", str(FLOORS), str(ours)), cwd=wheelhouse)
    assert done.returncode == 0, done.stderr[-3000:]
    return bin_dir


@pytest.fixture(params=["image", "floor"])
def venv(request) -> Path:
    return request.getfixturevalue(f"{request.param}_venv")


def _installed(bin_dir: Path) -> dict[str, str]:
    done = _run(_pip(bin_dir, "list", "--format=json"))
    assert done.returncode == 0, done.stderr
    import json

    return {_norm(p["name"]): p["version"] for p in json.loads(done.stdout)}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# ------------------------------------------------------------------------------ tests

def test_dockerfile_base_is_pinned_and_user_is_not_root():
    text = DOCKERFILE.read_text()
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.M)
    assert base, "the base image is one ARG used by every stage"
    assert re.fullmatch(r"python:3\.\d+\.\d+-slim-\w+@sha256:[0-9a-f]{64}", base.group(1)), base.group(1)
    froms = [rest.split()[0] for stage in stages() for word, rest in stage if word == "FROM"]
    assert froms == ["${PYTHON_IMAGE}", "${PYTHON_IMAGE}"]
    final = dict(stages()[-1])
    assert final["USER"].split(":")[0] not in ("0", "root")
    assert final["ENTRYPOINT"] == '["dra", "plugin", "run"]'


def test_build_context_is_the_driver_only():
    sources = sorted(s for sources, _ in build_stage_copies() for s in sources)
    assert sources == ["LICENSE", "README.md", "dra", "pyproject.toml"]


def test_wheel_holds_the_driver_and_no_simulator(wheelhouse):
    import zipfile

    ours = next(wheelhouse.glob("dra_gpu-*.whl"))
    names = zipfile.ZipFile(ours).namelist()
    assert not [n for n in names if n.startswith("simulator/")]
    assert "dra/py.typed" in names and "dra/data/deviceclasses.yaml" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    from dra import __version__

    assert ours.name.startswith(f"dra_gpu-{__version__}-")


def test_image_has_only_runtime_dependencies(image_venv):
    installed = _installed(image_venv)
    assert "dra-gpu" in installed
    for name in (*SIM_ONLY, "pytest", "hypothesis", "grpcio-tools", "kubernetes-validate", "dask"):
        assert name not in installed, f"{name} is not a runtime dependency of the driver"


def test_floor_venv_is_at_the_floors(floor_venv):
    installed = _installed(floor_venv)
    for name, version in _floors().items():
        assert installed[name] == version, (name, installed[name])


def test_floors_match_pyproject():
    declared = {}
    for dep in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]:
        m = re.fullmatch(r"([A-Za-z0-9_.-]+)>=([^,]+)(,.*)?", dep)
        assert m, f"runtime dependency without a floor: {dep}"
        declared[_norm(m.group(1))] = m.group(2)
    assert declared == _floors()


def _floors() -> dict[str, str]:
    pins = {}
    for line in FLOORS.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[_norm(name)] = version
    return pins


def test_plugin_help(venv, tmp_path):
    done = _run([str(venv / "dra"), "plugin", "run", "--help"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "--node-name" in done.stdout and "--kubeconfig" in done.stdout


def test_sim_without_the_simulator_says_how_to_get_it(venv, tmp_path):
    done = _run([str(venv / "dra"), "sim", "compare", "--embedded-default"], cwd=tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install 'dra-gpu[sim]'" in lines[0], done.stderr
    # The other subcommands are all there.
    help_text = _run([str(venv / "dra"), "--help"], cwd=tmp_path)
    assert help_text.returncode == 0
    for command in ("allocate", "inventory", "plugin", "slices", "sim"):
        assert command in help_text.stdout


def test_deviceclasses_are_package_data(venv, tmp_path):
    code = "from dra.data import deviceclasses_text; import sys; sys.stdout.write(deviceclasses_text())"
    done = _run([str(venv / "python"), "-c", code], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == (ROOT / "manifests" / "deviceclasses.yaml").read_text()


def test_every_dra_module_imports(venv, tmp_path):
    """Catches a floor that lacks an API we call at import time (test-only deps excepted)."""
    code = """
import importlib, pkgutil, sys, dra
test_only = {"hypothesis", "kubernetes_validate", "pytest", "celexpr", "cel_expr_python", "grpc_tools"}
bad = []
for mod in pkgutil.walk_packages(dra.__path__, "dra."):
    try:
        importlib.import_module(mod.name)
    except ModuleNotFoundError as err:
        if (err.name or "").split(".")[0] not in test_only:
            bad.append(f"{mod.name}: {err}")
    except Exception as err:
        bad.append(f"{mod.name}: {type(err).__name__}: {err}")
print("\\n".join(bad))
sys.exit(1 if bad else 0)
"""
    done = _run([str(venv / "python"), "-c", code], cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]


def test_plugin_publishes_to_the_api_server(venv, tmp_path):
    with FakeApiServer() as api:
        api.put_object({"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE}})
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {"server": api.url}}],
            "users": [{"name": "u", "user": {}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "u"}}],
        }))
        log = tmp_path / "plugin.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBE", "NODE_NAME", "PYTHONPATH"))}
        with open(log, "wb") as err:
            proc = subprocess.Popen(
                [str(venv / "dra"), "plugin", "run", "--node-name", NODE, "--profile", "h100-x2",
                 "--kubeconfig", str(kubeconfig), "--registrar-dir", str(tmp_path / "registry"),
                 "--plugins-dir", str(tmp_path / "plugins"), "--cdi-root", str(tmp_path / "cdi"),
                 "--http-port", "-1", "--log-format", "json"],
                cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=err)
        try:
            deadline = time.monotonic() + 60
            devices: list[str] = []
            while not devices and time.monotonic() < deadline and proc.poll() is None:
                devices = [d["name"] for s in api.objects("ResourceSlice") for d in s["spec"].get("devices") or ()]
                time.sleep(0.1)
            assert devices, f"no slices published (rc={proc.poll()}): {log.read_text()[-2000:]}"
            slices = api.objects("ResourceSlice")
            assert {s["spec"]["nodeName"] for s in slices} == {NODE}
            assert len(devices) == 2
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(30)
