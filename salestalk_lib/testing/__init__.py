"""Helpers for users' own tests: fault injection in front of an endpoint and valid sample data.

Owns `FaultProxy`/`FaultProfile` (throttling, 5xx, resets and lost responses injected at
the HTTP level, so the real retry path runs; `faults`) and deterministic sample messages
and metrics that pass the contract (`samples`). It may import `contract` and `dynamo`;
nothing in the library's runtime imports it except the CLI's `--faults` option.
"""
