"""Registry predicates as data: a small expression language checked before it is evaluated.

A predicate (``when`` or ``environment`` of a divergence entry) may use the names it is given
(config fields, ``op``, ``variant``, or the environment facts), numbers, strings, ``True``/
``False``/``None``, tuples and lists of those, comparisons (``in`` too), ``and``/``or``/``not``,
``x if c else y``, ``+ - * / // %`` on numbers, subscripts with an integer or a slice, calls
of the helpers in ``HELPERS``, and generator expressions as the argument of a helper
(``any(k > n for n, k in zip(spatial, window))``). Nothing else parses: no attributes, no
dunder or underscore names, no lambdas, no list/set/dict comprehensions, no ``**``, no keyword
arguments. So a registry file cannot reach Python objects (the classic
``().__class__.__base__.__subclasses__()`` escape has nowhere to start), and it cannot run
for long: arithmetic takes numbers only and stops at 2**256, ``range`` at 10,000 items,
generators do not nest.

Example:
    >>> p = Predicate("any(k > n for n, k in zip(spatial, window)) and startswith(op, 'max')",
    ...               names={"spatial", "window", "op"})
    >>> p({"spatial": [3, 2], "window": [2, 3], "op": "max_pool2d_same"})
    True
    >>> Predicate("().__class__", names=set())
    Traceback (most recent call last):
    ...
    parity.core.predicate.PredicateError: attribute access is not allowed: '().__class__'
"""
from __future__ import annotations

import ast
import numbers

MAX_INT = 2 ** 256
MAX_RANGE = 10_000


class PredicateError(ValueError):
    """A predicate that is not in the language, names an unknown field, or fails."""


def _number(*values):
    for v in values:
        if not isinstance(v, numbers.Real):
            raise TypeError(f"arithmetic on {type(v).__name__} {v!r}: numbers only")


def _range(*args):
    _number(*args)
    r = range(*args)
    if len(r) > MAX_RANGE:
        raise OverflowError(f"range of {len(r)} items (at most {MAX_RANGE})")
    return r


def _startswith(text, prefix):
    if not isinstance(text, str) or not isinstance(prefix, (str, tuple)):
        raise TypeError("startswith(text, prefix) takes strings")
    return text.startswith(prefix)


def _endswith(text, suffix):
    if not isinstance(text, str) or not isinstance(suffix, (str, tuple)):
        raise TypeError("endswith(text, suffix) takes strings")
    return text.endswith(suffix)


def _version_in(version, specifier):
    """Whether ``version`` (``"2.13.0+cpu"``) satisfies the PEP 440 ``specifier``
    (``">=2.12,<2.14"``); an absent version (``""``) satisfies none."""
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    if not isinstance(version, str) or not isinstance(specifier, str):
        raise TypeError("version_in(version, specifier) takes strings")
    return bool(version) and SpecifierSet(specifier).contains(Version(version),
                                                              prereleases=True)


HELPERS = {"min": min, "max": max, "any": any, "all": all, "len": len, "sum": sum, "zip": zip,
           "abs": abs, "range": _range, "startswith": _startswith, "endswith": _endswith,
           "version_in": _version_in}
_ARITH = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b,
          ast.Mult: lambda a, b: a * b, ast.Div: lambda a, b: a / b,
          ast.FloorDiv: lambda a, b: a // b, ast.Mod: lambda a, b: a % b}
_OPS = {cls: f"_p_{cls.__name__.lower()}" for cls in _ARITH}


_PLAIN = (int, float, bool)  # the fast path; other numbers.Real (NumPy scalars) are checked


def _arith(fn):
    def checked(a, b):
        if type(a) not in _PLAIN or type(b) not in _PLAIN:
            _number(a, b)
        result = fn(a, b)
        if type(result) is int and not -MAX_INT <= result <= MAX_INT:
            raise OverflowError("integer beyond 2**256")
        return result
    return checked


_RUNTIME = {name: _arith(_ARITH[cls]) for cls, name in _OPS.items()}
_RUNTIME["_p_neg"] = lambda a: _RUNTIME["_p_sub"](0, a)
_RUNTIME["_p_pos"] = lambda a: _RUNTIME["_p_add"](0, a)
_ALLOWED = (ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub,
            ast.UAdd, ast.BinOp, ast.Compare, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt,
            ast.GtE, ast.In, ast.NotIn, ast.Is, ast.IsNot, ast.IfExp, ast.Name, ast.Load,
            ast.Store, ast.Constant, ast.Tuple, ast.List, ast.Subscript, ast.Slice, ast.Call,
            ast.GeneratorExp, ast.comprehension, *_ARITH)


def _refuse(node, text: str, what: str):
    raise PredicateError(f"{what} is not allowed: {ast.get_source_segment(text, node)!r}")


class _Checker(ast.NodeVisitor):
    """Walks a parsed predicate; collects the free names; refuses anything outside the language."""

    def __init__(self, text: str):
        self.text, self.free, self.bound, self.in_generator = text, set(), [], False

    def generic_visit(self, node):
        if isinstance(node, ast.Attribute):
            _refuse(node, self.text, "attribute access")
        if isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp)):
            _refuse(node, self.text, "a lambda or comprehension")
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            _refuse(node, self.text, "'**'")
        if not isinstance(node, _ALLOWED):
            _refuse(node, self.text, f"{type(node).__name__}")
        super().generic_visit(node)

    def visit_Constant(self, node):
        if not isinstance(node.value, (int, float, str, bool, type(None))):
            _refuse(node, self.text, f"a {type(node.value).__name__} constant")
        if isinstance(node.value, str) and "__" in node.value:
            _refuse(node, self.text, "a dunder string")

    def visit_Subscript(self, node):
        index = node.slice
        if isinstance(index, ast.Constant) and not isinstance(index.value, int):
            _refuse(node, self.text, "a subscript other than an integer or a slice")
        self.generic_visit(node)

    def visit_Name(self, node):
        if node.id.startswith("_"):
            _refuse(node, self.text, "an underscore name")
        if isinstance(node.ctx, ast.Load) and not any(node.id in b for b in self.bound):
            self.free.add(node.id)

    def visit_Call(self, node):
        if not isinstance(node.func, ast.Name) or node.func.id not in HELPERS:
            _refuse(node.func, self.text, "calling anything but " + ", ".join(HELPERS))
        if node.keywords:
            _refuse(node, self.text, "a keyword argument")
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                _refuse(arg, self.text, "'*' unpacking")
            self.visit(arg)

    def visit_GeneratorExp(self, node):
        if self.in_generator:
            _refuse(node, self.text, "a generator inside a generator")
        targets = set()
        for gen in node.generators:
            self.visit(gen.iter)
            for t in ast.walk(gen.target):
                if not isinstance(t, (ast.Name, ast.Tuple, ast.Store)):
                    _refuse(gen.target, self.text, "a target other than names")
                if isinstance(t, ast.Name):
                    if t.id.startswith("_"):
                        _refuse(t, self.text, "an underscore name")
                    targets.add(t.id)
        self.bound.append(targets)
        self.in_generator = True
        for gen in node.generators:
            for cond in gen.ifs:
                self.visit(cond)
            if gen.is_async:
                _refuse(node, self.text, "async")
        self.visit(node.elt)
        self.in_generator = False
        self.bound.pop()


class _Rewrite(ast.NodeTransformer):
    """Arithmetic through the checked functions (numbers only, bounded)."""

    def visit_BinOp(self, node):
        self.generic_visit(node)
        return ast.copy_location(ast.Call(ast.Name(_OPS[type(node.op)], ast.Load()),
                                          [node.left, node.right], []), node)

    def visit_UnaryOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, (ast.USub, ast.UAdd)):
            name = "_p_neg" if isinstance(node.op, ast.USub) else "_p_pos"
            return ast.copy_location(ast.Call(ast.Name(name, ast.Load()), [node.operand], []),
                                     node)
        return node


class Predicate:
    """A checked predicate; ``names``: the names it may use besides the helpers (None: any)."""

    def __init__(self, text: str, names: set[str] | None = None, label: str = "predicate"):
        if not isinstance(text, str):
            raise PredicateError(f"{label} must be a string, got {type(text).__name__}")
        self.text = text
        try:
            tree = ast.parse(text, mode="eval")
        except SyntaxError as e:
            raise PredicateError(f"{label} {text!r} does not parse: {e.msg}") from None
        checker = _Checker(text)
        checker.visit(tree)
        self.names = checker.free - set(HELPERS)
        unknown = sorted(self.names - names) if names is not None else []
        if unknown:
            raise PredicateError(f"{label} {text!r} names unknown field(s) {', '.join(unknown)}")
        tree = ast.fix_missing_locations(_Rewrite().visit(tree))
        self._code = compile(tree, f"<{label}>", "eval")

    def __call__(self, scope: dict) -> bool:
        env = {k: v for k, v in scope.items() if k in self.names}
        env.update(HELPERS, **_RUNTIME, __builtins__={})
        return bool(eval(self._code, env))  # noqa: S307 - a checked expression, see module doc
