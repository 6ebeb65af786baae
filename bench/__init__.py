"""Flare's benchmark suite: cold start, warm latency and throughput vs serverless-offline.

Run ``make bench`` or ``.venv/bin/python -m bench --help`` from the repo root.
"""
