"""Schemathesis hooks for the live fuzz run (`SCHEMATHESIS_HOOKS=bench.st_hooks`): the contract suite's own checks
(problem+json status, nosniff and Cache-Control, no canary) and its path filter (a generated path that is another
operation's concrete path is dropped), registered by importing them."""

from tests.test_contract import (  # noqa: F401
    filter_path_parameters,
    no_canary,
    nosniff_and_cache_control,
    problem_status_matches,
)
