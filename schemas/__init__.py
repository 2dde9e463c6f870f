"""Marshmallow schemas: query arguments (parsing), responses (serialising) and the OpenAPI document's source."""
