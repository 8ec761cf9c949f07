"""What an op pair is, framework-free at import: the registry of op pairs and its sides, the
Hypothesis strategies and the sweep, the float64 references, the known-divergence registry
(``divergences.toml``), the realistic shapes, the copied recipes, and the docs generated from
them. Uses ``core/``; the op families in ``ops/`` register here (discovered, not imported)."""
