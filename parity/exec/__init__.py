"""Running cases: one case on both sides (``runner``), users' candidates, torch sides in worker
processes (``isolation``, ``worker``), workers forked from a preloaded server (``forking``,
``preload``) and plans spread over workers (``parallel``). Workers run ``module:function``
targets, never the CLI."""
