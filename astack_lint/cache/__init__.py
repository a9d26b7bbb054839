"""State between runs: the per-file facts, per-root results, and whole-command replays."""
