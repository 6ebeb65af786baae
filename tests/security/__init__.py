"""Attacks a hostile handler tries from inside its environment, each refused as Lambda refuses it."""
