"""Persistence: the SQLite store (one writer, group commit) and its migrations."""

from helpforce.store.migrations import SCHEMA_VERSION
from helpforce.store.sqlite import (
    DatabaseTooNew,
    Row,
    Store,
    StoreClosed,
    StoreError,
    Tx,
    save_cursor,
)

__all__ = [
    "SCHEMA_VERSION",
    "DatabaseTooNew",
    "Row",
    "Store",
    "StoreClosed",
    "StoreError",
    "Tx",
    "save_cursor",
]
