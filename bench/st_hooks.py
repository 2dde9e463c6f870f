"""Schemathesis hooks for the live fuzz run (`SCHEMATHESIS_HOOKS=bench.st_hooks`): the contract suite's own checks
(problem+json status, nosniff and Cache-Control, no canary), registered by importing them."""

from tests.test_contract import no_canary, nosniff_and_cache_control, problem_status_matches  # noqa: F401
