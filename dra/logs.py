"""Logging for every ``dra`` command: klog-compatible text or JSON lines, plus progress lines.

Kubernetes components log through klog; operators grep and ship those lines, so ours look
the same:

- **text** (klog's header, structured key/values as ``klog.InfoS`` writes them)::

      I1202 21:34:14.123456   12345 driver.py:42] "published slices" node="node-a" count=3

  severity letter (I/W/E/F), month+day, local time with microseconds, the process id
  (klog prints the thread id; a Python process has one pid), ``file:line``, then the
  quoted message and ``key=value`` pairs (strings quoted, numbers and booleans bare).
- **json** (the fields of component-base's JSON format, plus ``level``)::

      {"ts":1764711254.123456,"caller":"driver.py:42","level":"info","msg":"published slices","v":0,"node":"node-a","count":3}

  ``ts`` is seconds since the epoch (float, as klog's JSON); ``v`` is the verbosity of an
  info line (0, or 4 for debug); an exception goes into ``err``.

Call sites log a short constant message and put the variable parts in ``extra={...}``.

:func:`configure` installs one handler on the ``dra``, ``simulator`` and ``grpc`` loggers
(grpcio's Python side logs to ``grpc``, so its lines come out in our format) and sets
``GRPC_VERBOSITY`` for gRPC's C core from our level when the user has not set it (the C
core writes its own lines to stderr: they cannot take our format, so by default only its
errors are shown). :func:`add_logging_arguments` adds ``--log-format``, ``-v`` and
``--log-level`` to a command.

:class:`Progress` reports progress on long work: a tqdm bar on a terminal, and a log line
every few seconds (``every``) otherwise, so CI logs and ``nohup`` runs show that work goes on.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import time
from typing import Any, Optional, TextIO

LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("debug", "info", "warning", "error")
# The loggers our handler serves: our packages and grpcio's Python side.
LOGGER_NAMES = ("dra", "simulator", "grpc")
# klog verbosity that a Python DEBUG line stands for (klog's "debug" convention is V(4)).
DEBUG_V = 4

# Attributes every LogRecord has; anything else came from ``extra``.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}
_SEVERITY = {logging.DEBUG: "I", logging.INFO: "I", logging.WARNING: "W", logging.ERROR: "E", logging.CRITICAL: "F"}


def fields(record: logging.LogRecord) -> dict[str, Any]:
    """The ``extra`` fields of a record (what is not a standard LogRecord attribute)."""
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")}


def _klog_value(value: Any) -> str:
    """A value as klog's text format writes it: strings quoted, numbers/booleans bare."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)) and not (isinstance(value, float) and not math.isfinite(value)):
        return str(value)
    if value is None:
        return "<nil>"
    return json.dumps(str(value), ensure_ascii=False)


def _caller(record: logging.LogRecord) -> str:
    return f"{os.path.basename(record.pathname or record.filename)}:{record.lineno}"


class KlogTextFormatter(logging.Formatter):
    """``I1202 21:34:14.123456   12345 file.py:42] "msg" key="value"``."""

    def format(self, record: logging.LogRecord) -> str:
        t = time.localtime(record.created)
        micros = int((record.created - int(record.created)) * 1_000_000)
        sev = _SEVERITY.get(record.levelno, "I" if record.levelno < logging.WARNING else "E")
        header = (
            f"{sev}{t.tm_mon:02d}{t.tm_mday:02d} {t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}.{micros:06d}"
            f" {record.process or os.getpid():7d} {_caller(record)}]"
        )
        parts = [header, json.dumps(record.getMessage(), ensure_ascii=False)]
        if not record.name.startswith(("dra", "simulator")):
            parts.append(f"logger={_klog_value(record.name)}")
        parts += [f"{k}={_klog_value(v)}" for k, v in fields(record).items()]
        if record.exc_info:
            parts.append(f"err={_klog_value(self.formatException(record.exc_info))}")
        return " ".join(parts)


class KlogJsonFormatter(logging.Formatter):
    """One JSON object per line with klog's JSON fields (``ts``, ``caller``, ``msg``, ``v``)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": round(record.created, 6),
            "caller": _caller(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.levelno < logging.WARNING:
            entry["v"] = DEBUG_V if record.levelno < logging.INFO else 0
        entry.update(fields(record))
        if record.exc_info:
            entry["err"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False, separators=(",", ":"))


def level_of(level: str = "info", verbosity: int = 0) -> int:
    """The Python level for ``--log-level`` and ``-v``: any ``-v`` of 1 or more enables debug."""
    if level not in LOG_LEVELS:
        from dra.errors import UserError

        raise UserError(f"--log-level: {level!r} is not one of {', '.join(LOG_LEVELS)}")
    if verbosity < 0:
        from dra.errors import UserError

        raise UserError(f"-v: verbosity must be 0 or more, got {verbosity}")
    python_level = getattr(logging, level.upper())
    return logging.DEBUG if verbosity > 0 else python_level


def _grpc_verbosity(level: int) -> str:
    return "DEBUG" if level <= logging.DEBUG else "ERROR"


def configure(fmt: str = "text", level: str = "info", verbosity: int = 0,
              stream: Optional[TextIO] = None) -> logging.Handler:
    """Send the ``dra``, ``simulator`` and ``grpc`` loggers to ``stream`` (stderr) in ``fmt``.

    Returns the handler (tests attach it to a buffer). Calling it again replaces the handler.
    """
    if fmt not in LOG_FORMATS:
        from dra.errors import UserError

        raise UserError(f"--log-format: {fmt!r} is not one of {', '.join(LOG_FORMATS)}")
    python_level = level_of(level, verbosity)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(KlogJsonFormatter() if fmt == "json" else KlogTextFormatter())
    for name in LOGGER_NAMES:
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        # grpcio logs a lot at debug that is of no use unless asked for with -v.
        logger.setLevel(python_level if name != "grpc" or verbosity > 0 else max(python_level, logging.WARNING))
        logger.propagate = False
    # gRPC's C core reads GRPC_VERBOSITY when it starts; an explicit setting by the user wins.
    os.environ.setdefault("GRPC_VERBOSITY", _grpc_verbosity(python_level))
    return handler


def add_logging_arguments(parser: argparse.ArgumentParser, *, default_format: str = "text",
                          env: bool = False) -> None:
    """``--log-format``, ``-v`` and ``--log-level`` (with ``$LOG_FORMAT``/``$LOG_LEVEL``/``$LOG_V``
    defaults when ``env`` is true, for DaemonSets)."""
    def env_or(name: str, default: str) -> str:
        return os.environ.get(name, default) if env else default

    suffix = " [$LOG_FORMAT]" if env else ""
    parser.add_argument("--log-format", choices=LOG_FORMATS, default=env_or("LOG_FORMAT", default_format),
                        help=f"log line format: klog text or klog-style JSON (default {default_format}){suffix}")
    parser.add_argument("-v", "--v", dest="verbosity", type=int, metavar="N",
                        # A string default: argparse converts it (and reports a bad $LOG_V) only here.
                        default=env_or("LOG_V", "0") or "0",
                        help="log verbosity, as klog's -v: 0 info, 1 or more also debug lines"
                             + (" [$LOG_V]" if env else ""))
    parser.add_argument("--log-level", choices=LOG_LEVELS, default=env_or("LOG_LEVEL", "info"),
                        help="lowest level logged (default info)" + (" [$LOG_LEVEL]" if env else ""))


def configure_from_args(args: argparse.Namespace) -> logging.Handler:
    """:func:`configure` from the options :func:`add_logging_arguments` added."""
    return configure(args.log_format, args.log_level, args.verbosity)


class Progress:
    """Progress of ``total`` steps: a tqdm bar on a terminal, else a log line every ``every`` s.

    ::

        with Progress(total=len(runs), desc="replays") as progress:
            for run in runs:
                ...
                progress.update()

    Off a terminal each line is an info record of the ``dra.progress`` logger (or
    ``logger``), e.g. ``"progress" desc="replays" done=12 total=48 percent=25.0 rate=1.9
    eta_s=19``, plus one line when the work ends. ``enabled=False`` makes it silent.
    """

    def __init__(self, total: Optional[int] = None, desc: str = "work", *, every: float = 5.0,
                 stream: Optional[TextIO] = None, logger: Optional[logging.Logger] = None,
                 enabled: bool = True, clock: Any = time.monotonic) -> None:
        self.total, self.desc, self.every = total, desc, every
        self.done = 0
        self._clock = clock
        self._start = self._last = clock()
        self._stream = stream or sys.stderr
        self._logger = logger or logging.getLogger("dra.progress")
        self._enabled = enabled
        self._bar = None
        if enabled and _isatty(self._stream):
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=desc, file=self._stream, leave=False)

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def update(self, n: int = 1) -> None:
        self.done += n
        if not self._enabled:
            return
        if self._bar is not None:
            self._bar.update(n)
            return
        now = self._clock()
        if now - self._last >= self.every:
            self._last = now
            self._log("progress")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self._enabled:
            self._log("done")
        self._enabled = False

    def _log(self, msg: str) -> None:
        elapsed = max(self._clock() - self._start, 1e-9)
        rate = self.done / elapsed
        extra: dict[str, Any] = {"desc": self.desc, "done": self.done}
        if self.total:
            extra["total"] = self.total
            extra["percent"] = round(100.0 * self.done / self.total, 1)
        extra["rate"] = round(rate, 2)
        extra["elapsed_s"] = round(elapsed, 1)
        if self.total and rate > 0 and msg == "progress":
            extra["eta_s"] = round((self.total - self.done) / rate)
        logger = self._logger
        if not logger.hasHandlers():
            # Nobody configured logging: still say something, in our format, on the stream.
            handler = logging.StreamHandler(self._stream)
            handler.setFormatter(KlogTextFormatter())
            record = logger.makeRecord(logger.name, logging.INFO, __file__, 0, msg, (), None, extra=extra)
            handler.handle(record)
            return
        logger.info(msg, extra=extra, stacklevel=3)


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
