"""observe layer of Flare (see design/architecture.md)."""
