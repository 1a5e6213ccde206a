"""The default model is plain Python and fast (issue 4 asks >= 5,000 texts/s on one core;
`winback evaluate text` measures it). Here only a floor that survives a loaded CI machine."""

from __future__ import annotations

import time

from winback.text import TextAnalyzer

TEXTS = [
    "Thanks for nothing. Third time I'm asking about my refund!",
    "Great service, thank you!",
    "Can I change my booking to Friday? My number is +44 20 7946 0958",
    "I was on hold for 90 minutes and then the call dropped. I'm switching to a competitor.",
    "The app crashes every time I export, please fix it",
] * 200


def test_the_default_analyses_well_over_a_thousand_texts_a_second() -> None:
    analyzer = TextAnalyzer()
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        for text in TEXTS:
            analyzer.analyze(text)
        best = max(best, len(TEXTS) / (time.perf_counter() - start))
    assert best > 1_000, f"{best:.0f} texts/s"


def test_the_default_needs_no_torch_or_numpy_at_run_time() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from winback.text import analyze; analyze('still waiting'); "
        "print(sorted(m for m in ('torch', 'numpy', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
