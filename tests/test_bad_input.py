"""Bad input, as a table: every row is something a user types or gives us, and the answer must
be one ``error:`` line naming the place, exit status 2, and no traceback.

Rows are ``(id, argv, expected substring)``. ``argv`` runs in a temporary directory that holds
the files of :data:`FILES` (claims with mistakes the API server refuses, a binary file, an empty
directory, ...), plus ``slices.yaml`` (slices of two T4s on node n1) and the repository's
DeviceClasses as ``classes.yaml``. ``STDIN:<text>`` as the first element feeds standard input.

"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from dra.cli import main

ROOT = Path(__file__).resolve().parent.parent


def _claim(meta: str, requests: str, extra: str = "") -> str:
    return (
        "apiVersion: resource.k8s.io/v1\nkind: ResourceClaim\n"
        f"metadata: {{{meta} namespace: default}}\n"
        f"spec:\n  devices:\n    requests:\n{requests}\n{extra}"
    )


GPU = "deviceClassName: gpu.nvidia.com"
FILES: dict[str, str | bytes | None] = {
    "count0.yaml": _claim("name: c,", f"    - {{name: gpu, exactly: {{{GPU}, allocationMode: ExactCount, count: 0}}}}"),
    "ok.yaml": _claim("name: c,", f"    - {{name: gpu, exactly: {{{GPU}}}}}"),
    "countm1.yaml": _claim("name: c,", f"    - {{name: gpu, exactly: {{{GPU}, count: -1}}}}"),
    "dup.yaml": _claim("name: c,", f"    - {{name: gpu, exactly: {{{GPU}}}}}\n    - {{name: gpu, exactly: {{{GPU}}}}}"),
    "noname.yaml": _claim("", f"    - {{name: gpu, exactly: {{{GPU}}}}}"),
    "matchattr.yaml": _claim("name: c,", f"    - {{name: gpu, exactly: {{{GPU}, count: 2}}}}",
                             "    constraints:\n    - {matchAttribute: 'not a name!'}\n"),
    "badcel.yaml": _claim("name: c,", f"    - {{name: gpu, exactly: {{{GPU}, selectors: [{{cel: {{expression: 'device.x +'}}}}]}}}}"),
    "noclass.yaml": _claim("name: c,", "    - {name: gpu, exactly: {deviceClassName: nope.example.com}}"),
    "badreqname.yaml": _claim("name: c,", f"    - {{name: 'GPU_1', exactly: {{{GPU}}}}}"),
    "badclass.yaml": "apiVersion: resource.k8s.io/v1\nkind: DeviceClass\nmetadata: {name: Bad_Class}\nspec: {}\n",
    "unknownkind.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n",
    "syntax.yaml": "apiVersion: resource.k8s.io/v1\nkind: ResourceClaim\nmetadata: {name: c\n",
    "unknownfield.yaml": "apiVersion: resource.k8s.io/v1\nkind: ResourceClaim\nmetadata: {name: c}\nspec: {devicez: {}}\n",
    "binary.yaml": bytes(range(256)) * 4,
    "emptydir/": None,
    "notes/readme.txt": "not a manifest\n",
    "nvlink-true.yaml": "model: H100\ncount: 4\nnvlink: true\n",
    "count-neg.yaml": "model: H100\ncount: -1\n",
    "unknown-model.yaml": "model: Z900\ncount: 2\n",
    "trace-badmig.csv": "name,cpu,memory,gpus,mig_profile\np1,1,1Gi,1,9g.99gb\n",
    "trace-text.csv": "name,cpu,memory,gpus\np1,1,1Gi,one\n",
    "fleet-bad.yaml": "nodes: [{shape: dgx-h999, count: 1}]\n",
}

CLAIMS = ["-f", "classes.yaml", "-f", "slices.yaml"]
SIM = ["--nodes", "inference-l4-t4", "--pods", "synthetic:20:1", "--no-progress"]

CASES = [
    # -- dra allocate: API validation of what the user gives, as the API server does it --------
    pytest.param(["allocate", *CLAIMS, "-f", "countm1.yaml"], "count: Invalid value: -1", id="claim-count-negative"),
    pytest.param(["allocate", *CLAIMS, "-f", "dup.yaml"], 'requests[1]: Duplicate value: "gpu"', id="claim-duplicate-request"),
    pytest.param(["allocate", *CLAIMS, "-f", "noname.yaml"], "metadata.name: Required value", id="claim-without-name"),
    pytest.param(["allocate", *CLAIMS, "-f", "matchattr.yaml"], "constraints[0].matchAttribute: Invalid value",
                 id="claim-invalid-matchAttribute"),
    pytest.param(["allocate", *CLAIMS, "-f", "badreqname.yaml"], "requests[0].name: Invalid value", id="claim-invalid-request-name"),
    pytest.param(["allocate", *CLAIMS, "-f", "badcel.yaml"], "CEL compile error", id="claim-invalid-cel"),
    pytest.param(["allocate", *CLAIMS, "-f", "noclass.yaml"], "could not retrieve device class nope.example.com",
                 id="claim-unknown-class"),
    pytest.param(["allocate", "-f", "badclass.yaml", "-f", "slices.yaml", "-f", "countm1.yaml"],
                 "DeviceClass Bad_Class is invalid: metadata.name", id="class-invalid-name"),
    pytest.param(["allocate", *CLAIMS, "-f", "unknownkind.yaml"], 'unknown kind "apps/v1/Deployment"', id="unknown-kind"),
    pytest.param(["allocate", *CLAIMS, "-f", "syntax.yaml"], "syntax.yaml:", id="yaml-syntax-error"),
    pytest.param(["allocate", *CLAIMS, "-f", "unknownfield.yaml"], "devicez", id="unknown-field"),
    pytest.param(["allocate", *CLAIMS, "-f", "binary.yaml"], "binary.yaml: binary file", id="binary-manifest"),
    pytest.param(["allocate", *CLAIMS, "-f", "emptydir"], "emptydir: directory has no .yaml", id="directory-without-manifests"),
    pytest.param(["allocate", *CLAIMS, "-f", "notes"], "notes: directory has no .yaml", id="directory-of-other-files"),
    pytest.param(["allocate", *CLAIMS, "-f", "missing.yaml"], "missing.yaml: no such file or directory", id="missing-file"),
    pytest.param(["allocate", *CLAIMS], "nothing to allocate", id="no-claims"),
    pytest.param(["STDIN:", "allocate", "-f", "-", "-f", "-"], "standard input can be given only once", id="stdin-twice"),
    pytest.param(["STDIN:kind: [", "allocate", "-f", "-"], "<stdin>", id="stdin-syntax-error"),
    pytest.param(["allocate", *CLAIMS, "-f", "ok.yaml", "--allocated", "binary.yaml"], "binary.yaml: binary file",
                 id="allocated-binary"),
    pytest.param(["allocate", *CLAIMS, "-f", "dup.yaml", "-o", "table"], "invalid choice: 'table'", id="allocate-bad-output"),
    pytest.param(["allocate"], "the following arguments are required: -f/--filename", id="allocate-no-filename"),
    # -- dra slices / inventory: profiles, recordings, flags ----------------------------------
    pytest.param(["slices", "--profile", "t4-x1", "--driver", "Bad_Driver!"], "--driver-name: 'Bad_Driver!' is not a valid driver name",
                 id="slices-invalid-driver"),
    pytest.param(["slices", "--profile", "t4-x1", "--driver", "a" * 64 + ".com"], "is not a valid driver name", id="slices-driver-too-long"),
    pytest.param(["slices", "--profile", "t4-x1", "--generation", "-1"], "--generation: must be 0 or more", id="slices-negative-generation"),
    pytest.param(["slices", "--profile", "t4-x1", "--kubernetes-version", "1.20"], "1.20", id="slices-old-version"),
    pytest.param(["slices", "--profile", "t4-x1", "--kubernetes-version", "banana"], "banana", id="slices-bad-version"),
    pytest.param(["slices", "--profile", "t4-x1", "--mode", "half"], "invalid choice: 'half'", id="slices-bad-mode"),
    pytest.param(["slices", "--profile", "h100-x0"], "0 GPUs per node", id="profile-zero-gpus"),
    pytest.param(["slices", "--profile", "h100-x999"], "999 GPUs per node", id="profile-999-gpus"),
    pytest.param(["slices", "--profile", "nvlink-true.yaml"], "nvlink: expected", id="profile-nvlink-true"),
    pytest.param(["slices", "--profile", "count-neg.yaml"], "count: expected a non-negative integer", id="profile-negative-count"),
    pytest.param(["slices", "--profile", "unknown-model.yaml"], "Z900", id="profile-unknown-model"),
    pytest.param(["slices", "--profile", "binary.yaml"], "binary.yaml: binary file", id="profile-binary"),
    pytest.param(["slices", "--profile", "emptydir"], "emptydir: is a directory", id="profile-directory"),
    pytest.param(["inventory", "--profile", "nope"], "unknown profile 'nope'", id="profile-unknown-name"),
    pytest.param(["inventory", "--replay", "binary.yaml"], "binary.yaml: binary file", id="replay-binary"),
    pytest.param(["inventory", "--replay", "emptydir"], "emptydir: is a directory", id="replay-directory"),
    pytest.param(["inventory", "--replay", "count0.yaml"], "count0.yaml", id="replay-not-a-recording"),
    pytest.param(["inventory", "--record", "nodir/rec.json"], "--record nodir/rec.json: directory nodir does not exist",
                 id="record-path-checked-first"),
    pytest.param(["inventory", "--record", "emptydir"], "--record emptydir: is a directory", id="record-to-directory"),
    pytest.param(["inventory", "-o", "xml", "--profile", "t4-x1"], "invalid choice: 'xml'", id="inventory-bad-output"),
    # -- dra plugin ----------------------------------------------------------------------------
    pytest.param(["plugin", "run", "--node-name", "n", "--plugins-dir", "rel/plugins"], "--plugins-dir: 'rel/plugins' is not an absolute path",
                 id="plugin-relative-plugins-dir"),
    pytest.param(["plugin", "run", "--node-name", "n", "--driver-name", "GPU"], "--driver-name: 'GPU' is not a valid driver name",
                 id="plugin-invalid-driver-name"),
    pytest.param(["plugin", "run", "--node-name", "n", "--kubernetes-version", "1.20"], "--kubernetes-version", id="plugin-old-version"),
    pytest.param(["plugin", "run", "--node-name", "n", "--log-format", "xml"], "invalid choice: 'xml'", id="plugin-bad-log-format"),
    pytest.param(["plugin", "run", "--node-name", "n", "--http-port", "eighty"], "invalid int value: 'eighty'", id="plugin-bad-port"),
    pytest.param(["plugin", "checkpoint", "--plugins-dir", "nodir"], "--plugins-dir nodir: no such directory", id="checkpoint-missing-dir"),
    # -- dra conformance -----------------------------------------------------------------------
    pytest.param(["conformance", "cel", "binary.yaml"], "binary.yaml: binary file", id="conformance-cel-binary"),
    pytest.param(["conformance", "cel", "emptydir"], "emptydir: is a directory", id="conformance-cel-directory"),
    pytest.param(["conformance", "allocator", "missing"], "missing: no such file or directory", id="conformance-allocator-missing"),
    # -- dra itself ----------------------------------------------------------------------------
    pytest.param(["frobnicate"], "invalid choice: 'frobnicate'", id="unknown-subcommand"),
    # -- dra sim (the simulator's own checks) --------------------------------------------------
    pytest.param(["sim", "replay", "--nodes", "inference-l4-t4", "--pods", "binary.yaml", "--no-progress"], "binary.yaml",
                 id="sim-binary-trace"),
    pytest.param(["sim", "replay", "--nodes", "emptydir", "--pods", "synthetic:20:1", "--no-progress"], "emptydir",
                 id="sim-directory-as-nodes"),
    pytest.param(["sim", "replay", "--nodes", "fleet-bad.yaml", "--pods", "synthetic:20:1", "--no-progress"], "dgx-h999",
                 id="sim-fleet-unknown-shape"),
    pytest.param(["sim", "replay", "--nodes", "binary.yaml", "--pods", "synthetic:20:1", "--no-progress"], "binary.yaml",
                 id="sim-binary-fleet"),
    pytest.param(["sim", "replay", *SIM, "--json", "emptydir"], "emptydir", id="sim-json-to-directory"),
    pytest.param(["sim", "replay", *SIM, "-o", "emptydir"], "emptydir", id="sim-output-is-a-directory"),
    pytest.param(["sim", "compare", *SIM, "--placements", "dra", "--policies", "bestfit", "--out", "binary.yaml"], "binary.yaml",
                 id="sim-compare-out-is-a-file"),
    pytest.param(["sim", "replay", *SIM, "--placement", "mig-mixed", "--mig-fraction", "2"], "--mig-fraction",
                 id="sim-mig-fraction-2"),
    pytest.param(["sim", "replay", "--nodes", "inference-l4-t4", "--pods", "trace-badmig.csv", "--no-progress",
                  "--placement", "mig-mixed"], "9g.99gb", id="sim-trace-unknown-mig-profile"),
    pytest.param(["sim", "replay", "--nodes", "inference-l4-t4", "--pods", "trace-text.csv", "--no-progress"], "trace-text.csv:2",
                 id="sim-trace-bad-number"),
    pytest.param(["sim", "replay", "--nodes", "inference-l4-t4", "--pods", "missing.csv", "--no-progress"], "missing.csv",
                 id="sim-missing-trace"),
    pytest.param(["sim", "replay", *SIM, "--policy", "bestfitt"], "did you mean 'bestfit'", id="sim-unknown-policy"),
    pytest.param(["sim", "replay", *SIM, "--seeds", "a-b"], "a-b", id="sim-bad-seeds"),
    pytest.param(["sim", "replay", *SIM, "--placement", "gpu-magic"], "gpu-magic", id="sim-unknown-placement"),
]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, content in FILES.items():
        path = tmp_path / name
        if content is None:
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    shutil.copy(ROOT / "manifests" / "deviceclasses.yaml", tmp_path / "classes.yaml")
    from dra.api.io import dump_yaml
    from dra.gpu.builtin import load_profile
    from dra.slices import build_slices

    (tmp_path / "slices.yaml").write_text(dump_yaml(build_slices(load_profile("t4-x2", "n1"), mode="whole")))
    monkeypatch.chdir(tmp_path)
    for var in ("NODE_NAME", "KUBECONFIG", "LOG_FORMAT", "LOG_LEVEL", "LOG_V"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


@pytest.mark.parametrize("argv, expected", CASES)
def test_bad_input_is_one_line_and_exit_2(argv: list[str], expected: str, workdir: Path,
                                          monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    if argv[0].startswith("STDIN:"):
        monkeypatch.setattr("sys.stdin", io.StringIO(argv[0][len("STDIN:"):]))
        argv = argv[1:]
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    assert code == 2, err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1, err
    assert expected in errors[0], err
    # Nothing was written where an output was refused.
    assert not (workdir / "nodir").exists()


def test_count_zero_is_defaulted_to_one_as_the_api_server_does(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Not bad input: the API server defaults ``count: 0`` to 1 (SetDefaults_ExactDeviceRequest),
    so the claim gets one device -- never "allocated" with none."""
    code = main(["allocate", *CLAIMS, "-f", "count0.yaml", "-o", "json"])
    out = capsys.readouterr().out
    assert code == 0, out
    import json

    claims = json.loads(out)["items"]
    assert len(claims[-1]["status"]["allocation"]["devices"]["results"]) == 1
