"""How sessions and jobs are named: short ids (``s1``, ``j2``) or ids shaped as IBM's.

IBM Quantum Platform names jobs and sessions with 20 lowercase characters, e.g.
``crw9s7cdbt40008jxesg`` (its REST guide, "Execution modes using REST API"): 12 bytes
written in Crockford's base32 (no ``i``, ``l``, ``o``, ``u``), so the last character is
``0`` or ``g``. ``IbmIds`` writes the same shape from 4 bytes of model-time seconds, a
4-byte key drawn once per platform and a 4-byte counter: ids never repeat on one platform
(the counter only grows, across restarts too) and two platforms differ by their keys.
A name depends only on (kind, counter, instant, key), so a replay of the trace, whose
header carries the scheme, gives every object its recorded name again.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Literal

Kind = Literal["session", "job"]

CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
IBM_ID = re.compile(r"[0-9a-hjkmnp-tv-z]{19}[0g]")
"""What an IBM-shaped id looks like (20 characters)."""


@dataclass(frozen=True)
class ShortIds:
    """``s1``, ``j2``: the in-process service's names (one counter for both kinds)."""

    def name(self, kind: Kind, seq: int, epoch_seconds: int) -> str:
        """The id of object number ``seq``."""
        return f"{'s' if kind == 'session' else 'j'}{seq}"

    def spec(self) -> str:
        """How the trace header records the scheme."""
        return "short"


@dataclass(frozen=True)
class IbmIds:
    """20-character ids shaped as IBM's, unique per platform ``key`` (a 32-bit int)."""

    key: int

    @classmethod
    def fresh(cls) -> IbmIds:
        """A scheme with a random key (a new platform)."""
        return cls(secrets.randbits(32))

    def name(self, kind: Kind, seq: int, epoch_seconds: int) -> str:
        """The id of object number ``seq`` created ``epoch_seconds`` after 1970 (UTC)."""
        if not 0 <= seq < 2**32:
            raise ValueError(f"id counter {seq} is outside 32 bits")
        value = ((epoch_seconds % 2**32) << 64) | (self.key << 32) | seq
        # 96 bits in 20 characters of 5 bits: shift left by 4 so the last character
        # carries the lowest bit (0 or 16, written 0 or g, as IBM's ids end).
        value <<= 4
        return "".join(CROCKFORD[(value >> (5 * i)) & 31] for i in range(19, -1, -1))

    def spec(self) -> str:
        """How the trace header records the scheme (``ibm-`` and the key in hex)."""
        return f"ibm-{self.key:08x}"


IdScheme = ShortIds | IbmIds


def scheme_from_spec(spec: object) -> IdScheme:
    """The scheme a trace header names (``short`` when absent); ValueError otherwise."""
    if spec in (None, "short"):
        return ShortIds()
    match = re.fullmatch(r"ibm-([0-9a-f]{8})", str(spec))
    if match is None:
        raise ValueError(f"ids={spec!r} names no id scheme: 'short' or 'ibm-' and 8 hex digits")
    return IbmIds(int(match.group(1), 16))
