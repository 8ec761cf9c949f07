"""Op families. Importing this package registers every op pair."""
from parity.ops import (batchnorm, conv, decay, groupnorm, init_default, init_keras,
                        norm, pool,  # noqa: F401
                        transpose, ws_conv)
from parity.ops import keras_torch  # noqa: F401,E402  (adds variants to the ops above)
from parity.ops import thirdparty  # noqa: F401,E402
