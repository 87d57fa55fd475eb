"""A bound on what a request's compressed payloads inflate to, checked before any is decoded.

The client's encoder sends circuits, arrays and parameter expressions as base64 of a zlib
stream (``{"__type__": ..., "__value__": ...}``), and IBM's forms allow a plain base64
QPY string too. zlib compresses a run of zeros about 1,000 to 1: a 500 kB request made the
server allocate 500 MB and spend 11 s before refusing it, so the largest job input IBM
takes (300 MB) could ask for 300 GB. ``check_inflation`` walks the decoded body once,
inflates each compressed string only as far as the budget left, and refuses the request
(a 400) as soon as the total would pass ``MAX_INFLATED``, so nothing larger is ever made.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from typing import Any

from qsession.runtime import IBMInputValueError

MAX_INFLATED = 1 << 30
"""1 GiB in all per request: more than any circuit and arrays a QPU job can run."""
BASE_INFLATED = 64 << 20
RATIO = 32
"""A request may inflate to ``BASE_INFLATED`` plus ``RATIO`` times its own size (QPY and
arrays compress a few times; a run of zeros a thousand times), and never past
``MAX_INFLATED``: a bomb is refused after inflating a little, a large job is not."""
_CHUNK = 1 << 20
_MIN_B64 = 16  # shorter strings cannot hold a zlib stream worth checking


def budget(size: int) -> int:
    """What a request of ``size`` bytes may inflate to in all."""
    return min(MAX_INFLATED, BASE_INFLATED + RATIO * size)


def check_inflation(body: Any, limit: int) -> None:
    """Raise ``IBMInputValueError`` if the body's zlib payloads inflate past ``limit`` bytes."""
    left = limit
    stack = [body]
    while stack:  # iterative: a deeply nested body must not recurse here
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list | tuple):
            stack.extend(node)
        elif isinstance(node, str) and len(node) >= _MIN_B64:
            left -= _inflated(node, left, limit)


def _inflated(text: str, left: int, limit: int) -> int:
    """How many bytes ``text`` inflates to (0 if it is no base64 zlib stream), at most
    ``left``: refuses as soon as it would be more."""
    if text[0] != "e":  # base64 of a zlib header (0x78) starts with e (of QPY, with U)
        return 0
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return 0
    inflater = zlib.decompressobj()
    total = 0
    try:
        chunk = inflater.decompress(data, _CHUNK)
        while chunk:
            total += len(chunk)
            if total > left:
                raise IBMInputValueError(
                    f"the request's compressed payloads inflate to more than {limit:,} "
                    f"bytes ({RATIO} times its size, plus {BASE_INFLATED >> 20} MiB, at most "
                    f"{MAX_INFLATED >> 30} GiB): no circuit or array of a QPU job is that "
                    "repetitive; send the circuits as the client encodes them, or split "
                    "the work into several jobs")
            chunk = inflater.decompress(inflater.unconsumed_tail, _CHUNK)
    except zlib.error:
        return 0  # not a zlib stream after all: the decoders say what is wrong with it
    return total
