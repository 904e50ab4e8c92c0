"""Small result and error types shared by the write services."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    message: str

    def as_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "message": self.message}


class RowErrors(Exception):  # noqa: N818 - it is a collection of row errors, not a single failure
    """Raised inside a write to roll it back; carries row-level errors."""

    def __init__(self, errors: list[RowError]):
        super().__init__(f"{len(errors)} row error(s)")
        self.errors = errors


@dataclass
class UpsertResult:
    created: int = 0
    updated: int = 0
    ids: list[int] = field(default_factory=list)

    def add(self, other: UpsertResult) -> None:
        self.created += other.created
        self.updated += other.updated
        self.ids.extend(other.ids)
