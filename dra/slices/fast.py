"""Fast construction of trusted pydantic models (the builder's hot path).

``pydantic.BaseModel.model_construct`` skips validation but still walks every field and its
aliases on each call (~10-20 us per object); the builder makes thousands of small objects
per rack. :func:`constructor` precomputes a model's defaults once and returns a function
that fills ``__dict__`` directly, exactly as ``model_construct`` would for keyword
arguments given by Python field name. Models with post-init hooks, root models or extra
fields fall back to ``model_construct``.

Only data the builder made itself from typed inventory goes through here; the tests parse
every built slice back with full validation (``ResourceSlice.from_dict(s.to_dict())``).
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

T = TypeVar("T")

_object_setattr = object.__setattr__


def constructor(cls: type[T]) -> Callable[..., T]:
    model_cls: Any = cls
    if (
        getattr(model_cls, "__pydantic_post_init__", None)
        or getattr(model_cls, "__pydantic_root_model__", False)
        or model_cls.model_config.get("extra") == "allow"
    ):
        return model_cls.model_construct  # type: ignore[no-any-return]
    defaults: dict[str, Any] = {}
    factories: dict[str, Callable[[], Any]] = {}
    for name, field in model_cls.model_fields.items():
        if field.is_required():
            continue
        if field.default_factory is not None:
            factories[name] = field.default_factory  # type: ignore[assignment]
        else:
            defaults[name] = field.default
    if factories:

        def make(**values: Any) -> T:
            obj = model_cls.__new__(model_cls)
            data = {**defaults, **values}
            for name, factory in factories.items():
                if name not in values:
                    data[name] = factory()
            _object_setattr(obj, "__dict__", data)
            _object_setattr(obj, "__pydantic_fields_set__", set(values))
            _object_setattr(obj, "__pydantic_extra__", None)
            _object_setattr(obj, "__pydantic_private__", None)
            return obj  # type: ignore[no-any-return]

        return make

    def make(**values: Any) -> T:  # type: ignore[no-redef]
        # Field names are not checked here (hot path); the tests round-trip every built object.
        obj = model_cls.__new__(model_cls)
        _object_setattr(obj, "__dict__", {**defaults, **values})
        _object_setattr(obj, "__pydantic_fields_set__", set(values))
        _object_setattr(obj, "__pydantic_extra__", None)
        _object_setattr(obj, "__pydantic_private__", None)
        return obj  # type: ignore[no-any-return]

    return make
