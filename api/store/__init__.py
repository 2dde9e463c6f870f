"""The store: models, engine and generations, the visibility rule and the public query functions."""
