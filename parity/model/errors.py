"""The model comparison's one error."""


class ModelError(ValueError):
    """A model pair that cannot be compared (unmappable layer, bad mapping, bad input): one line."""
