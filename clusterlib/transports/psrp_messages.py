"""PSRP messages made and read cheaply: no deep copies, repeated reads kept, primitives read fast.

pypsrp turns a PowerShell object into its CREATE_PIPELINE message (MS-PSRP 2.2.2.10) by deep
copying every command twice (``complex_objects.Pipeline._get_statements``, a guard for lxml
parents) and serializing the copies: about 1.2 ms for a one-command move and 13 ms for the
snapshot's 19 commands (CPU, 2-core machine), mostly ``copy.deepcopy``. Two remedies, both
leaving the bytes on the wire unchanged (a test compares them with pypsrp's own):

* :func:`build_powershell` makes the commands as :class:`pypsrp.complex_objects.Command`
  subclasses that copy as themselves: pypsrp's serializer builds fresh ElementTree elements from
  their plain values, so nothing is shared that a copy would protect.
* :class:`BodyCache` keeps the serialized body of a repeated idempotent pipeline (the snapshot,
  a node poll, the lock listing), bounded in entries and bytes, least recently used first out.
  :func:`install` routes one runspace pool's message serialization through it; only a message
  this module tagged with its key is ever answered from the cache.

Reading: pypsrp's deserializer re-serializes every element it reads to a string (kept only for
a warning) and rebuilds a table of thirty functions per element, a fifth of a small read's
client CPU. :func:`install` also gives the pool's serializer a fast path for primitive values
(strings, integers, booleans, Nil: what a CSV read and a pipeline's state consist of) that
returns exactly what pypsrp returns for them (a test compares both on every such tag); every
other element goes through pypsrp unchanged.
"""

from __future__ import annotations

import functools
import re
import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

from clusterlib.wire import Pipeline

if TYPE_CHECKING:
    from pypsrp.powershell import PowerShell, RunspacePool

__all__ = ["BodyCache", "build_powershell", "install", "pipeline_key"]

_KEY = "_clusterlib_body_key"  # set on a CreatePipeline message whose body may be cached


def _freeze(value: Any) -> Hashable:
    """A parameter value as a hashable key that keeps its type (True is not 1, '5' is not 5)."""
    if isinstance(value, (list, tuple)):
        return ("list", tuple(_freeze(v) for v in value))
    if value is None or isinstance(value, (str, int, float, bool)):
        return (type(value).__name__, value)
    raise TypeError(f"no cache key for a {type(value).__name__} value")


def pipeline_key(pipeline: Pipeline) -> Hashable | None:
    """What makes two pipelines' messages identical (commands, parameters with their types, in
    order), or None when a value has no faithful key (then the message is built afresh)."""
    try:
        return tuple(
            tuple((cmd.name, tuple((k, _freeze(v)) for k, v in cmd.params))
                  for cmd in statement.commands)
            for statement in pipeline.statements)
    except TypeError:
        return None


class BodyCache:
    """Serialized CREATE_PIPELINE bodies by key, bounded by ``entries`` and ``max_bytes``
    (least recently used dropped first); ``entries=0`` keeps nothing. Thread-safe."""

    def __init__(self, entries: int = 128, max_bytes: int = 8 * 1024 * 1024) -> None:
        if entries < 0 or max_bytes < 0:
            raise ValueError(f"pipeline cache bounds must be >= 0, got {entries}, {max_bytes}")
        self.entries = entries
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0
        self._bodies: OrderedDict[Hashable, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._bodies)

    def get(self, key: Hashable) -> bytes | None:
        with self._lock:
            body = self._bodies.get(key)
            if body is None:
                self.misses += 1
                return None
            self._bodies.move_to_end(key)
            self.hits += 1
            return body

    def put(self, key: Hashable, body: bytes) -> None:
        if len(body) > self.max_bytes or self.entries == 0:
            return
        with self._lock:
            old = self._bodies.pop(key, None)
            self._size -= len(old) if old is not None else 0
            self._bodies[key] = body
            self._size += len(body)
            while len(self._bodies) > self.entries or self._size > self.max_bytes:
                _key, dropped = self._bodies.popitem(last=False)
                self._size -= len(dropped)

    def clear(self) -> None:
        with self._lock:
            self._bodies.clear()
            self._size = 0


class _CachingSerializer:
    """A runspace pool's message serializer that answers tagged messages from a BodyCache and
    hands everything else (other messages, deserialization) to pypsrp's own."""

    def __init__(self, inner: Any, cache: BodyCache) -> None:
        self.inner = inner
        self.cache = cache

    def serialize(self, value: Any, metadata: Any = None, parent: Any = None,
                  clear: bool = True) -> Any:
        key = getattr(value, _KEY, None) if metadata is None and parent is None else None
        if key is None:
            return self.inner.serialize(value, metadata, parent, clear)
        body = self.cache.get(key)
        if body is None:
            import xml.etree.ElementTree as ET

            # Exactly what pypsrp's Message.pack does with the element.
            body = ET.tostring(self.inner.serialize(value), encoding="utf-8", method="xml")
            self.cache.put(key, body)
        return body

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _text(element: Any) -> Any:
    return element.text


#: Primitive CLIXML tags (MS-PSRP 2.2.5.1) read without pypsrp's detour, each as pypsrp reads it.
_PRIMITIVES: dict[str, Any] = {
    **dict.fromkeys(("By", "SB", "U16", "I16", "U32", "I32", "U64", "I64"),
                    lambda e: int(e.text)),
    **dict.fromkeys(("Sg", "Db"), lambda e: float(e.text)),
    **dict.fromkeys(("DT", "TS", "D", "Version"), _text),
    "B": lambda e: e.text.lower() == "true",
    "Nil": lambda e: None,
}
_STRINGS = frozenset({"S", "ToString", "URI", "XD", "SBK"})


_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")


def clixml_string(value: str | None) -> str:
    """A CLIXML string's text with its ``_xHHHH_`` escapes (MS-PSRP 2.2.5.1.1) undone: what
    pypsrp's ``Serializer._deserialize_string`` returns, without its Python call per escape. A
    CSV answer escapes every line break (``_x000D__x000A_``): 128,000 calls, 0.3 s of client
    CPU, at 32,000 groups. Escapes are matched left to right as pypsrp matches them (so
    ``_x005F_x000D_`` is a literal ``_x000D_``); escaped UTF-16 surrogates are joined into their
    character, and a lone one fails, as pypsrp's UTF-16 decoding does."""
    if value is None:
        return ""
    if "_x" not in value:
        return value
    parts = _ESCAPED.split(value)
    if len(parts) == 1:
        return value
    codes = {h: int(h, 16) for h in set(parts[1::2])}
    parts[1::2] = [chr(codes[h]) for h in parts[1::2]]
    text = "".join(parts)
    if any(0xD800 <= c <= 0xDFFF for c in codes.values()):
        text = text.encode("utf-16-be", "surrogatepass").decode("utf-16-be")
    return text


def fast_primitives(serializer: Any) -> None:
    """Give one pypsrp Serializer instance the primitive fast path (see the module docstring),
    and its string unescaping :func:`clixml_string` (top-level strings, a CSV answer, too)."""
    if getattr(serializer, "_clusterlib_fast", False):
        return
    slow = serializer.deserialize
    serializer._deserialize_string = clixml_string
    as_string = clixml_string

    def deserialize(element: Any, metadata: Any = None, clear: bool = True) -> Any:
        tag: str = getattr(element, "tag", "")
        # Only inner elements (clear=False): a top-level call also resets pypsrp's references.
        fast = not clear and (tag in _STRINGS or tag in _PRIMITIVES)
        if not fast:
            return slow(element, metadata, clear)
        if metadata is not None and metadata.tag == "*":
            metadata.tag = tag  # as pypsrp does to the caller's metadata
        return as_string(element.text) if tag in _STRINGS else _PRIMITIVES[tag](element)

    serializer.deserialize = deserialize
    serializer._clusterlib_fast = True


def install(pool: RunspacePool, cache: BodyCache) -> bool:
    """Route ``pool``'s outgoing message serialization through ``cache`` and give its reading
    the primitive fast path; False (and nothing changed) when this pypsrp keeps its serializer
    elsewhere."""
    fragmenter = getattr(pool, "_fragmenter", None)
    inner = getattr(fragmenter, "serializer", None)
    if inner is None or not hasattr(inner, "_deserialize_string"):
        return False
    fast_primitives(inner)
    if cache.entries == 0:
        return False
    if not isinstance(inner, _CachingSerializer):
        fragmenter.serializer = _CachingSerializer(inner, cache)  # type: ignore[union-attr]
    return True


@functools.cache
def _classes() -> tuple[type[Any], type[Any]]:
    """pypsrp's Command and PowerShell, specialised (made on first use: pypsrp loads lazily)."""
    from pypsrp.complex_objects import Command
    from pypsrp.powershell import PowerShell

    class SharedCommand(Command):
        def __deepcopy__(self, memo: dict[int, Any]) -> SharedCommand:
            return self

    class KeyedPowerShell(PowerShell):
        body_key: Hashable | None = None

        def _invoke(self, msg: Any) -> None:
            if self.body_key is not None:
                setattr(msg, _KEY, self.body_key)
            super()._invoke(msg)

    return SharedCommand, KeyedPowerShell


def build_powershell(pool: RunspacePool, pipeline: Pipeline, marker: str,
                     *, cached: bool) -> PowerShell:
    """The pypsrp PowerShell for ``pipeline``: its statements in order, separated by
    ``Write-Output -InputObject <marker>`` (a cmdlet with a parameter, never script text; none
    after the last statement, so a one-statement pipeline carries no marker). Values are sent as
    typed parameters (tuples as lists). With ``cached`` the message body may come from, and go
    to, the pool's BodyCache (see :func:`install`)."""
    from pypsrp.complex_objects import CommandParameter

    command_cls, powershell_cls = _classes()
    ps = powershell_cls(pool)
    version = pool.protocol_version or ""

    def add(name: str, params: tuple[tuple[str, Any], ...]) -> Any:
        command = command_cls(name, protocol_version=version, is_script=False,
                              use_local_scope=None)
        command.args.extend(CommandParameter(name=k, value=_wire_value(v)) for k, v in params)
        ps.commands.append(command)
        return command

    last = len(pipeline.statements) - 1
    for index, statement in enumerate(pipeline.statements):
        for cmd in statement.commands:
            add(cmd.name, cmd.params)
        ps.commands[-1].end_of_statement = True
        if index < last:
            add("Write-Output", (("InputObject", marker),)).end_of_statement = True
    key = pipeline_key(pipeline) if cached else None
    ps.body_key = None if key is None else (version, marker, key)
    built: PowerShell = ps
    return built


def _wire_value(value: Any) -> Any:
    # A switch is sent as the boolean True (PowerShell binds -Drain:$true); tuples as lists.
    if isinstance(value, tuple):
        return [_wire_value(v) for v in value]
    return value
