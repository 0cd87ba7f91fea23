"""Trace-driven simulator: replay pod traces on GPU fleets, device plugin against DRA.

Data flow (each arrow is one module):

    fleet (openb node list | built-in modern fleet | YAML)  -> simulator.fleet
    trace (openb pod list | generic CSV/JSONL | synthetic)  -> simulator.trace
    placement model (device plugin: integer / time-slicing / static MIG; DRA claims
                     placed by dra.allocator)                 -> simulator.placement
    node scoring policy (kube default, FGD paper's six, ...) -> simulator.scoring
    replay (FGD paper's method | time-based with departures) -> simulator.engine
    metrics, report, plots, sweeps                            -> simulator.metrics/report/plots/sweep

The simulator never models DRA itself: the DRA placement builds ResourceSlices with
``dra.slices.build_slices`` and places real ``ResourceClaim`` objects with ``dra.allocator``.
"""
