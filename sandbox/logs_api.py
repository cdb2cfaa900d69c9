"""CloudWatch Logs API behaviours where moto 5.2 answers differently.

FilterLogEvents always interleaves the events of every searched log stream by time: AWS ignores
`interleaved=false` since 2019 (the parameter is deprecated, API_FilterLogEvents.html), while moto returns one
stream's events after another's unless asked to interleave. Readers of a function's log (several log streams when
several environments ran) must see one time-ordered list.
"""

from __future__ import annotations

from typing import Any

from .app import SandboxApp

_ORIGINAL: Any = None


def _always_interleaved(self: Any, *args: Any, **kwargs: Any) -> Any:
    if "interleaved" in kwargs:
        kwargs["interleaved"] = True
    elif len(args) >= 8:  # (group, stream names, start, end, limit, next token, pattern, interleaved)
        args = (*args[:7], True, *args[8:])
    return _ORIGINAL(self, *args, **kwargs)


def install(app: SandboxApp) -> None:
    global _ORIGINAL
    from moto.logs.models import LogGroup

    if _ORIGINAL is None:
        _ORIGINAL = LogGroup.filter_log_events
        LogGroup.filter_log_events = _always_interleaved
