"""``parity replay``, ``parity merge``, ``parity compare`` and ``parity html``: commands over
reports."""
from __future__ import annotations

from pathlib import Path

from parity.cli.common import (EXIT_DIVERGENCE, EXIT_OK, _choose_device, _out_dir,
                               _plan_or_refuse, _progress, _registry_checked,
                               _require_frameworks)
from parity.cli.run import _conclude
from parity.core.outputs import check_file


def cmd_merge(args) -> int:
    from parity.report import load_report
    from parity.flows.session import merge_reports

    _out_dir(args)
    reports = [(p, load_report(p)) for p in args.reports]
    _registry_checked()
    report, path = merge_reports(reports, out_dir=args.out)  # MergeRefused before it writes
    return _conclude(report, path, "a source was interrupted or a shard is missing")


def cmd_replay(args) -> int:
    from parity.report import load_report
    from parity.flows.session import run_replay

    _out_dir(args)
    baseline = load_report(args.baseline)
    _plan_or_refuse(baseline["cases"], f"{args.baseline} holds none")
    _choose_device(args)
    _registry_checked()
    _require_frameworks()
    report, path = run_replay(baseline, args.baseline, out_dir=args.out, progress=_progress)
    return _conclude(report, path)


def cmd_compare(args) -> int:
    from parity.api import compare

    changes = compare(args.baseline, args.current, fail_on=args.fail_on)
    print(changes.text)
    return EXIT_DIVERGENCE if changes.regressed else EXIT_OK


def cmd_html(args) -> int:
    from parity.report.html import write_html
    from parity.report.stream import open_report

    out = args.output or str(Path(args.report).with_suffix(".html"))
    check_file(out, "-o", inputs=[args.report])
    report = open_report(args.report)   # its cases read one at a time
    print(f"wrote {write_html(report.head, out, report.cases(), report.check_whole)}")
    return EXIT_OK
