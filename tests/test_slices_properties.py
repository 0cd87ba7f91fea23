"""Property tests: for any node (model, GPU count up to a few hundred, MIG layout, taints),
every mode and version gives a complete, valid pool within the API limits."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dra.api import DeviceTaint
from dra.api.validation import validate
from dra.gpu import builtin
from dra.gpu.catalog import GPU_MODELS
from dra.slices import MODES, build_slices
from dra.slices.builder import next_generation
from dra.testing.schema import schema_errors
from tests.test_slices_validation import check_pool

MODELS = sorted(GPU_MODELS)


@st.composite
def nodes(draw: st.DrawFn):  # noqa: ANN201
    model = GPU_MODELS[draw(st.sampled_from(MODELS))]
    count = draw(st.one_of(st.integers(0, 9), st.integers(60, 260)))
    layout = None
    if model.mig_capable and draw(st.booleans()):
        names = [p.name for p in model.mig_profiles]
        layout = draw(st.sampled_from(["all-balanced", *(f"all-{n}" for n in names)]))
    return builtin.build_node(model, count, draw(st.sampled_from(["n", "node-b", "x" * 80])), mig_layout=layout)


@settings(max_examples=25, deadline=None)
@given(node=nodes(), mode=st.sampled_from(MODES), version=st.sampled_from(["1.34", "1.35"]),
       tainted=st.sets(st.integers(0, 260), max_size=6), taint_count=st.integers(1, 4))
def test_any_node_gives_a_complete_valid_pool(node, mode, version, tainted, taint_count) -> None:  # noqa: ANN001
    taint = [DeviceTaint(key=f"example.com/t{i}", effect="NoSchedule") for i in range(taint_count)]
    taints = {f"gpu-{i}": taint for i in tainted}
    slices = build_slices(node, mode=mode, k8s_version=version, taints=taints)
    check_pool(slices, version)
    devices = [d for s in slices for d in s.spec.devices or []]
    if mode == "whole":
        assert len(devices) == len(node.gpus)
    gpus_seen = {d.attributes["index"].int_ for d in devices}
    assert gpus_seen <= {g.index for g in node.gpus}
    for d in devices:
        expected = taint if d.name in taints else None
        assert d.taints == expected
    for s in slices:
        assert list(validate(s, k8s_version=version)) == []
    # The schema check is the slow part; one slice per example keeps the run short.
    assert schema_errors(slices[-1].to_dict(), version) == []


@settings(max_examples=20, deadline=None)
@given(a=nodes(), b=nodes(), mode=st.sampled_from(MODES))
def test_generation_changes_exactly_when_content_changes(a, b, mode) -> None:  # noqa: ANN001
    b = builtin.build_node(GPU_MODELS[_model_key(b)], len(b.gpus), a.node_name)
    old = build_slices(a, mode=mode, generation=4)
    new = build_slices(b, mode=mode)
    same = [s.to_dict()["spec"] for s in old] == [
        {**s.to_dict()["spec"], "pool": {**s.to_dict()["spec"]["pool"], "generation": 4}} for s in new
    ]
    assert next_generation(old, new) == (4 if same else 5)
    assert next_generation(old, build_slices(a, mode=mode)) == 4


def _model_key(inv) -> str:  # noqa: ANN001
    if not inv.gpus:
        return "T4"
    name = inv.gpus[0].product_name
    return next(k for k, m in GPU_MODELS.items() if m.product_name == name)
