"""Placeholder."""
from typing import Any


def register(*a: Any) -> None:
    pass
