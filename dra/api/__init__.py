"""resource.k8s.io/v1 objects for DRA: Quantity, pydantic models, validation, YAML/JSON io.

``dra.api`` is the bottom layer of the project (only ``dra.errors`` sits below it): every other
part reads and writes Kubernetes objects through these types.
"""

from dra.api.quantity import Quantity, QuantityError

__all__ = ["Quantity", "QuantityError"]
