"""Running a library function named ``package.module:function`` as a process's whole work, its
return value the exit code: what worker processes run (``worker.target_main`` in a forked
worker; ``python -m parity.exec.target pkg.mod:fn KWARGS_JSON`` in a new interpreter, where the
environment must be set before a framework loads).

A ``ValueError`` (bad input: ``BadInput``, a bad report or config) is one line on stderr and
exit 2, as at the command line; Ctrl-C is 130; any other exception is its traceback and exit
70 (a crash, never mistaken for 0 or 1, which mean agreement or a divergence)."""
from __future__ import annotations

import importlib
import json
import sys
import traceback

EXIT_CRASHED = 70


def run(target: str, args=(), kwargs: dict | None = None) -> int:
    module, _, name = target.partition(":")
    try:
        code = getattr(importlib.import_module(module), name)(*args, **(kwargs or {}))
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 1
    except KeyboardInterrupt:
        from parity.core import signals

        print("parity: interrupted", file=sys.stderr)
        return signals.exit_code()
    except ValueError as e:
        print(f"parity: error: {str(e).splitlines()[0] if str(e) else type(e).__name__}",
              file=sys.stderr)
        return 2
    except BaseException:  # noqa: BLE001 - a crash of the target: its traceback, in its log
        traceback.print_exc()
        return EXIT_CRASHED
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1], kwargs=json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}))
