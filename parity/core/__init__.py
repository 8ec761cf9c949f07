"""The ground floor: what every layer uses, with the standard library and NumPy only (no
framework, no other parity package): errors, configs and ids, numerics, the tolerance rule,
statistics, registry predicates, layouts, SAME padding, text, outputs, profiles, signals."""
