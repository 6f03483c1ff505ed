"""Moved to :mod:`leanprogress.lean.canonical`. This name stays importable for older code."""

import sys

from ..lean import canonical as _moved

# The old name is the same module object, so every name (private ones included) and monkeypatching keep working.
sys.modules[__name__] = _moved
