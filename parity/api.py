"""The Python API: what ``parity run``, ``parity audit`` and ``parity compare`` do, returning
objects instead of exit codes (``parity.run``, ``parity.audit``, ``parity.compare``).

Bad input raises ``parity.core.errors.BadInput``, a ``ValueError``, with the CLI's one-line message
(an unknown op or dtype, a candidate that cannot be imported); nothing here prints. The CLI's
``run``, ``audit`` and ``compare`` are this module plus their printing.

Example (a sweep, an audit of a shipped port and of a wrong one, a comparison):
    >>> import tempfile, parity
    >>> out = tempfile.mkdtemp()
    >>> report = parity.run(["conv1d_same"], variants=["port"], dtypes=["float32"],
    ...                     examples=3, out=out)
    >>> len(report.cases), report.ok
    (3, True)
    >>> from parity.ports import conv1d_same
    >>> parity.audit("conv1d_same", conv1d_same, examples=3, dtypes=["float32"], out=out).passed
    True
    >>> import torch.nn.functional as F
    >>> unpadded = lambda x, w, b, stride, dilation, groups: F.conv1d(x, w, b, stride, 0,
    ...                                                               dilation, groups)
    >>> result = parity.audit("conv1d_same", unpadded, examples=10, dtypes=["float32"],
    ...                       out=out)
    >>> result.passed, "minimal config" in result.explain()
    (False, True)
    >>> parity.compare(report, report).regressed
    False
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from parity.core.errors import BadInput
from parity.core.outputs import check_dir


@dataclass(frozen=True)
class Report:
    """A report as written (``data``, valid against the schema) and where (``path``)."""
    data: dict
    path: Path | None = None

    @classmethod
    def load(cls, path: str | Path) -> "Report":
        """Read and validate a report file (``ValueError`` if it is not one)."""
        from parity.report import load_report

        return cls(load_report(path), Path(path))

    @property
    def cases(self) -> list[dict]:
        return self.data["cases"]

    @property
    def unexpected(self) -> list[dict]:
        """The cases that make ``parity run`` exit 1: a fail or an error, or a refusal that
        no registry entry explains."""
        from parity.report.build import unexpected

        return [c for c in self.cases if unexpected(c)]

    @property
    def ok(self) -> bool:
        """Complete, and no unexpected case."""
        return self.data["complete"] and not self.unexpected


@dataclass(frozen=True)
class AuditResult:
    """An audit's report; ``passed``, the failure classes, and ``explain()``: the text
    ``parity audit`` prints (each class with its shrunk config and a repro snippet)."""
    report: Report

    @property
    def passed(self) -> bool:
        return self.report.data["audit"]["verdict"] == "pass" and self.report.data["complete"]

    @property
    def classes(self) -> list[dict]:
        return self.report.data["audit"]["classes"]

    def explain(self) -> str:
        from parity.flows.auditing import class_lines

        a = self.report.data["audit"]
        head = f"audit {a['op']} {a['candidate']}"
        if self.passed:
            return f"{head}: pass; report: {self.report.path}"
        return "\n".join(class_lines(self.report.data, head) + [f"report: {self.report.path}"])


@dataclass(frozen=True)
class Changes:
    """What changed from a baseline report to a current one (``parity compare``)."""
    comparison: object  # parity.flows.regress.Comparison
    text: str

    @property
    def regressed(self) -> bool:
        return bool(self.comparison.regressions)

    @property
    def regressions(self) -> list[tuple[str, str, str]]:
        """(kind, case id or entry, detail) for each regression."""
        return list(self.comparison.regressions)


def run(ops: list[str] | str | None = None, *, variants: list[str] | str | None = None,
        dtypes: list[str] | str | None = None, examples: int | None = None,
        profile: str | None = None, seed: int = 0, workers: int = 1,
        shard: tuple[int, int] | None = None, budget_s: float | None = None,
        out: str | Path = "reports", progress=None) -> Report:
    """``parity run``: every planned case of ``ops`` (default all; a list, or names separated
    by commas, as are ``variants`` and ``dtypes``); ``examples`` configs per op, every op
    alike, or the ``profile``'s counts (default ``default``). ``shard=(i, n)`` keeps shard i of
    n; ``budget_s`` stops at the first case boundary after that many seconds (default: the
    profile's). The report is written to ``out``; its ``path`` is on the result."""
    from parity.flows.runs import selected_run

    with _bad_input():
        data, path = selected_run(_comma(ops), _comma(variants), dtypes, examples, profile, seed,
                                  workers, shard, budget_s, out, progress)
    return Report(data, Path(path))


def audit(op: str, candidate, *, examples: int | None = None, profile: str | None = None,
          seed: int = 0, dtypes: list[str] | str | None = None, nonfinite: str = "tf",
          forward_only: bool = False, module: bool = False, name: str | None = None,
          case_timeout: float | None = None, memory_gib: float | None = None,
          out: str | Path = "reports", progress=None) -> AuditResult:
    """``parity audit``: ``candidate`` against TensorFlow on ``op``'s configs, failures
    grouped and shrunk. A callable runs in this process; a ``"package.module:function"``
    string runs in a worker process (a crash or hang is then a failed case, not a dead
    caller), with ``case_timeout`` seconds per case and ``memory_gib`` of address space
    (defaults 60 and 16; ``memory_gib=0``: no limit). ``examples`` default: the profile's count
    (``default``: 56). ``name``: how reports and repro snippets call the candidate (default:
    the string, or ``module:qualname``)."""
    from parity.flows import plan
    from parity.flows.auditing import run_audit
    from parity.exec.candidates import CandidateError
    from parity.exec.isolation import DEFAULT_MEMORY_GIB, DEFAULT_TIMEOUT_S, CandidateUnusable
    from parity.core.profiles import shapes_of

    with _bad_input():
        shapes = shapes_of(profile)
        plan.ops(op, shapes)
        dtypes = plan.dtypes([dtypes] if isinstance(dtypes, str) else dtypes)
        count = plan.examples(examples, profile)
        timeout = DEFAULT_TIMEOUT_S if case_timeout is None else case_timeout
        if not timeout > 0:
            raise BadInput("--case-timeout must be positive")
        plan.registry_checked()
        plan.require_frameworks()
        name = name or (candidate if isinstance(candidate, str) else _name_of(candidate))
        try:
            data, path = run_audit(
                op, candidate, name, examples=count, seed=seed, dtypes=dtypes,
                out_dir=check_dir(str(out)), nonfinite=nonfinite, forward_only=forward_only,
                module=module, case_timeout=timeout,
                memory_gib=DEFAULT_MEMORY_GIB if memory_gib is None else (memory_gib or None),
                progress=progress, shapes=shapes)
        except (CandidateUnusable, CandidateError) as e:
            raise BadInput(f"candidate {name}: {e}") from None
    return AuditResult(Report(data, Path(path)))


def _model_report(path) -> bool:
    from parity.report.stream import open_report

    return bool(open_report(path).head.get("model"))


def compare(baseline, current, *, fail_on: str | None = None) -> Changes:
    """``parity compare``: ``baseline`` and ``current`` are reports (``Report``, a report dict
    or a path); ``fail_on`` as the CLI's ``--fail-on``."""
    from parity.flows import regress
    from parity.model.layer_cases import as_sweep

    def briefed(r):
        """(head, brief of the cases, name); a file is read one case at a time. A model
        report's layers are its cases (``parity.model.layer_cases``)."""
        if isinstance(r, Report):
            return r.data, regress.brief(as_sweep(r.data)["cases"]), r.path
        if isinstance(r, dict):
            return r, regress.brief(as_sweep(r)["cases"]), "(in memory)"
        return (*regress.brief_file(r), r)

    try:  # the thresholds first: a bad --fail-on is refused before any report is read
        thresholds = regress.parse_fail_on(fail_on or regress.DEFAULT_FAIL_ON)
    except regress.BadThreshold as e:
        raise BadInput(str(e)) from None
    import multiprocessing

    files = not isinstance(baseline, (Report, dict)) and not isinstance(current, (Report, dict))
    if files and (_model_report(baseline) or _model_report(current)):   # small: read whole
        baseline, current, files = Report.load(baseline), Report.load(current), False
    if files and (os.cpu_count() or 1) > 1 and "fork" in multiprocessing.get_all_start_methods():
        # the two files read side by side, the baseline in a forked process
        from parity.report.stream import side_by_side

        (b, b_brief), (c, c_brief) = side_by_side(regress.brief_file, baseline, current)
        b_path, c_path = baseline, current
    else:
        (b, b_brief, b_path), (c, c_brief, c_path) = briefed(baseline), briefed(current)
    cmp = regress.compare_briefs(b, b_brief, c, c_brief, thresholds)
    return Changes(cmp, regress.render(cmp, b_path, c_path))


def equivalence_failures(tf_fn, torch_fn, inputs, *, rtol: float | None = None,
                         atol: float | None = None) -> list[str]:
    """Call ``tf_fn`` (a Keras layer or a TF function) and ``torch_fn`` on the same ``inputs``
    (a NumPy array or a tuple of them, each in its function's own layout) and compare the
    outputs (a tensor, or a tuple, list or dict of them): the same dtype, then values within
    ``torch.testing.assert_close``'s tolerance for that dtype unless ``rtol`` and ``atol`` are
    given. Returns one text per output that differs (empty: equivalent).

    >>> import numpy as np, tensorflow as tf, torch
    >>> x = np.linspace(-2, 2, 12, dtype="float32").reshape(3, 4)
    >>> equivalence_failures(tf.nn.relu, torch.relu, x)
    []
    >>> print(equivalence_failures(tf.nn.relu, torch.nn.functional.gelu, x)[0].splitlines()[0])
    output 0: Tensor-likes are not close!
    >>> equivalence_failures(tf.nn.relu, lambda t: torch.relu(t).half(), x)
    ['output 0: dtypes differ: TF float32, torch float16']
    """
    import numpy as np

    from parity.backends import tf as T, torch as P

    args = inputs if isinstance(inputs, (tuple, list)) else (inputs,)
    arrays = [np.asarray(a) for a in args]
    tf_out = tf_fn(*[T.constant(a, str(a.dtype)) for a in arrays])
    with P.torch().no_grad():
        torch_out = torch_fn(*[P.tensor(a, str(a.dtype)) for a in arrays])
    tf_items, torch_items = _outputs(tf_out), _outputs(torch_out)
    if list(tf_items) != list(torch_items):
        return [f"outputs differ in structure: TF gives {list(tf_items)}, torch "
                f"{list(torch_items)}"]
    torch = P.torch()
    failures = []
    for name, t in torch_items.items():
        tf_dtype, torch_dtype = tf_items[name].dtype.name, str(t.dtype).removeprefix("torch.")
        if tf_dtype != torch_dtype:  # a lower precision is a difference, not a looser check
            failures.append(f"output {name}: dtypes differ: TF {tf_dtype}, torch {torch_dtype}")
            continue
        expected = torch.from_numpy(T.to_numpy(tf_items[name])).to(t.dtype).to(t.device)
        try:
            torch.testing.assert_close(t.detach(), expected, rtol=rtol, atol=atol)
        except AssertionError as e:
            failures.append(f"output {name}: {e}")
    return failures


def _outputs(out) -> dict:
    if isinstance(out, dict):
        return dict(out)
    if isinstance(out, (tuple, list)):
        return dict(enumerate(out))
    return {0: out}


def _comma(names: list[str] | str | None) -> str | None:
    return names if names is None or isinstance(names, str) else ",".join(names)


def _name_of(fn) -> str:
    return f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', type(fn).__name__)}"


class _bad_input:
    """An unknown op (a KeyError inside) as ``BadInput``, the ValueError every other bad input
    raises, with the same one-line message."""

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        from parity.spec.registry import UnknownOp

        if kind is not None and issubclass(kind, UnknownOp):
            raise BadInput(str(value)) from None
        return False


def repro(op: str, variant: str, config: dict, seed: int, candidate: str | None = None,
          nonfinite: str = "tf", forward_only: bool = False, module: bool = False) -> dict:
    """Re-run one case (as printed in a report's ``repro``) and print its verdict.

    ``candidate`` is ``"package.module:function"`` for an audited implementation (run in this
    process), with the audit's ``nonfinite``, ``forward_only`` and ``module`` options.
    """
    from parity.exec.candidates import in_process_side
    from parity.exec.runner import run_case
    from parity.flows.plan import describe, load_candidate
    from parity.spec.divergences import Registry
    from parity.spec.registry import get

    side = in_process_side(get(op), load_candidate(candidate), module=module,
                           forward_only=forward_only) if candidate else None
    record = run_case(op, variant, config, seed, candidate_name=candidate,
                      divergences=Registry.load(), torch_side=side, nonfinite=nonfinite,
                      outputs=("y",) if forward_only else None)
    print("\n".join(describe(record)))
    return record
