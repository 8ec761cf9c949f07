"""``python -m parity`` / ``parity``: list | run | audit | replay | compare | html | merge |
record | matrix | model.

The top floor: argparse and printing only, over ``parity.api`` and ``parity.flows``; imported
by nothing but ``__main__`` and the console script. One module per command or group of them
(``run``: record, run, run --reference; ``reports``: replay, merge, compare, html; ``audit``,
``matrix``, ``model``), each with its arguments and its ``cmd_*(args) -> int``; ``common``
holds the exit codes and the flags they share.

Exit codes: 0 every case as expected; 1 an unexpected divergence (a ``fail``,
an ``error``, or a rejection no registry entry explains) or a failing audit;
2 bad input (unknown op or variant, a plan with no cases, bad flag, unimportable
candidate, bad registry, report or archive, an output that cannot be written),
checked before any case runs; 3 results that could not be written after all
(a full disk: what was kept is said); 130 interrupted by Ctrl-C or SIGTERM, 129 by
SIGHUP (the partial report is still written). Every error is one line on stderr.
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import os
import sys

from parity.cli.audit import cmd_audit
from parity.cli.common import (EXIT_BAD_INPUT, EXIT_CLOSED_PIPE, EXIT_DIVERGENCE,  # noqa: F401
                               EXIT_INTERRUPTED, EXIT_NOT_WRITTEN, EXIT_OK, MAX_EXAMPLES,
                               BadInput, _describe, _device_flags, _Parser, load_candidate)
from parity.cli.reports import cmd_compare, cmd_html, cmd_merge, cmd_replay
from parity.cli.run import cmd_record, cmd_run
from parity.core import signals
from parity.core.config import ConfigError
from parity.core.numerics import DTYPES
from parity.core.outputs import OutputError
from parity.core.profiles import EXAMPLES
from parity.core.text import printable
from parity.report import ReportError, WriteFailed
from parity.spec import registry
from parity.spec.divergences import RegistryError


def cmd_list(args) -> int:
    for name in registry.names():
        op = registry.get(name)
        print(f"{name}  [{op.family}] {op.description}")
        print(f"    outputs: {', '.join(op.outputs)}")
        for v in op.variants.values():
            print(f"    {v.name:<{max(8, max(map(len, op.variants)))}} {v.description}")
        if args.verbose:
            print(f"    audit candidate: {op.candidate_doc}")
    return EXIT_OK


_SHOWN: dict = {}


def _cmd_matrix(args) -> int:
    from parity.cli.matrix import cmd_matrix

    return cmd_matrix(args)


def _cmd_model(args) -> int:
    from parity.cli.common import _out_dir, _require_frameworks
    from parity.cli.model import cmd_model

    _out_dir(args)
    _require_frameworks()
    return cmd_model(args)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="parity", description="TensorFlow vs PyTorch numerical parity harness")
    p.add_argument("--version", action="version", version=f"parity {_version()}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    ls = sub.add_parser("list", help="op pairs, variants, what each compares")
    ls.add_argument("--verbose", "-v", action="store_true", help="also the audit calling convention")
    for name, help_ in (("run", "run the sweep"), ("audit", "audit a torch callable against TF")):
        s = sub.add_parser(name, help=help_)
        if name == "audit":
            from parity.cli.audit import add_arguments
            add_arguments(s)
        else:
            s.add_argument("--ops", help="comma-separated op names (default: all)")
            s.add_argument("--variants", help="comma-separated variants (default: all)")
            s.add_argument("--workers", type=int,
                           help="worker processes (forked from one server that imports the "
                                "frameworks), at most one per core and per case (default 1: in "
                                "this process)")
            s.add_argument("--shard", help="i/n: run only shard i of n (split by case id)")
            s.add_argument("--reference", help="a record archive: judge torch against its TF "
                           "results, TensorFlow never imported")
            s.add_argument("--digests", action="store_true",
                           help="record a hash of each torch output (torch_digest): two runs "
                                "can then be compared bitwise")
            s.add_argument("--budget", type=float,
                           help="seconds: stop at the first case boundary after them, the "
                                "report holding the cases finished (default: the profile's, "
                                "540 for realistic, else none)")
        s.add_argument("--examples", type=int, help="configs drawn per op, every op alike, "
                       f"at most {MAX_EXAMPLES:,} (overrides --profile, whose counts slow ops "
                       "scale down)")
        s.add_argument("--profile", choices=sorted(EXAMPLES),
                       help="default: default; realistic: layer shapes of real networks "
                            "(the ops that have them)")
        s.add_argument("--seed", type=int, help="default 0")
        s.add_argument("--dtypes", action="append", help=f"comma-separated, from {', '.join(DTYPES)}")
        s.add_argument("--out", default="reports", help="report directory (default: reports)")
        _device_flags(s)
    rp = sub.add_parser("replay", help="re-run the cases of an earlier report, matched by id")
    rp.add_argument("baseline", help="a report JSON written by parity run or replay")
    rp.add_argument("--out", default="reports", help="report directory (default: reports)")
    _device_flags(rp)
    rc = sub.add_parser("record", help="store the TF side of planned cases in an archive")
    rc.add_argument("--out", required=True, help="archive file to write (.npz)")
    rc.add_argument("--ops", help="comma-separated op names (default: all)")
    rc.add_argument("--variants", help="comma-separated variants (default: all)")
    rc.add_argument("--examples", type=int, help="configs drawn per op, every op alike, "
                    f"at most {MAX_EXAMPLES:,}")
    rc.add_argument("--profile", choices=sorted(EXAMPLES),
                    help="default: default; realistic: layer shapes of real networks (the ops "
                         "that have them)")
    rc.add_argument("--seed", type=int, help="default 0")
    rc.add_argument("--dtypes", action="append", help=f"comma-separated, from {', '.join(DTYPES)}")
    _device_flags(rc)
    xp = sub.add_parser("matrix", help="one plan under each device setting, run twice, as an "
                        "op x setting matrix")
    from parity.cli.matrix import add_arguments as matrix_arguments
    matrix_arguments(xp)
    mp = sub.add_parser("merge", help="one report from shard or machine reports")
    mp.add_argument("reports", nargs="+")
    mp.add_argument("--out", default="reports", help="report directory (default: reports)")
    hp = sub.add_parser("html", help="the self-contained HTML page of a report")
    hp.add_argument("report")
    hp.add_argument("-o", "--output", help="HTML file (default: the report's name, .html)")
    mo = sub.add_parser("model", help="a Keras model vs a torch module, layer by layer")
    from parity.cli.model import add_arguments as model_arguments
    model_arguments(mo)
    cp = sub.add_parser("compare", help="what changed between two reports (exit 1: regressed)")
    cp.add_argument("baseline")
    cp.add_argument("current")
    from parity.flows.regress import DEFAULT_FAIL_ON
    cp.add_argument("--fail-on", default=DEFAULT_FAIL_ON,
                    help=f"growth thresholds and flags (default: {DEFAULT_FAIL_ON}; "
                         "add not_reproduced to fail when a registered divergence went away)")
    for name, command in sub.choices.items():
        if name not in ("list", "record"):
            command.add_argument("--divergences", action="append", metavar="FILE",
                                 help="a registry of your own known divergences (TOML, as "
                                      "parity/spec/divergences.toml): adds to the shipped one; "
                                      "repeatable; also PARITY_DIVERGENCES")
    return p


@functools.cache
def _version() -> str:
    """The installed distribution's version, else the package's (looked up once)."""
    from importlib import metadata

    try:
        return metadata.version("parity")
    except metadata.PackageNotFoundError:
        from parity import __version__

        return __version__


@contextlib.contextmanager
def _user_registries(files: list[str] | None):
    """``--divergences``: the files join ``PARITY_DIVERGENCES`` (as absolute paths, which
    workers inherit) while the command runs, and are checked before anything else."""
    from parity.spec.divergences import USER_ENV, Registry

    if not files:
        yield
        return
    from unittest import mock

    joined = os.pathsep.join([*filter(None, [os.environ.get(USER_ENV)]),
                              *(os.path.abspath(f) for f in files)])
    with mock.patch.dict(os.environ, {USER_ENV: joined}):  # restored on the way out
        Registry.load()
        yield


def main(argv=None) -> int:
    signals.forget()
    with _sigterm_interrupts():
        try:
            args = build_parser().parse_args(argv)
            with _user_registries(getattr(args, "divergences", None)):
                return _dispatch(args)
        except (BadInput, registry.UnknownOp, ConfigError, RegistryError, ReportError,
                OutputError) as e:
            print(f"parity: error: {printable(str(e))}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except WriteFailed as e:
            print(f"parity: error: {printable(str(e))}", file=sys.stderr)
            return EXIT_NOT_WRITTEN
        except KeyboardInterrupt:
            print("parity: interrupted", file=sys.stderr)
            return signals.exit_code()
        except BrokenPipeError:  # ``parity list | head``: the reader left; nothing to say
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return EXIT_CLOSED_PIPE


def _dispatch(args) -> int:
    return {"list": cmd_list, "run": cmd_run, "audit": cmd_audit, "replay": cmd_replay,
            "compare": cmd_compare, "html": cmd_html, "merge": cmd_merge, "record": cmd_record,
            "matrix": _cmd_matrix, "model": _cmd_model}[args.command](args)


@contextlib.contextmanager
def _sigterm_interrupts():
    """SIGTERM and SIGHUP are Ctrl-C for the whole command (exit 130, 129 for SIGHUP; one
    line), not a silent death (143, 129 with nothing written); while cases run, the session
    defers them to the next case boundary instead."""
    def interrupt(signum, frame):
        signals.note(signum)
        raise KeyboardInterrupt
    previous = signals.install(interrupt)
    try:
        yield
    finally:
        signals.restore(previous)


if __name__ == "__main__":
    sys.exit(main())
