"""The default text model is plain Python: it loads no torch, numpy or scikit-learn at run
time. (Its speed is measured by `winback evaluate text` and bench/text_stage_cost.py, never by
a test.)"""

from __future__ import annotations

import pytest


@pytest.mark.slow
def test_the_default_needs_no_torch_or_numpy_at_run_time() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from winback.text import analyze; analyze('still waiting'); "
        "print(sorted(m for m in ('torch', 'numpy', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
