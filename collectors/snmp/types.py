"""SNMP value types: SMIv2 application types that keep their SNMP type in Python.

A decoded Counter32 must stay distinguishable from a Gauge32 (one is unfolded
into a rate, the other is a level), so each application type is a thin
subclass of ``int`` or ``bytes``. The universal types map to plain Python
types: INTEGER -> ``int``, OCTET STRING -> ``bytes``, NULL -> ``None``,
OBJECT IDENTIFIER -> ``tuple[int, ...]``. The three SNMPv2 exception values
(noSuchObject, noSuchInstance, endOfMibView) are singletons of
:class:`ExceptionValue`.
"""

from __future__ import annotations

from typing import Final, TypeAlias

Oid: TypeAlias = tuple[int, ...]

INTEGER32_MIN: Final = -(2**31)
INTEGER32_MAX: Final = 2**31 - 1
UNSIGNED32_MAX: Final = 2**32 - 1
UNSIGNED64_MAX: Final = 2**64 - 1


class Counter32(int):
    """Counter32 (APPLICATION 1): wraps at 2**32."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Counter32({int(self)})"


class Gauge32(int):
    """Gauge32 / Unsigned32 (APPLICATION 2): a level, 0 .. 2**32-1."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Gauge32({int(self)})"


Unsigned32 = Gauge32


class TimeTicks(int):
    """TimeTicks (APPLICATION 3): hundredths of a second, 0 .. 2**32-1."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"TimeTicks({int(self)})"


class Counter64(int):
    """Counter64 (APPLICATION 6): wraps at 2**64."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Counter64({int(self)})"


class IpAddress(bytes):
    """IpAddress (APPLICATION 0): four octets in network order."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"IpAddress('{'.'.join(str(b) for b in self)}')"

    @classmethod
    def from_text(cls, text: str) -> IpAddress:
        parts = text.split(".")
        if len(parts) != 4:
            raise ValueError(f"not an IPv4 address: {text!r}")
        return cls(bytes(int(p) for p in parts))

    def __str__(self) -> str:
        return ".".join(str(b) for b in self)


class Opaque(bytes):
    """Opaque (APPLICATION 4): arbitrary BER wrapped in an OCTET STRING."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Opaque({bytes(self)!r})"


class ExceptionValue:
    """One of the SNMPv2 varbind exceptions; compare by identity."""

    __slots__ = ("name", "tag")

    def __init__(self, name: str, tag: int) -> None:
        self.name = name
        self.tag = tag

    def __repr__(self) -> str:
        return self.name

    def __reduce__(self) -> str:
        return _EXCEPTION_NAMES[self.tag]


NO_SUCH_OBJECT: Final = ExceptionValue("noSuchObject", 0x80)
NO_SUCH_INSTANCE: Final = ExceptionValue("noSuchInstance", 0x81)
END_OF_MIB_VIEW: Final = ExceptionValue("endOfMibView", 0x82)
_EXCEPTION_NAMES: Final = {0x80: "NO_SUCH_OBJECT", 0x81: "NO_SUCH_INSTANCE", 0x82: "END_OF_MIB_VIEW"}

Value: TypeAlias = (
    int
    | bytes
    | tuple[int, ...]
    | Counter32
    | Gauge32
    | TimeTicks
    | Counter64
    | IpAddress
    | Opaque
    | ExceptionValue
    | None
)
VarBind: TypeAlias = tuple[Oid, Value]
