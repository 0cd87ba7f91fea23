"""Run many replays in parallel: local worker processes, or a Dask cluster.

``run_jobs(jobs, workers=N)`` uses a ``concurrent.futures.ProcessPoolExecutor`` (each worker
loads a fleet/trace once and keeps it; file paths are made absolute on the client first);
``run_jobs(jobs, scheduler="tcp://host:8786")`` submits the same jobs to a ``dask.distributed``
scheduler -- or pass ``client=`` an existing ``distributed.Client`` (the tests use an
in-process ``LocalCluster``). Dask jobs carry data, not paths: the client loads every
(fleet, trace) pair once and scatters it, so a worker on another machine needs none of the
client's files. Results come back as plain dicts, in job order; a job that fails (an
exception in the replay, or a worker lost) comes back as ``{"error": ..., "job": {its
parameters}}`` and the other jobs complete.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from typing import Any, Callable, Sequence

from simulator.errors import UnknownNameError
from pathlib import Path

from simulator.run import RunOptions, job_params, load_inputs, run_data, run_job

Job = tuple[str, str, str, str, int, RunOptions]


def resolve(source: str) -> str:
    """A file argument made absolute on the client (built-in names and synthetic specs as they are)."""
    path = Path(source)
    return str(path.resolve()) if path.exists() else source


def make_jobs(nodes: str, traces: Sequence[str], placements: Sequence[str], policies: Sequence[str],
              seeds: Sequence[int], options: RunOptions) -> list[Job]:
    nodes = resolve(nodes)
    return [(nodes, resolve(t), pl, po, s, options)
            for t in traces for pl in placements for po in policies for s in seeds]


def run_jobs(jobs: Sequence[Job], *, workers: int = 0, scheduler: str | None = None, client: Any = None,
             on_done: Callable[[dict], None] | None = None) -> list[dict]:
    if client is not None or scheduler:
        return _run_dask(jobs, scheduler, client, on_done)
    if workers <= 1 or len(jobs) <= 1:
        out = []
        for job in jobs:
            result = run_job(job)
            if on_done:
                on_done(result)
            out.append(result)
        return out
    results: list[dict | None] = [None] * len(jobs)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(run_job, job): i for i, job in enumerate(jobs)}
        from concurrent.futures import as_completed

        for fut in as_completed(futures):
            try:
                res = fut.result()
            except Exception as err:  # a worker process died: report the job, keep the rest
                res = {"error": f"{type(err).__name__}: {err}", "job": job_params(jobs[futures[fut]])}
            results[futures[fut]] = res
            if on_done:
                on_done(res)
    return [r for r in results if r is not None]


def _run_dask(jobs: Sequence[Job], scheduler: str | None, client: Any, on_done: Callable[[dict], None] | None) -> list[dict]:
    try:
        from distributed import Client, as_completed
    except ImportError:  # pragma: no cover - the dask extra is not installed
        raise UnknownNameError("sweep backend", "dask", ["local processes (install the 'dask' extra for Dask)"]) from None
    own = client is None
    if own:
        if not str(scheduler).startswith(("tcp://", "tls://", "inproc://")):
            raise UnknownNameError("Dask scheduler address", str(scheduler), ["tcp://HOST:PORT", "tls://HOST:PORT"])
        client = Client(scheduler)
    try:
        data: dict[tuple[str, str], Any] = {}
        futures = []
        for job in jobs:
            key = (job[0], job[1])
            if key not in data:  # loaded here, on the client, once per (fleet, trace)
                fleet, trace = load_inputs(*key)
                data[key] = client.scatter([fleet, trace])
            fleet_f, trace_f = data[key]
            futures.append(client.submit(run_data, fleet_f, trace_f, job, pure=False))
        index = {f.key: i for i, f in enumerate(futures)}
        results: list[dict | None] = [None] * len(jobs)
        for fut in as_completed(futures):
            i = index[fut.key]
            try:
                res = fut.result()
            except Exception as err:  # the worker died or the task could not run
                res = {"error": f"{type(err).__name__}: {err}", "job": job_params(jobs[i])}
            results[i] = res
            if on_done:
                on_done(res)
        return [r for r in results if r is not None]
    finally:
        if own:
            client.close()
