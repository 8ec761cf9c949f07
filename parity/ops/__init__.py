"""Op families. Importing this package registers every op pair."""
from parity.ops import batchnorm, conv, decay, groupnorm, norm, pool, transpose, ws_conv  # noqa: F401
