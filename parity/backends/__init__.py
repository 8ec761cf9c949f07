"""The only modules of the harness that import a framework, each lazily.

``parity.backends.tf`` and ``parity.backends.torch`` import their framework on
first use and apply the thread settings; nothing else in the core imports one,
so the comparator, the report and the CLI's ``list`` run without either.
"""
import importlib.util
import os

DEFAULT_THREADS = 1


def thread_count() -> int:
    """Threads per framework: ``PARITY_THREADS`` or 1 (measured fastest for small cases).

    >>> isinstance(thread_count(), int)
    True
    """
    raw = os.environ.get("PARITY_THREADS", "")
    return int(raw) if raw.strip().isdigit() and int(raw) > 0 else DEFAULT_THREADS


class BackendUnavailable(ImportError):
    """A framework that cannot be imported: an environment problem, not a rejection."""


def missing(modules=("tensorflow", "torch")) -> list[str]:
    """The frameworks among ``modules`` that cannot be imported (imports none of them).

    >>> missing(("numpy",))
    []
    """
    out = []
    for name in modules:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # ValueError: a None placeholder in sys.modules
            found = False
        if not found:
            out.append(name)
    return out
