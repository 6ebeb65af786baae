"""The live console: its sessions (``session``), what it shows (``view``, ``page``) and its
static files (``assets/``). Its routes are at the edge, in ``api/console.py``."""
