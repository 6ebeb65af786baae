"""sandbox layer of Flare (see design/architecture.md)."""
