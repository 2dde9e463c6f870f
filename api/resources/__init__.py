"""One blueprint module per resource; each view is parse args → query function → schema, cached by api.http."""
