"""The command line: the entry point with its replay (main.py), linting and fixing (lint.py), ``rule``, ``--show-settings``."""
