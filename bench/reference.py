"""WSGI app for the benchmark: the product app plus `/__bench/reference`, a view returning prepared bytes.

Only `bench.run` starts this module (gunicorn `bench.reference:app`); the product app (wsgi.py) never has
the route. The reference body size comes from BENCH_REFERENCE_BYTES (bench.run sets it to the size of
the issue item body so the comparison is like for like).
"""

from __future__ import annotations

import os

from flask import Response

from api.app import create_app

app = create_app()

if os.environ.get("BENCH_REFERENCE") == "1":
    _size = int(os.environ.get("BENCH_REFERENCE_BYTES", "10240"))
    _body = (b'{"data":"' + b"x" * max(0, _size - 11) + b'"}')[:_size]

    @app.get("/__bench/reference")
    def bench_reference() -> Response:
        return Response(_body, mimetype="application/json")
