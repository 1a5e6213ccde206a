"""The company simulator: a seeded company's customers and events, with hidden ground truth.

Pure logic lives in :mod:`rng`, :mod:`industries`, :mod:`model`, :mod:`text`,
:mod:`customers`, :mod:`generator` (the engine) and the engine's parts, :mod:`schedule`,
:mod:`clock`, :mod:`churn`, :mod:`activity`, :mod:`problems`, :mod:`feedback` and
:mod:`response` (no database, no HTTP); :mod:`compare` runs the closed loop against Winback's
real pipeline and :mod:`live` streams a company into a running server.
See ``docs/simulator.md``.
"""
