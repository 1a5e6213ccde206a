"""Playbooks as code: YAML rules that decide what Winback does with each event.

The runtime (:mod:`.model`, :mod:`.engine`) is plain Python, run by the processor's playbook
stage (:mod:`winback.pipeline.stages.playbooks`); reading and validating the YAML lives in
:mod:`.loader` and is used by the composition root and the CLI.
"""
