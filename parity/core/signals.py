"""The signals that stop a command, and the exit code each leaves (stdlib only).

SIGTERM (a ``kill``, a CI job's timeout) and SIGHUP (a closed terminal, a dropped SSH session)
stop a run the same way: at the next case boundary, leaving a valid report with
``complete: false``. The exit code says which: 130 for Ctrl-C and SIGTERM (as before), 129
(128 + SIGHUP) for a hang-up.

Example:
    >>> import signal
    >>> forget(); exit_code()
    130
    >>> note(signal.SIGHUP); exit_code()
    129
    >>> forget()
"""
from __future__ import annotations

import signal

EXIT_INTERRUPTED = 130
EXIT_HANGUP = 129
STOPPING = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))
"""Handled as a request to stop at the next case boundary (Ctrl-C stops at once)."""

_received: list[int] = []


def note(signum: int) -> None:
    """Remember that ``signum`` stopped this command."""
    _received.append(int(signum))


def forget() -> None:
    _received.clear()


def received() -> str | None:
    """The name of the first stopping signal received (``"SIGHUP"``), or None."""
    return signal.Signals(_received[0]).name if _received else None


def exit_code() -> int:
    """129 if a SIGHUP stopped the command, else 130."""
    hup = getattr(signal, "SIGHUP", None)
    return EXIT_HANGUP if hup is not None and hup in _received else EXIT_INTERRUPTED


def install(handler) -> dict:
    """``handler`` for every stopping signal; the previous handlers (empty off the main thread)."""
    previous = {}
    for s in STOPPING:
        try:
            previous[s] = signal.signal(s, handler)
        except ValueError:  # not the main thread
            return previous
    return previous


def restore(previous: dict) -> None:
    for s, h in previous.items():
        signal.signal(s, h)
