"""ETags a client cannot compute: a MAC of the response-cache key under the server secret, so a 304 answers only
a tag this API issued for a 200; a made-up tag for a resource that does not exist stays a 404."""

from __future__ import annotations

import hashlib

from api import clock
from api.keys import cache_key
from tests.conftest import SEED_SLUG, make_app


def _public_tags(app, path: str) -> list[str]:
    """Tags anyone could compute from public values (content version, code version, path, arguments, language)."""
    content = app.extensions["store"].current().key(clock.now())
    scope = app.extensions["signer"].scope  # public: a digest of the secret, not the secret
    key = cache_key("response", content=content, secret=scope, base="http://localhost", path=path, args={}, lang="en")
    digests = [hashlib.blake2b(key.encode(), digest_size=12).hexdigest(), hashlib.sha256(key.encode()).hexdigest()]
    return [f'W/"{d}"' for d in digests]


def test_etag_computed_tag_for_a_missing_slug_is_a_404(client, app):
    for path in ("/v1/articles/no-such-slug", "/v1/issues/2099-01-05", "/v1/sections/no-such-section"):
        for tag in _public_tags(app, path):
            resp = client.get(path, headers={"If-None-Match": tag})
            assert resp.status_code == 404, (path, tag)
            assert resp.headers["Cache-Control"] == "no-store"


def test_etag_is_not_a_public_function_of_the_key(client, app):
    path = f"/v1/articles/{SEED_SLUG}"
    issued = client.get(path).headers["ETag"]
    assert issued not in _public_tags(app, path)
    assert client.get(path, headers={"If-None-Match": issued}).status_code == 304


def test_etag_instances_sharing_a_secret_agree(loaded):
    one = make_app(loaded, SIGNING_SECRET="shared-secret", HOT_CACHE_MAX_BYTES=0)
    two = make_app(loaded, SIGNING_SECRET="shared-secret")
    other = make_app(loaded, SIGNING_SECRET="another-secret")
    tag = one.test_client().get("/v1/issues").headers["ETag"]
    assert two.test_client().get("/v1/issues", headers={"If-None-Match": tag}).status_code == 304
    assert other.test_client().get("/v1/issues", headers={"If-None-Match": tag}).status_code == 200
    for app in (one, two, other):
        app.extensions["store"].dispose()


def test_etag_default_secret_file_is_created_once_and_shared(loaded, tmp_path):
    path = tmp_path / "keys" / "signing.key"
    one = make_app(loaded, SIGNING_SECRET="", SIGNING_SECRET_FILE=str(path))
    secret = path.read_bytes()
    assert len(secret) >= 32 and path.stat().st_mode & 0o077 == 0
    two = make_app(loaded, SIGNING_SECRET="", SIGNING_SECRET_FILE=str(path))
    assert path.read_bytes() == secret
    assert one.test_client().get("/v1").headers["ETag"] == two.test_client().get("/v1").headers["ETag"]
    for app in (one, two):
        app.extensions["store"].dispose()
