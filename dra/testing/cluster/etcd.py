"""etcd for one throw-away control plane: plain HTTP on 127.0.0.1, data in ``<dir>/etcd``.

TLS is left out on purpose: both ends are on loopback and the data is a test's. ``--unsafe-no-fsync``
keeps a 2-core CI machine from spending its time in fsync; losing the data on a crash is fine here.
"""

from __future__ import annotations

from pathlib import Path

from dra.testing.cluster.process import Component, argv


def etcd_component(binary: Path, data_dir: Path, client_port: int, peer_port: int, log: Path) -> Component:
    client = f"http://127.0.0.1:{client_port}"
    peer = f"http://127.0.0.1:{peer_port}"
    options: dict[str, object] = {
        "name": "default",
        "data_dir": data_dir,
        "listen_client_urls": client,
        "advertise_client_urls": client,
        "listen_peer_urls": peer,
        "initial_advertise_peer_urls": peer,
        "initial_cluster": f"default={peer}",
        "listen_metrics_urls": "",
        "unsafe_no_fsync": True,
        "log_level": "warn",
    }
    return Component("etcd", argv(binary, options), log)
