"""The server secret and what it keys: ETags and the opaque tokens a client hands back (cursors, change tokens).

Every value a client could otherwise compute or edit is keyed with one secret (BLAKE2b in keyed mode): an ETag is
a MAC of the response-cache key, so nobody can make up a tag for a resource that does not exist; a token is its
payload plus a MAC, so an edited or made-up token is refused before anything in it is read. Instances that serve
the same clients must share the secret (SIGNING_SECRET, or the same SIGNING_SECRET_FILE); by default it is a random
value written once to data/signing.key, which every worker and every `make run` on one machine shares.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from pathlib import Path

MAC_BYTES = 16


def load_secret(value: str, path: str) -> bytes:
    """SIGNING_SECRET when set, else the contents of SIGNING_SECRET_FILE, created (random, mode 0600) if missing."""
    if value:
        return value.encode()
    file = Path(path)
    try:
        found = file.read_bytes().strip()
    except FileNotFoundError:
        found = b""
    if found:
        return found
    file.parent.mkdir(parents=True, exist_ok=True)
    draft = file.with_name(f".{file.name}.{os.getpid()}.{secrets.token_hex(4)}")
    draft.write_bytes(secrets.token_hex(32).encode())
    draft.chmod(0o600)
    try:
        os.link(draft, file)  # atomic and never replaces: of two processes starting at once, one secret wins
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return file.read_bytes().strip()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    """The bytes of a token part, which must be written exactly as `_b64` writes them: base64 lets the unused
    low bits of the last character vary, and a token that several strings decode to is not one token."""
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(raw) != text:
        raise ValueError("not the canonical encoding")
    return raw


class Signer:
    """MACs under one server secret. `scope` names the secret publicly: response-cache keys carry it, so apps with
    different secrets never share a cached body (its links hold cursors signed with the secret)."""

    def __init__(self, secret: bytes):
        # BLAKE2b takes keys of up to 64 bytes; a longer secret is reduced to one first.
        self._key = secret if len(secret) <= 64 else hashlib.blake2b(secret).digest()
        self.scope = self.mac(b"scope", 8).hex()

    def mac(self, data: bytes, size: int = MAC_BYTES) -> bytes:
        return hashlib.blake2b(data, key=self._key, digest_size=size, person=b"bulletin-api").digest()

    def etag(self, cache_key: str) -> str:
        """The weak ETag of the response cached under `cache_key`."""
        return 'W/"' + self.mac(cache_key.encode(), 12).hex() + '"'

    def sign(self, purpose: str, payload: bytes) -> str:
        """`payload` as an opaque token for one `purpose` (a cursor is not a change token)."""
        return _b64(payload) + "." + _b64(self.mac(purpose.encode() + b"\0" + payload))

    def unsign(self, purpose: str, token: str) -> bytes | None:
        """The payload of a token this server signed for `purpose`; None for anything else."""
        body, dot, mac = token.partition(".")
        if not dot:
            return None
        try:
            payload, given = _unb64(body), _unb64(mac)
        except (binascii.Error, ValueError):
            return None
        expected = self.mac(purpose.encode() + b"\0" + payload)
        return payload if hmac.compare_digest(given, expected) else None
