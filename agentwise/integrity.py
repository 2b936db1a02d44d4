"""Unique constraints as field errors: a request that races another past a uniqueness check gets the
same 400 the check gives, never a 500.

Each unique constraint's message lives on the constraint (``violation_error_message``) or, for a
``unique=True`` field, in the field's ``error_messages["unique"]``. Services raise
``unique_error(Model, name)`` for their own check, and ``unique_violation(IntegrityError)`` maps
the database's refusal back to the same error, on PostgreSQL and SQLite alike.
"""

from __future__ import annotations

import re
from functools import cache

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, models
from django.db.models.expressions import F

_SQLITE_COLUMNS = re.compile(r"UNIQUE constraint failed: (?P<columns>[\w.]+(?:, [\w.]+)*)")
_SQLITE_INDEX = re.compile(r"UNIQUE constraint failed: index '(?P<name>[^']+)'")


def _constraint_field(constraint: models.UniqueConstraint) -> str | None:
    """The field a duplicate is reported on: the last one named (``(project, user)`` → ``user``)."""
    if constraint.fields:
        return constraint.fields[-1]
    for expression in reversed(constraint.expressions):
        refs = [node.name for node in _walk(expression) if isinstance(node, F)]
        if refs:
            return refs[-1]
    return None


def _walk(expression):
    yield expression
    for source in getattr(expression, "get_source_expressions", lambda: [])():
        if source is not None:
            yield from _walk(source)


@cache
def _by_constraint_name() -> dict[str, tuple[str, str]]:
    entries = {}
    for model in apps.get_models():
        for constraint in model._meta.constraints:
            if isinstance(constraint, models.UniqueConstraint):
                field = _constraint_field(constraint)
                if field:
                    entries[constraint.name] = (field, str(constraint.violation_error_message % {"name": constraint.name}))
    return entries


@cache
def _by_table_columns() -> dict[tuple[str, tuple[str, ...]], tuple[str, str]]:
    """``unique=True`` fields and field-only constraints, by table and columns (what SQLite reports)."""
    entries = {}
    for model in apps.get_models():
        table = model._meta.db_table
        for field in model._meta.concrete_fields:
            if field.unique and not field.primary_key:
                message = field.error_messages["unique"] % {
                    "model_name": model._meta.verbose_name.capitalize(),
                    "field_label": field.verbose_name,
                }
                entries[(table, (field.column,))] = (field.name, message)
        for constraint in model._meta.constraints:
            if isinstance(constraint, models.UniqueConstraint) and constraint.fields:
                columns = tuple(model._meta.get_field(name).column for name in constraint.fields)
                entries[(table, columns)] = _by_constraint_name()[constraint.name]
    return entries


_introspected: dict[str, tuple[str, str] | None] = {}


def _introspect(name: str, table: str | None) -> tuple[str, str] | None:
    """A constraint the database named itself (a ``unique=True`` column on PostgreSQL: ``…_key``)."""
    if name in _introspected:
        return _introspected[name]
    found = None
    tables = [table] if table else [m._meta.db_table for m in apps.get_models()]
    with connection.cursor() as cursor:
        for table_name in tables:
            info = connection.introspection.get_constraints(cursor, table_name).get(name)
            if info and info.get("unique") and info.get("columns"):
                found = _by_table_columns().get((table_name, tuple(info["columns"])))
                break
    _introspected[name] = found
    return found


def unique_error(model: type[models.Model], constraint_name: str) -> ValidationError:
    """The field error of one of ``model``'s unique constraints, for a service's own check."""
    field, message = _by_constraint_name()[constraint_name]
    return ValidationError({field: message}, code="unique")


def unique_violation(error: IntegrityError) -> ValidationError | None:
    """The field error a unique constraint's refusal stands for, or None (not a unique violation)."""
    cause = error.__cause__
    diag = getattr(cause, "diag", None)
    if diag is not None and getattr(cause, "sqlstate", None) == "23505":
        name = diag.constraint_name or ""
        entry = _by_constraint_name().get(name) or _introspect(name, diag.table_name)
    else:
        text = str(error)
        entry = None
        if match := _SQLITE_INDEX.search(text):
            entry = _by_constraint_name().get(match["name"])
        elif match := _SQLITE_COLUMNS.search(text):
            qualified = [c.split(".", 1) for c in match["columns"].split(", ")]
            table = qualified[0][0]
            entry = _by_table_columns().get((table, tuple(column for _, column in qualified)))
    if entry is None:
        return None
    field, message = entry
    return ValidationError({field: message}, code="unique")
