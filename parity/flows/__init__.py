"""What the commands do, as library functions: a whole run, replay or merge (``session``), the
audit (``auditing``), the device matrix (``matrix``) and the regression check (``regress``).
They raise ``parity.core.errors`` errors and print nothing; ``parity.api`` and ``parity.cli``
sit on them."""
