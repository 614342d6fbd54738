"""The ``clusterlib`` command line (installed as the package ``clusterlib_cli``).

Nothing is imported here on purpose: ``clusterlib --help`` must start fast, so every module of
the library is imported by the command that needs it, not by the package.
"""
