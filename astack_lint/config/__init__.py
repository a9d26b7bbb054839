"""Options, configuration files and noqa comments."""
