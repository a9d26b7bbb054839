"""The rules: one module ``axsNNN.py`` per rule (its docstring is its documentation), the API they
are written against (``api.py``), what several rules share (``generators.py``), and the registry
that finds them (``registry.py``)."""
