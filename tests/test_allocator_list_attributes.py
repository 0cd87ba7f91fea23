"""matchAttribute/distinctAttribute on list-typed attributes (DRAListTypeAttributes, 1.36+).

Upstream (experimental variant, ``attributeAsSet``): a scalar is a one-element set, a
non-empty list the set of its values; matchAttribute keeps the running intersection of
all devices' sets (non-empty, same type), distinctAttribute needs pairwise-disjoint sets.
The attribute objects here carry the wire shape ``dra.api`` gives list attributes
(``ints``/``bools``/``strings``/``versions``); the upstream oracle re-checks these rules
once the API model accepts list attributes.
"""

from __future__ import annotations

from types import SimpleNamespace

from dra.allocator.constraints import DistinctAttribute, MatchAttribute, attribute_set

DRIVER = "gpu.example.com"


def _attr(**kw):
    base = {"string": None, "int_": None, "bool_": None, "version": None,
            "ints": None, "bools": None, "strings": None, "versions": None}
    base.update(kw)
    return SimpleNamespace(**base)


def _device(index: int, attr) -> SimpleNamespace:
    return SimpleNamespace(index=index, attributes={"numa": attr}, attr_cache={},
                           slice=SimpleNamespace(driver=DRIVER))


def _match() -> MatchAttribute:
    c = MatchAttribute(f"{DRIVER}/numa", None)
    c.list_mode = True
    return c


def _distinct() -> DistinctAttribute:
    c = DistinctAttribute(f"{DRIVER}/numa", None)
    c.list_mode = True
    return c


def test_attribute_set_prefers_a_non_empty_list() -> None:
    assert attribute_set(_attr(ints=[0, 1])) == ("int", frozenset({0, 1}))
    assert attribute_set(_attr(int_=3)) == ("int", frozenset({3}))
    assert attribute_set(_attr(ints=[], string="a")) == ("string", frozenset({"a"}))
    assert attribute_set(_attr()) is None


def test_match_narrows_the_intersection_and_backtracks() -> None:
    c = _match()
    assert c.add("r", None, _device(0, _attr(ints=[0, 1])))
    assert c.add("r", None, _device(1, _attr(int_=1)))          # {0,1} & {1} = {1}
    assert not c.add("r", None, _device(2, _attr(ints=[0])))    # {1} & {0} = {}
    c.remove("r", None, _device(1, _attr(int_=1)))               # back to {0,1}
    assert c.add("r", None, _device(2, _attr(ints=[0])))
    assert not c.add("r", None, _device(3, _attr(strings=["0"])))  # other type never matches


def test_distinct_needs_pairwise_disjoint_sets() -> None:
    c = _distinct()
    assert c.add("r", None, _device(0, _attr(ints=[0, 1])))
    assert not c.add("r", None, _device(1, _attr(int_=1)))
    assert c.add("r", None, _device(2, _attr(ints=[2, 3])))
    assert c.add("r", None, _device(3, _attr(string="1")))        # other type: disjoint
    c.remove("r", None, _device(3, _attr(string="1")))
    c.remove("r", None, _device(2, _attr(ints=[2, 3])))
    assert c.add("r", None, _device(4, _attr(ints=[3])))


def test_distinct_refuses_an_attribute_without_value_even_first() -> None:
    assert not _distinct().add("r", None, _device(0, _attr()))
