"""The first release's pytest helpers, now ``overparam.testing``: importing this module (or
loading it as a pytest plugin) still works, with a ``DeprecationWarning`` saying where they live
(docs/plugins.md, "Compatibility")."""
from __future__ import annotations

import warnings

from overparam.testing import (  # noqa: F401  (re-exported for plugins of API version 2)
    assert_component_contract,
    assert_discovered,
    check_component,
    component_contract,
    overparam_registry,
)

warnings.warn("framework.testing is deprecated since overparam API version 3: import overparam.testing instead "
              "(pytest_plugins = [\"overparam.testing\"]); see docs/plugins.md, 'Compatibility'",
              DeprecationWarning, stacklevel=2)
