"""A transaction of 3,300 changes with a rolled-back savepoint: past the in-memory bound of the
tests that lower RELMIG_TXN_MEMORY_CHANGES, and a subtransaction abort inside it."""

from __future__ import annotations

from typing import Any

BASE = 6_000_000
ORDERS = 300


def big_transaction(rig) -> list[tuple[str, tuple[Any, ...]]]:
    """300 orders of 10 lines (3,300 inserts), 10 orders' lines rolled back to a savepoint, and
    an update of every line of the rest: one transaction."""
    products = [r[0] for r in rig.query("SELECT product_id FROM products ORDER BY 1 LIMIT 10")]
    statements: list[tuple[str, tuple[Any, ...]]] = []
    for i in range(ORDERS):
        if i == 100:
            statements.append(("SAVEPOINT ten_orders", ()))
        statements.append(
            (
                "INSERT INTO orders (order_id, customer_id, sold_by, order_date, ship_via, freight)"
                " SELECT %s, MIN(customer_id), 1, CURRENT_TIMESTAMP, NULL, 1 FROM customers",
                (BASE + i,),
            )
        )
        statements += [
            ("INSERT INTO order_details VALUES (%s, %s, 10, 2, 0)", (BASE + i, p)) for p in products
        ]
        if i == 109:
            statements.append(("ROLLBACK TO SAVEPOINT ten_orders", ()))
    statements.append(("UPDATE order_details SET quantity = 7 WHERE order_id >= %s", (BASE,)))
    return statements
