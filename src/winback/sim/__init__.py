"""The company simulator: a seeded company's customers and events, with hidden ground truth.

Pure logic lives in :mod:`rng`, :mod:`industries`, :mod:`model`, :mod:`text`,
:mod:`customers` and :mod:`generator` (no database, no HTTP); :mod:`compare` runs the closed
loop against Winback's real pipeline and :mod:`live` streams a company into a running server.
See ``docs/simulator.md``.
"""
