"""Loading and dumping Kubernetes objects: YAML/JSON/List/directories, file:line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dra.api import DeviceClass, Node, Quantity, ResourceClaim, ResourceSlice
from dra.api.io import LoadError, dump_json, dump_yaml, load_objects, load_objects_from_text, parse_object
from dra.errors import UserError

DOCS = """\
apiVersion: resource.k8s.io/v1
kind: DeviceClass
metadata:
  name: gpu.nvidia.com
spec:
  selectors:
  - cel:
      expression: device.driver == "gpu.nvidia.com"
---
# a comment between documents
apiVersion: resource.k8s.io/v1
kind: ResourceSlice
metadata:
  name: node-1-gpu
  creationTimestamp: 2025-01-02T03:04:05Z
spec:
  driver: gpu.nvidia.com
  nodeName: node-1
  pool: {name: node-1, generation: 1, resourceSliceCount: 1}
  devices:
  - name: gpu-0
    capacity:
      memory:
        value: 80Gi
      sms:
        value: 132
---
---
apiVersion: v1
kind: Node
metadata:
  name: node-1
  labels: {nvidia.com/gpu.present: "true"}
"""


def test_multi_document_yaml() -> None:
    objs = load_objects_from_text(DOCS, "docs.yaml")
    assert [type(o) for o in objs] == [DeviceClass, ResourceSlice, Node]
    s = objs[1]
    assert isinstance(s, ResourceSlice)
    assert s.metadata.creation_timestamp == "2025-01-02T03:04:05Z"
    assert s.spec.devices[0].capacity["sms"].value == Quantity("132")  # YAML number accepted
    assert objs[2].labels == {"nvidia.com/gpu.present": "true"}


def test_dump_yaml_round_trip() -> None:
    objs = load_objects_from_text(DOCS, "docs.yaml")
    text = dump_yaml(objs)
    again = load_objects_from_text(text, "dumped.yaml")
    assert again == objs
    assert text.count("---") == 3
    assert "value: 80Gi" in text
    # A single object is written without a document marker.
    assert not dump_yaml(objs[0]).startswith("---")


def test_dump_json_single_and_list() -> None:
    objs = load_objects_from_text(DOCS, "docs.yaml")
    single = json.loads(dump_json(objs[0]))
    assert single["kind"] == "DeviceClass"
    listed = json.loads(dump_json(objs))
    assert listed["kind"] == "List" and len(listed["items"]) == 3
    assert load_objects_from_text(dump_json(objs), "x.json") == objs


def test_json_array_and_kind_list(tmp_path: Path) -> None:
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"}}
    arr = tmp_path / "a.json"
    arr.write_text(json.dumps([node, node]))
    assert [o.name for o in load_objects(arr)] == ["n", "n"]  # type: ignore[attr-defined]
    lst = tmp_path / "b.yaml"
    lst.write_text("apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Node\n  metadata: {name: m}\n")
    assert [o.name for o in load_objects(lst)] == ["m"]  # type: ignore[attr-defined]


def test_directory_in_name_order(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text("apiVersion: v1\nkind: Node\nmetadata: {name: b}\n")
    (tmp_path / "a.yml").write_text("apiVersion: v1\nkind: Node\nmetadata: {name: a}\n")
    (tmp_path / "c.json").write_text('{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "c"}}')
    (tmp_path / "notes.txt").write_text("ignored")
    assert [o.name for o in load_objects(tmp_path)] == ["a", "b", "c"]  # type: ignore[attr-defined]


def test_unknown_field_reports_file_and_line() -> None:
    bad = DOCS.replace("    capacity:", "    capacty:")
    with pytest.raises(LoadError) as info:
        load_objects_from_text(bad, "slices.yaml")
    assert str(info.value) == 'slices.yaml:22: spec.devices[0]: unknown field "capacty"'


def test_invalid_quantity_reports_line() -> None:
    bad = DOCS.replace("value: 80Gi", "value: 80GB")
    with pytest.raises(LoadError) as info:
        load_objects_from_text(bad, "slices.yaml")
    msg = str(info.value)
    assert msg.startswith('slices.yaml:24: spec.devices[0].capacity["memory"].value: Invalid value: "80GB": ')
    assert "quantities must match the regular expression" in msg


def test_malformed_yaml_reports_line_and_column() -> None:
    with pytest.raises(LoadError) as info:
        load_objects_from_text("apiVersion: v1\nkind: Node\nmetadata:\n  name: [unclosed\n", "bad.yaml")
    msg = str(info.value)
    assert msg.startswith("bad.yaml:5:1: invalid YAML:") or msg.startswith("bad.yaml:4:")
    assert "\n" not in msg
    with pytest.raises(LoadError, match=r"^bad.yaml:2:3: invalid YAML"):
        load_objects_from_text("a: b\n c: d\n", "bad.yaml")


def test_malformed_json_reports_line() -> None:
    with pytest.raises(LoadError, match=r"^x.json:2:13: invalid JSON: Expecting value"):
        load_objects_from_text('{"kind":\n  "a", "b": }', "x.json")


def test_unknown_kind_lists_known_kinds() -> None:
    with pytest.raises(LoadError) as info:
        load_objects_from_text(DOCS + "---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\n", "f.yaml")
    msg = str(info.value)
    assert msg.startswith('f.yaml:36: unknown kind "v1/Pod"')
    for known in ("resource.k8s.io/v1/ResourceSlice", "resource.k8s.io/v1/ResourceClaim", "v1/Node"):
        assert known in msg
    with pytest.raises(LoadError, match="kind: Required value"):
        parse_object({"apiVersion": "v1"}, "x")
    with pytest.raises(LoadError, match="older flattened shape"):
        parse_object({"apiVersion": "resource.k8s.io/v1beta1", "kind": "ResourceClaim"}, "x")
    with pytest.raises(LoadError, match="expected a Kubernetes object"):
        load_objects_from_text("- 1\n- 2\n", "x.yaml")


def test_v1beta2_loads_with_v1_models() -> None:
    obj = parse_object(
        {"apiVersion": "resource.k8s.io/v1beta2", "kind": "ResourceClaim", "metadata": {"name": "c"}, "spec": {}}, "x"
    )
    assert isinstance(obj, ResourceClaim)
    assert obj.to_dict()["apiVersion"] == "resource.k8s.io/v1beta2"


def test_missing_file_and_errors_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no such file"):
        load_objects(tmp_path / "missing.yaml")
    (tmp_path / "empty.yaml").write_text("")
    assert load_objects(tmp_path / "empty.yaml") == []


def test_repository_manifests_load() -> None:
    root = Path(__file__).resolve().parent.parent / "manifests"
    files = sorted(p for p in root.rglob("*.yaml") if "templates" not in p.parts) if root.exists() else []
    loaded = 0
    relevant = [p for p in files if "resource.k8s.io" in p.read_text()]
    if not relevant:
        pytest.skip("no resource.k8s.io manifests in the repository yet")
    for path in relevant:
        text = path.read_text()
        if "resource.k8s.io" not in text:
            continue
        try:
            objs = load_objects_from_text(text, str(path))
        except LoadError as exc:
            if "unknown kind" in str(exc):
                continue  # mixed manifests (RBAC, DaemonSet) hold kinds we do not model
            raise
        loaded += len(objs)
    assert loaded > 0


def test_stdin_and_model_pass_through(monkeypatch: pytest.MonkeyPatch) -> None:
    import io as _io

    monkeypatch.setattr("sys.stdin", _io.StringIO("apiVersion: v1\nkind: Node\nmetadata: {name: s}\n"))
    objs = load_objects("-")
    assert [o.name for o in objs] == ["s"]  # type: ignore[attr-defined]
    assert parse_object(objs[0]) is objs[0]


def test_duplicate_keys_are_refused_with_line() -> None:
    text = "apiVersion: v1\nkind: Node\nmetadata:\n  name: a\n  name: b\n"
    with pytest.raises(LoadError, match=r'^dup.yaml:5:3: invalid YAML: key "name" already set in map$'):
        load_objects_from_text(text, "dup.yaml")


def test_json_errors_name_the_line() -> None:
    text = json.dumps([{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "a"}},
                       {"apiVersion": "v1", "kind": "Node", "metadata": {"nam": "b"}}], indent=2)
    with pytest.raises(LoadError) as info:
        load_objects_from_text(text, "nodes.json")
    line = next(i for i, l in enumerate(text.splitlines(), 1) if '"nam"' in l)
    assert str(info.value) == f'nodes.json:{line}: metadata: unknown field "nam"'
