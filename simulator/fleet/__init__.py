"""Fleets: which nodes exist, with their CPU, memory and GPUs (see :mod:`simulator.fleet.load`)."""

from simulator.fleet.model import Fleet, NodeSpec

__all__ = ["Fleet", "NodeSpec"]
