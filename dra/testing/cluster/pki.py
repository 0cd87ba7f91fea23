"""Certificates and keys for a throw-away control plane, made with the ``openssl`` command.

Why openssl and not the ``cryptography`` package: ``cryptography`` is not a dependency of this
project (nothing in the venv pulls it in) and adding one for test certificates is not worth it;
``openssl`` is on every machine that can build Kubernetes. The files are the ones kubeadm makes,
minus what a cluster without kubelets does not need:

* ``ca.crt``/``ca.key``: one CA for the serving certificate and every client certificate;
* ``apiserver.crt``: serving certificate for 127.0.0.1 / localhost / kubernetes.default.svc;
* ``<user>.crt`` client certificates (CN = user, O = groups): admin (system:masters),
  system:kube-scheduler, system:kube-controller-manager;
* ``sa.key``/``sa.pub``: the service-account signing key pair (TokenRequest, bound tokens).

Keys are EC P-256 (fast to make) except the service-account key, RSA 2048 as kubeadm uses.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

DAYS = "30"


class PkiError(RuntimeError):
    """openssl is missing or failed; one line."""


def _openssl(*args: str, cwd: Path) -> None:
    exe = shutil.which("openssl")
    if exe is None:
        raise PkiError("openssl is not installed: cannot make the control plane's certificates")
    proc = subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["?"])[-1]
        raise PkiError(f"openssl {args[0]} failed: {last}")


@dataclass(frozen=True)
class Pki:
    """Where the files of one control plane's PKI are."""

    dir: Path

    @property
    def ca_crt(self) -> Path:
        return self.dir / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.dir / "ca.key"

    def crt(self, name: str) -> Path:
        return self.dir / f"{name}.crt"

    def key(self, name: str) -> Path:
        return self.dir / f"{name}.key"

    @property
    def sa_key(self) -> Path:
        return self.dir / "sa.key"

    @property
    def sa_pub(self) -> Path:
        return self.dir / "sa.pub"


def _ec_key(path: Path, cwd: Path) -> None:
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(path), cwd=cwd)


def _sign(pki: Pki, name: str, subject: str, ext: str) -> None:
    d = pki.dir
    _ec_key(pki.key(name), d)
    csr = d / f"{name}.csr"
    extfile = d / f"{name}.ext"
    extfile.write_text(ext)
    _openssl("req", "-new", "-key", str(pki.key(name)), "-subj", subject, "-out", str(csr), cwd=d)
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(pki.ca_crt), "-CAkey", str(pki.ca_key),
             "-CAcreateserial", "-days", DAYS, "-sha256", "-extfile", str(extfile), "-out", str(pki.crt(name)), cwd=d)
    csr.unlink()
    extfile.unlink()


def client_cert(pki: Pki, name: str, user: str, groups: Sequence[str] = ()) -> None:
    """A client certificate ``<name>.crt`` for ``user`` in ``groups``."""
    subject = "".join(f"/O={g}" for g in groups) + f"/CN={user}"
    _sign(pki, name, subject, "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
          "extendedKeyUsage=clientAuth\n")


def make_pki(directory: Path) -> Pki:
    """Make the CA, the API server's serving certificate, the control-plane users and the SA keys."""
    directory.mkdir(parents=True, exist_ok=True)
    pki = Pki(directory)
    _ec_key(pki.ca_key, directory)
    _openssl("req", "-x509", "-new", "-key", str(pki.ca_key), "-subj", "/CN=dra-gpu-test-ca", "-days", DAYS,
             "-sha256", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature", "-out", str(pki.ca_crt), cwd=directory)
    sans = ("IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,"
            "DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local")
    _sign(pki, "apiserver", "/CN=kube-apiserver", "basicConstraints=CA:FALSE\n"
          "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
          f"subjectAltName={sans}\n")
    client_cert(pki, "admin", "kubernetes-admin", ["system:masters"])
    client_cert(pki, "kube-scheduler", "system:kube-scheduler")
    client_cert(pki, "kube-controller-manager", "system:kube-controller-manager")
    _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(pki.sa_key), cwd=directory)
    _openssl("pkey", "-in", str(pki.sa_key), "-pubout", "-out", str(pki.sa_pub), cwd=directory)
    for f in directory.glob("*.key"):
        f.chmod(0o600)
    return pki
