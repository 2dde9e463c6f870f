"""The store: models, engine and generations, public query functions, and the archive loader."""
