"""Build steps, as ``sam build`` runs them: a function's dependencies installed next to its code.

``manifest`` decides (which file asks for dependencies, the cache key, the install command);
``dependency_cache`` runs pip / npm into a cache keyed by the manifest, runtime and architecture.
Used at deploy time only (``flare deploy``, templates, ``--watch``'s server-side watch): nothing
on an environment's start-up path imports this package.
"""
