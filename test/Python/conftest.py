"""Shared set-up of the Python API's tests (run by pytest.test)."""

import atexit
import os
import shutil
import tempfile

# One compile cache for the session: later tests reuse the steps and
# models earlier ones compiled, and nothing is left in ~/.cache.
_cache = tempfile.mkdtemp(prefix="qat-mlir-pytest-cache-")
os.environ["QAT_MLIR_CACHE_DIR"] = _cache
atexit.register(shutil.rmtree, _cache, True)
