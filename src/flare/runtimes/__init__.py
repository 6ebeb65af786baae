"""Runtimes that run inside execution environments. Stdlib-only, Python 3.9-compatible code."""
