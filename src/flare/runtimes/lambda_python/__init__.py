"""Flare's in-environment Python runtime. Imported by the zygote under the function's own
interpreter (python3.9 and up), so: stdlib only, no ``flare`` imports, 3.9 syntax."""
