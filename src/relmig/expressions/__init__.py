"""Expressions in Relational Migrator's language: JavaScript over `columns["name"]`.

Calculated fields, mapping-rule filters and a custom `_id` are evaluated here, in a sandboxed
QuickJS context (see docs/expressions.md), one call into the engine per page of rows.
"""
