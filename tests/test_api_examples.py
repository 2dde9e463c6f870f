"""Every example of the API guide is what the service answers over the sample archive today."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from werkzeug.exceptions import MethodNotAllowed, NotFound

from tools.api_examples import GUIDE, examples, normalise, regenerate, sample_client


@pytest.fixture(scope="module")
def sample():
    with sample_client() as client:
        yield client


def test_api_guide_examples_match_the_sample_archive(sample):
    current = GUIDE.read_text(encoding="utf-8")
    fresh = regenerate(current, sample)
    assert normalise(fresh) == normalise(current), "run `make docs-examples` and commit docs/api.md"


def test_api_guide_has_an_example_of_every_route(sample):
    adapter = sample.application.url_map.bind("127.0.0.1")
    shown = set()
    for example in examples(GUIDE.read_text(encoding="utf-8")):
        try:
            endpoint, _ = adapter.match(urlsplit(example.path).path, method=example.method)
        except (NotFound, MethodNotAllowed):
            pytest.fail(f"{example.method} {example.path} matches no route")
        shown.add(endpoint)
    routes = {rule.endpoint for rule in sample.application.url_map.iter_rules() if rule.endpoint != "static"}
    assert sorted(routes - shown) == [], "add an `<!-- example: GET … -->` marker to docs/api.md for each"


def test_api_guide_comparison_ignores_only_generation_and_etag():
    shown = '{"meta": {"total": 4, "generation": "15fc4874dbf1355538cd"}}\nETag: W/"c2338f04d2a9481df1ec5507"'
    assert normalise(shown) == normalise(shown.replace("15fc4874", "00000000").replace("c2338f04", "11111111"))
    assert normalise(shown) != normalise(shown.replace('"total": 4', '"total": 5'))
