"""The engine: discovery, parsing, the per-file store, running the rules, fixing. It knows no rule by name."""
