"""The ground floor: what every layer uses, importing no framework and no other parity package
(the standard library and NumPy; SciPy for the statistics, Hypothesis's settings for the
profiles): errors, configs and ids, numerics, the tolerance rule, statistics, registry
predicates, layouts, SAME padding, text, outputs, profiles, signals."""
