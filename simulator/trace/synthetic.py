"""A seeded generator of modern LLM/ML pod mixes (the embedded default of ``make run``).

Four kinds of pods, with shares and sizes chosen to look like a shared LLM platform:

- ``training``: gangs of 2/4/8 whole GPUs that need one NVLink domain and >= 80 GiB per GPU
  on Hopper/Blackwell-class models; long-running.
- ``inference``: one GPU or a fraction of one, with a GPU-memory floor (16-80 GiB) and, for a
  part of them, an allowed-model list; medium durations.
- ``notebook``: a small slice -- either a MIG profile (``1g.10gb``/``2g.20gb``-class) or a
  fraction of a GPU with 8-20 GiB of GPU memory; short.
- ``cpu``: CPU-only helpers (data loaders, gateways).

With ``gangs`` (a fraction of the training jobs, default 0), those jobs are multi-node gangs:
8, 16, 32 or 72 GPUs as pods of 4 GPUs each (one GB200 compute tray), all placed or none, and
all on one NVLink clique (an NVL72 rack; on 8-GPU boards, one node). The 16/32/72-GPU ones
ask for GB200 (only NVL72 has multi-node NVLink); the 8-GPU ones keep the job's model list.
``synthetic:N:SEED:gangs=0.3`` on the command line.

Everything is drawn from one ``random.Random(seed)``, so the same seed gives the same trace.

GPU-memory floors are the *usable* memory of the smallest catalog card sold in that class
(``nvidia-smi`` figures from ``dra.gpu.catalog``), not ``N * 1024`` MiB: an "80 GB" pod asks
81,559 MiB (an H100 80GB), which every 80 GB-class card offers, whereas 81,920 MiB would rule
out every H100. A MIG notebook asks the memory and compute share of its profile on an H100
(``1g.10gb``: 9,984 MiB, 1/7 of the GPU rounded down so the slice check ``k*1000 >= milli*7``
holds).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from functools import lru_cache

from simulator.trace.model import Pod, Trace

GIB = 1024

# Marketed GPU-memory class (GB) -> the catalog card whose usable memory is the floor.
MEMORY_CLASS_CARD = {16: "T4", 24: "A10", 40: "A100-SXM4-40GB", 80: "H100-SXM5-80GB"}
MIG_REFERENCE = "H100-SXM5-80GB"  # the card whose MIG table sizes the notebooks' profiles


@lru_cache(maxsize=None)
def memory_floor_mib(gb: int) -> int:
    """Usable MiB a pod of the ``gb`` GB class asks: the class card's catalog memory."""
    from dra.gpu.catalog import find_model

    card = MEMORY_CLASS_CARD.get(gb)
    return find_model(card).memory_mib if card else gb * GIB


@lru_cache(maxsize=None)
def mig_profile_memory_mib(profile: str) -> int:
    from dra.gpu.catalog import find_model

    for p in find_model(MIG_REFERENCE).mig_profiles:
        if p.name == profile:
            return p.memory_bytes // (1024 * 1024)
    raise KeyError(profile)


@dataclass(frozen=True)
class SyntheticMix:
    training: float = 0.12
    inference: float = 0.48
    notebook: float = 0.25
    cpu: float = 0.15
    mean_interarrival_s: float = 30.0
    gangs: float = 0.0  # share of training jobs that are multi-node NVLink gangs


def _choice(rng: random.Random, weighted: list[tuple[object, float]]) -> object:
    total = sum(w for _, w in weighted)
    r = rng.random() * total
    for value, weight in weighted:
        r -= weight
        if r <= 0:
            return value
    return weighted[-1][0]


def generate(num_pods: int = 2000, seed: int = 42, mix: SyntheticMix | None = None) -> Trace:
    mix = mix or SyntheticMix()
    rng = random.Random(seed)
    pods: list[Pod] = []
    now = 0.0
    kinds = [("training", mix.training), ("inference", mix.inference), ("notebook", mix.notebook), ("cpu", mix.cpu)]
    for i in range(num_pods):
        now += rng.expovariate(1.0 / mix.mean_interarrival_s)
        kind = _choice(rng, kinds)
        name = f"{kind}-{i:05d}"
        if kind == "training" and mix.gangs > 0 and rng.random() < mix.gangs:
            total = int(_choice(rng, [(8, 0.4), (16, 0.3), (32, 0.2), (72, 0.1)]))  # type: ignore[arg-type]
            models = _choice(rng, [((), 0.5), (("H100", "H200"), 0.2), (("H200", "B200", "GB200"), 0.3)])
            if total > 8:
                models = ("GB200",)
            duration = rng.lognormvariate(9.0, 0.8)
            for k in range(total // 4):
                pods.append(Pod(
                    f"{name}-{k}", cpu_milli=4 * 12000, memory_mib=4 * 96 * GIB, num_gpu=4, gpu_milli=1000,
                    gpu_models=models, gpu_memory_mib=memory_floor_mib(80), nvlink=True,  # type: ignore[arg-type]
                    arrival=now, duration=duration, kind="training-gang", gang=name, clique=True,
                ))
        elif kind == "training":
            n = int(_choice(rng, [(8, 0.5), (4, 0.3), (2, 0.2)]))  # type: ignore[arg-type]
            models = _choice(rng, [((), 0.5), (("H100", "H200"), 0.2), (("H200", "B200", "GB200"), 0.3)])
            pods.append(Pod(
                name, cpu_milli=n * 12000, memory_mib=n * 96 * GIB, num_gpu=n, gpu_milli=1000,
                gpu_models=models, gpu_memory_mib=memory_floor_mib(80), nvlink=True, arrival=now,  # type: ignore[arg-type]
                duration=rng.lognormvariate(9.0, 0.8), kind="training",
            ))
        elif kind == "inference":
            whole = rng.random() < 0.45
            mem = int(_choice(rng, [(16, 0.3), (24, 0.3), (40, 0.25), (80, 0.15)]))  # type: ignore[arg-type]
            models = _choice(rng, [((), 0.7), (("L4", "H100", "H200"), 0.15), (("H100", "H200", "B200"), 0.15)])
            milli = 1000 if whole else int(_choice(rng, [(250, 0.3), (500, 0.5), (750, 0.2)]))  # type: ignore[arg-type]
            pods.append(Pod(
                name, cpu_milli=rng.choice([2000, 4000, 8000]), memory_mib=rng.choice([16, 32, 64]) * GIB,
                num_gpu=1, gpu_milli=milli, gpu_models=models, gpu_memory_mib=memory_floor_mib(mem),  # type: ignore[arg-type]
                arrival=now, duration=rng.lognormvariate(8.0, 1.0), kind="inference",
            ))
        elif kind == "notebook":
            if rng.random() < 0.5:
                profile = str(_choice(rng, [("1g.10gb", 0.6), ("2g.20gb", 0.3), ("3g.40gb", 0.1)]))
                share = int(profile[0]) * 1000 // 7  # the profile's compute share (of 7 slices)
                pods.append(Pod(
                    name, cpu_milli=2000, memory_mib=8 * GIB, num_gpu=1, gpu_milli=share,
                    gpu_memory_mib=mig_profile_memory_mib(profile),
                    mig_profile=profile, arrival=now, duration=rng.lognormvariate(7.5, 0.7), kind="notebook",
                ))
            else:
                milli = int(_choice(rng, [(100, 0.4), (200, 0.4), (300, 0.2)]))  # type: ignore[arg-type]
                pods.append(Pod(
                    name, cpu_milli=2000, memory_mib=8 * GIB, num_gpu=1, gpu_milli=milli,
                    gpu_memory_mib=rng.choice([8, 12, 20]) * GIB, arrival=now,
                    duration=rng.lognormvariate(7.5, 0.7), kind="notebook",
                ))
        else:
            pods.append(Pod(
                name, cpu_milli=rng.choice([1000, 2000, 4000]), memory_mib=rng.choice([4, 8, 16]) * GIB,
                arrival=now, duration=rng.lognormvariate(8.0, 1.0), kind="cpu",
            ))
    suffix = f"-gangs{mix.gangs:g}" if mix.gangs > 0 else ""
    return Trace(name=f"synthetic-llm-mix-s{seed}{suffix}", pods=pods)
