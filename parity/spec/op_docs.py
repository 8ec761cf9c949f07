"""``docs/ops.md``, generated from the op declarations (``parity.ops``).

Never edit the Markdown by hand: ``make docs`` (``python -m parity.spec.op_docs``) writes it, and a
test fails when it is stale. A new op module appears here without any other file changing.

Example:
    >>> "| `conv2d_same` |" in render()
    True
"""
from __future__ import annotations

import sys
from pathlib import Path

from parity.spec import registry

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "ops.md"


def _first_line(fn) -> str:
    doc = (getattr(fn, "__doc__", None) or "").strip()
    return " ".join(doc.split("\n\n")[0].split()).replace("|", "\\|")


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def render() -> str:
    """The whole Markdown document for the registered op pairs."""
    ops = [registry.get(n) for n in registry.names()]
    out = ["# Op pairs and variants", "",
           f"Generated from the op declarations in `parity/ops/` by `make docs`; do not edit. "
           f"{len(ops)} op pairs. `parity list` prints the same from the command line.", "",
           "| op | family | compares | outputs | variants | tags |", "|---|---|---|---|---|---|"]
    out += [f"| `{op.name}` | {op.family} | {_cell(op.description)} | {', '.join(op.outputs)} | "
            f"{', '.join(f'`{v}`' for v in op.variants)} | {', '.join(op.tags) or '-'} |"
            for op in ops]
    for op in ops:
        out += ["", f"## {op.name}", "", _cell(op.description), "",
                "| variant | compares | TF side |", "|---|---|---|"]
        out += [f"| `{v.name}` | {_cell(v.description)} | {_first_line(op.tf_sides[v.tf])} |"
                for v in op.variants.values()]
        out += ["", f"Audit candidates: {_cell(op.candidate_doc)}. Audits are judged against "
                f"the TF side `{op.audit_tf}`: {_first_line(op.tf_sides[op.audit_tf])}"]
        if op.tf32_outputs:
            out += ["", f"Computed by convolution or matmul kernels (TF32 on CUDA): "
                        f"{', '.join(op.tf32_outputs)}."]
        if op.realistic is not None:
            out += ["", f"Realistic shapes (`--profile realistic`): the `{op.realistic.kind}` "
                        "layers below."]
    return "\n".join(out + _realistic_layers(ops)) + "\n"


def _realistic_layers(ops) -> list[str]:
    from parity.spec import realistic

    out = ["", "## Realistic shapes", "",
           "Layers of real networks that `--profile realistic` draws (`parity/spec/realistic.py`), "
           "batch 1 to 8 within a cost cap per dtype; float16 takes only the cheaper ones.", "",
           "| layers | ops | network | layer | input x channels, geometry | float16 |",
           "|---|---|---|---|---|---|"]
    for kind, layers in realistic.LAYERS.items():
        users = ", ".join(f"`{op.name}`" for op in ops
                          if op.realistic is not None and op.realistic.kind == kind)
        half = realistic.affordable(kind, "float16")
        out += [f"| `{kind}` | {users} | {_cell(layer.network)} | {_cell(layer.name)} | "
                f"{realistic.describe(layer)} | {'yes' if layer in half else '-'} |"
                for layer in layers]
    return out


def main() -> int:
    DOC_PATH.parent.mkdir(exist_ok=True)
    DOC_PATH.write_text(render())
    print(f"wrote {DOC_PATH}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
