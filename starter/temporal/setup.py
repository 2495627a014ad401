"""Cluster set-up immoflow needs before any workflow starts: its custom search attributes.

Registration goes through the operator service and is idempotent. The dev server's `--search-attribute`
flag alone is not enough: it is ignored when the server restarts on an existing database file, and a
production cluster has no such flag at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeIndexedValueType, SearchAttributeKey
from temporalio.service import RPCError, RPCStatusCode

from workflows.shared import SEARCH_ATTRIBUTES

# Spelling of `temporal server start-dev --search-attribute Name=Type`.
_CLI_TYPE_NAMES = {
    SearchAttributeIndexedValueType.TEXT: "Text",
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.INT: "Int",
    SearchAttributeIndexedValueType.DOUBLE: "Double",
    SearchAttributeIndexedValueType.BOOL: "Bool",
    SearchAttributeIndexedValueType.DATETIME: "Datetime",
    SearchAttributeIndexedValueType.KEYWORD_LIST: "KeywordList",
}


class SearchAttributeConflictError(RuntimeError):
    """The cluster already has an attribute of this name with another type: workflows would fail to start."""


def _indexed_type(key: SearchAttributeKey[Any]) -> IndexedValueType.ValueType:
    # The SDK's enum mirrors the API's numbering (KEYWORD = 2, BOOL = 5, …).
    return IndexedValueType.ValueType(int(key.indexed_value_type))


def dev_server_flags(keys: Iterable[SearchAttributeKey[Any]] = SEARCH_ATTRIBUTES) -> list[str]:
    """`--search-attribute Name=Type` arguments for `temporal server start-dev` (fresh databases only)."""
    flags: list[str] = []
    for key in keys:
        flags += ["--search-attribute", f"{key.name}={_CLI_TYPE_NAMES[key.indexed_value_type]}"]
    return flags


async def _existing(client: Client) -> dict[str, int] | None:
    """Custom attributes the namespace has, or None where the server cannot list them (time-skipping server)."""
    try:
        response = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=client.namespace)
        )
    except RPCError as exc:
        if exc.status == RPCStatusCode.UNIMPLEMENTED:
            return None
        raise
    return dict(response.custom_attributes)


async def _add(client: Client, name: str, value_type: IndexedValueType.ValueType) -> bool:
    try:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=client.namespace, search_attributes={name: value_type})
        )
    except RPCError as exc:
        if exc.status == RPCStatusCode.ALREADY_EXISTS:
            return False  # registered by an earlier run or a concurrent caller
        raise
    return True


async def register_search_attributes(
    client: Client, keys: Sequence[SearchAttributeKey[Any]] = SEARCH_ATTRIBUTES
) -> list[str]:
    """Register every key on the client's namespace; returns the names that were new.

    Safe to call on every start: present attributes are left alone; one present with another type
    raises SearchAttributeConflictError instead of letting workflow starts fail later.
    """
    existing = await _existing(client)
    added: list[str] = []
    for key in keys:
        wanted = _indexed_type(key)
        if existing is not None and key.name in existing:
            if existing[key.name] != wanted:
                have = IndexedValueType.Name(IndexedValueType.ValueType(existing[key.name]))
                raise SearchAttributeConflictError(
                    f"search attribute {key.name} exists as {have}, immoflow needs {IndexedValueType.Name(wanted)}"
                )
            continue
        # One request per attribute: a batch fails as a whole when a single name already exists.
        if await _add(client, key.name, wanted):
            added.append(key.name)
    return added
