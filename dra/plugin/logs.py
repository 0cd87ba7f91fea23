"""The plugin's logging: delegated to :mod:`dra.logs` (klog-compatible text or JSON lines).

Kept so that ``from dra.plugin import logs; logs.configure(fmt, level)`` keeps working.
"""

from __future__ import annotations

from dra.logs import KlogJsonFormatter as JsonFormatter
from dra.logs import KlogTextFormatter as TextFormatter
from dra.logs import configure

__all__ = ["JsonFormatter", "TextFormatter", "configure"]
