"""kubeconfig files for the control plane's users: client certificates or a bearer token."""

from __future__ import annotations

from pathlib import Path

import yaml


def write_kubeconfig(path: Path, server: str, ca: Path, *, user: str, cert: Path | None = None,
                     key: Path | None = None, token: str | None = None, context: str = "dra-gpu") -> Path:
    """Write a one-cluster, one-user kubeconfig; exactly one of cert+key or token."""
    if (cert is None) == (token is None):
        raise ValueError("write_kubeconfig: give a client certificate or a token")
    creds: dict[str, str] = (
        {"client-certificate": str(cert), "client-key": str(key)} if cert is not None else {"token": str(token)}
    )
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": {"server": server, "certificate-authority": str(ca)}}],
        "users": [{"name": user, "user": creds}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": user}}],
        "current-context": context,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    path.chmod(0o600)
    return path
