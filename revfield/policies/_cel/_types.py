"""CEL types as the static checker sees them. Two types are equal when their names are."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "BOOL",
    "DOUBLE",
    "DURATION",
    "DYN",
    "INT",
    "NULL",
    "STRING",
    "TIMESTAMP",
    "CelType",
    "ListType",
    "MapType",
    "ObjectType",
    "OptionalType",
]


class CelType:
    def __init__(self, name: str) -> None:
        self.name = name

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"CelType({self.name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CelType) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)

    @property
    def is_dyn(self) -> bool:
        return self.name == "dyn"

    @property
    def is_numeric(self) -> bool:
        return self.name in ("int", "double")


class ListType(CelType):
    def __init__(self, elem: CelType) -> None:
        super().__init__(f"list({elem})")
        self.elem = elem


class MapType(CelType):
    def __init__(self, key: CelType, value: CelType) -> None:
        super().__init__(f"map({key}, {value})")
        self.key = key
        self.value = value


class OptionalType(CelType):
    """An optional value of ``elem`` (``x.?field``, ``optional.of(x)``)."""

    def __init__(self, elem: CelType) -> None:
        super().__init__(f"optional_type({elem})")
        self.elem = elem


class ObjectType(CelType):
    """A record with a fixed set of typed fields (a Python dict at run time)."""

    def __init__(self, name: str, fields: Mapping[str, CelType]) -> None:
        super().__init__(name)
        self.fields = dict(fields)


BOOL = CelType("bool")
INT = CelType("int")
DOUBLE = CelType("double")
STRING = CelType("string")
TIMESTAMP = CelType("timestamp")
DURATION = CelType("duration")
NULL = CelType("null")
DYN = CelType("dyn")
