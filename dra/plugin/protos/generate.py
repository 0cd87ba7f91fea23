"""Generate the Python protobuf and gRPC modules from the ``.proto`` files in this folder.

Usage: ``python -m dra.plugin.protos.generate`` (writes next to the protos) or
``python -m dra.plugin.protos.generate --check`` (exit 1 if a committed file is stale).

protoc runs with the repository root as its include path so that the generated modules
import each other as ``dra.plugin.protos.<name>_pb2`` (a package import, not a top-level one).
Only grpcio-tools is needed, which is a test/development dependency.
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from pathlib import Path

PROTO_DIR = Path(__file__).resolve().parent
# protos live at <root>/dra/plugin/protos; protoc must see them under that relative path.
ROOT = PROTO_DIR.parent.parent.parent
PACKAGE_PATH = PROTO_DIR.relative_to(ROOT)
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


def proto_files() -> list[Path]:
    return sorted(PROTO_DIR.glob("*.proto"))


def expected_outputs() -> list[str]:
    """File names (inside this folder) that generation produces."""
    names = []
    for proto in proto_files():
        names.extend(proto.stem + suffix for suffix in GENERATED_SUFFIXES)
    return sorted(names)


def generate(out_root: Path) -> list[Path]:
    """Run protoc for every .proto file, writing under ``out_root/<package path>``."""
    from grpc_tools import protoc  # development dependency, imported only here

    import importlib.resources

    include = str(importlib.resources.files("grpc_tools") / "_proto")
    (out_root / PACKAGE_PATH).mkdir(parents=True, exist_ok=True)
    args = [
        "protoc",
        f"-I{ROOT}",
        f"-I{include}",
        f"--python_out={out_root}",
        f"--pyi_out={out_root}",
        f"--grpc_python_out={out_root}",
        *[str(p.relative_to(ROOT)) for p in proto_files()],
    ]
    status = protoc.main(args)
    if status != 0:
        raise RuntimeError(f"protoc failed with status {status}")
    return [out_root / PACKAGE_PATH / name for name in expected_outputs()]


def stale_files() -> list[str]:
    """Committed generated files that differ from a fresh generation (or are missing)."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate(Path(tmp))
        stale = []
        for path in fresh:
            committed = PROTO_DIR / path.name
            if not committed.exists() or not filecmp.cmp(path, committed, shallow=False):
                stale.append(path.name)
        return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale generated files")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        for name in stale:
            print(f"stale: {PACKAGE_PATH / name} (run `make protos`)", file=sys.stderr)
        return 1 if stale else 0
    for path in generate(ROOT):
        print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
