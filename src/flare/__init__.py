"""Flare: a self-hosted, AWS-Lambda-compatible function engine."""

__version__ = "0.1.0"
