"""``python -m clusterlib_cli``: the same entry point as the ``clusterlib`` console script."""

from clusterlib_cli.main import run

if __name__ == "__main__":
    run()
