"""WSGI app of the live query-deadline test (`tests.slow_app:app`): the API plus `/test/expensive`, never in wsgi.py."""

from api.app import create_app
from tests.test_query_timeout import add_expensive_view

app = add_expensive_view(create_app())
