"""The reports: text, JSON, SARIF, GitHub annotations, statistics; the rule docs."""
