"""Op families. Importing this package registers every op pair."""
from parity.ops import (batchnorm, conv, decay, groupnorm, init_default, init_keras,
                        norm, pool,  # noqa: F401
                        transpose, ws_conv)
