"""The project model: facts from CPython's ast, names resolved across files, what the framework sees (stdlib only)."""
