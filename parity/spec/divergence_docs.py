"""``docs/divergences.md``, generated from the registry (``parity/spec/divergences.toml``).

Never edit the Markdown by hand: ``make docs`` (``python -m parity.spec.divergence_docs``) writes it,
and a test fails when it is stale.

Example:
    >>> from parity.spec.divergences import Divergence
    >>> text = render([Divergence(id="x", ops=["conv2d_same"], statuses=["fail"],
    ...                           mechanism="m", magnitude="all")])
    >>> "## x" in text and "conv2d_same" in text
    True
"""
from __future__ import annotations

import sys
from pathlib import Path

from parity.spec.divergences import DEFAULT_PATH, Divergence, Registry

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "divergences.md"


def _flat(text: str) -> str:
    return " ".join(text.split())


def _entry(e: Divergence) -> list[str]:
    tags = f"tags {', '.join(f'`{t}`' for t in e.tags)}: " if e.tags else ""
    scope = [f"{tags}ops {', '.join(f'`{o}`' for o in e.ops)}",
             f"variants {', '.join(e.variants) if e.variants else 'all'}",
             f"dtypes {', '.join(e.dtypes) if e.dtypes else 'all'}"]
    if e.when != "True":
        scope.append(f"when `{e.when}`")
    lines = [f"## {e.id}", "",
             f"- **Scope:** {'; '.join(scope)}",
             f"- **Explains:** {', '.join(e.statuses)}" +
             (" (intermittent: below the default sample sizes' power)" if e.intermittent else ""),
             f"- **Mechanism:** {_flat(e.mechanism)}",
             f"- **Magnitude:** {_flat(e.magnitude)}"]
    if e.references:
        lines.append(f"- **References:** {'; '.join(e.references)}")
    return lines + [""]


def render(entries: list[Divergence]) -> str:
    """The whole Markdown document for these registry entries."""
    out = ["# Known divergences between TensorFlow and PyTorch", "",
           f"Generated from `parity/spec/divergences.toml` by `make docs`; do not edit. "
           f"{len(entries)} entries. Each run counts, per entry, the cases that exercised its "
           f"scope and those that reproduced it (`reports/*.json`, `divergences`).", ""]
    out += [f"- [{e.id}](#{e.id}): {', '.join(e.ops[:3])}{' ...' if len(e.ops) > 3 else ''}"
            for e in entries]
    out.append("")
    for e in entries:
        out += _entry(e)
    return "\n".join(out)


def main() -> int:
    DOC_PATH.parent.mkdir(exist_ok=True)
    DOC_PATH.write_text(render(Registry.load(DEFAULT_PATH).entries))
    print(f"wrote {DOC_PATH}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
