"""Playbooks as code: YAML rules that decide what Winback does with each event (issue 7).

The runtime (:mod:`.model`, :mod:`.engine`, :mod:`.stage`) is plain Python; reading and
validating the YAML lives in :mod:`.loader` and is used by the composition root and the CLI.
"""
