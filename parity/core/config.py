"""Frozen, validated, JSON-serialisable configs with stable ids.

Example:
    >>> from parity.ops.conv import ConvConfig
    >>> c = ConvConfig(rank=1, batch=1, in_channels=2, out_channels=2, spatial=(5,),
    ...                kernel=(3,), stride=(2,), dilation=(1,))
    >>> ConvConfig.from_dict(c.to_dict()) == c, len(c.config_id())
    (True, 16)
"""
from __future__ import annotations

import dataclasses
import functools
import json
import typing

from parity.core.numerics import stable_hash


class ConfigError(ValueError):
    """A config that cannot describe a case; its message is one line."""


class Config:
    """Mixin for frozen dataclass configs."""

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:  # pragma: no cover - overridden
        pass

    def to_dict(self) -> dict:
        return {f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v
                for f in dataclasses.fields(self)}

    def config_id(self) -> str:
        return stable_hash(json.dumps(self.to_dict(), sort_keys=True))

    @classmethod
    def from_dict(cls, data: dict):
        """Build and validate from JSON data; any problem is a one-line ``ConfigError``."""
        if not isinstance(data, dict):
            raise ConfigError(f"{cls.__name__} needs a JSON object, got {type(data).__name__}")
        fields, hints = _fields_and_hints(cls)
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise ConfigError(f"{cls.__name__}: unknown field(s) {', '.join(unknown)}; "
                              f"known: {', '.join(fields)}")
        kwargs = {}
        for name, value in data.items():
            want = hints[name]
            if typing.get_origin(want) is tuple:
                if not isinstance(value, (list, tuple)) or \
                        not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
                    raise ConfigError(f"{cls.__name__}.{name} must be a list of integers, "
                                      f"got {value!r}")
                value = tuple(value)
            elif want is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)  # JSON writes 0.0 as 0
            elif not isinstance(value, want) or (want is int and isinstance(value, bool)):
                raise ConfigError(f"{cls.__name__}.{name} must be {want.__name__}, got {value!r}")
            kwargs[name] = value
        try:
            return cls(**kwargs)
        except TypeError as e:
            raise ConfigError(f"{cls.__name__}: {e}") from None


@functools.lru_cache(maxsize=None)
def _fields_and_hints(cls) -> tuple[dict, dict]:
    """Dataclass fields and resolved type hints of a config class (resolving is slow)."""
    return {f.name: f for f in dataclasses.fields(cls)}, typing.get_type_hints(cls)


@dataclasses.dataclass(frozen=True)
class ChannelsInput(Config):
    """Fields shared by configs of a channels-first input ``(batch, channels, *spatial)``
    (pooling, batch and group normalization); subclasses add theirs after these."""
    rank: int
    batch: int
    channels: int
    spatial: tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class ConvGeometry(Config):
    """Fields shared by convolution configs (plain and transposed): input ``(batch,
    in_channels, *spatial)``, ``out_channels``, and per spatial dimension kernel, stride and
    dilation."""
    rank: int
    batch: int
    in_channels: int
    out_channels: int
    spatial: tuple[int, ...]
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]

    def require_geometry(self, *counts: str) -> None:
        """``require_geometry`` of these fields, and of the subclass's ``counts`` (>= 1)."""
        require_geometry(self, ("spatial", "kernel", "stride", "dilation"),
                         ("batch", "in_channels", "out_channels", *counts))


def require(condition: bool, message: str) -> None:
    """Raise ``ConfigError(message)`` unless ``condition``."""
    if not condition:
        raise ConfigError(message)


def require_geometry(config, tuples: tuple[str, ...] = (), counts: tuple[str, ...] = ()) -> None:
    """The checks every spatial config shares: ``rank`` is 1, 2 or 3, each field named in
    ``tuples`` holds ``rank`` values >= 1, each named in ``counts`` is >= 1, and ``dtype`` is
    known."""
    require(config.rank in (1, 2, 3), f"rank must be 1, 2 or 3, got {config.rank}")
    for name in tuples:
        v = getattr(config, name)
        require(len(v) == config.rank, f"{name} needs {config.rank} values, got {list(v)}")
        require(all(i >= 1 for i in v), f"{name} values must be >= 1, got {list(v)}")
    for name in counts:
        require(getattr(config, name) >= 1, f"{name} must be >= 1, got {getattr(config, name)}")
    require_dtype(config.dtype)


def require_dtype(dtype: str) -> None:
    """``ConfigError`` unless ``dtype`` is one the harness knows."""
    from parity.core.numerics import check_dtype

    try:
        check_dtype(dtype)
    except ValueError as e:
        raise ConfigError(str(e)) from None
