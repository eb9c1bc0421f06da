"""SQL over the sample database (relmig.samples), each converted and checked against the
migrated documents by tests/queries/test_corpus.py. Every query here runs on PostgreSQL and on
MariaDB; string comparisons are in STRINGS, written per dialect (MariaDB's default collation
ignores case, so its queries name a binary one)."""

# ruff: noqa: E501 - one query a line reads best

from __future__ import annotations

CORPUS = [
    # projection, WHERE, three-valued logic
    "SELECT * FROM regions",
    "SELECT region_id, region_description FROM regions WHERE region_id = 2",
    "SELECT order_id, customer_id, order_date FROM orders WHERE order_id <= 10",
    "SELECT order_id FROM orders WHERE order_id > 290",
    "SELECT order_id FROM orders WHERE order_id >= 295 AND order_id < 298",
    "SELECT order_id FROM orders WHERE order_id < 3 OR order_id > 297",
    "SELECT order_id FROM orders WHERE NOT (order_id > 5)",
    "SELECT order_id FROM orders WHERE order_id <> 7 AND order_id < 12",
    "SELECT order_id FROM orders WHERE order_id BETWEEN 20 AND 25",
    "SELECT order_id FROM orders WHERE order_id NOT BETWEEN 3 AND 298",
    "SELECT order_id FROM orders WHERE order_id IN (1, 5, 9, 1000)",
    "SELECT order_id FROM orders WHERE order_id IN (1, 2, NULL)",
    "SELECT order_id FROM orders WHERE order_id NOT IN (1, 2, NULL)",
    "SELECT order_id FROM orders WHERE order_id NOT IN (1, 2) AND order_id < 6",
    "SELECT order_id FROM orders WHERE approved_by = NULL",
    "SELECT order_id FROM orders WHERE NOT (approved_by > 3)",
    "SELECT order_id, approved_by FROM orders WHERE approved_by IS NULL",
    "SELECT order_id, approved_by FROM orders WHERE approved_by IS NOT NULL AND order_id < 40",
    "SELECT order_id FROM orders WHERE NOT (approved_by IS NULL OR approved_by < 4)",
    "SELECT order_id, shipped_date FROM orders WHERE shipped_date IS NULL",
    "SELECT order_id FROM orders WHERE shipped_date >= '2023-01-01'",
    "SELECT order_id FROM orders WHERE order_date BETWEEN '2022-03-01' AND '2022-06-30'",
    "SELECT order_id, freight FROM orders WHERE freight > 100",
    "SELECT order_id FROM orders WHERE freight <= 12.5",
    "SELECT product_id, discontinued FROM products WHERE discontinued",
    "SELECT product_id FROM products WHERE NOT discontinued AND units_in_stock = 0",
    "SELECT product_id FROM products WHERE units_in_stock > units_on_order",
    # arithmetic and division
    "SELECT product_id, units_in_stock + units_on_order AS total FROM products",
    "SELECT product_id, unit_price * 2 AS doubled FROM products WHERE product_id < 20",
    "SELECT product_id, units_in_stock / 4 AS quarter FROM products",
    "SELECT product_id, unit_price / 3 AS third FROM products",
    "SELECT order_id, COALESCE(approved_by, 0) AS approver FROM orders WHERE order_id < 30",
    # ORDER BY, LIMIT, OFFSET, DISTINCT
    "SELECT order_id FROM orders ORDER BY order_id DESC LIMIT 5",
    "SELECT order_id FROM orders ORDER BY order_id LIMIT 5 OFFSET 10",
    "SELECT order_id, approved_by FROM orders ORDER BY approved_by, order_id",
    "SELECT order_id, approved_by FROM orders ORDER BY approved_by DESC, order_id",
    "SELECT order_id, shipped_date FROM orders ORDER BY 2, 1 LIMIT 30",
    "SELECT order_id, freight FROM orders ORDER BY freight DESC, order_id LIMIT 10",
    "SELECT order_id FROM orders ORDER BY order_date, order_id LIMIT 7",
    "SELECT DISTINCT ship_via FROM orders",
    "SELECT DISTINCT approved_by FROM orders ORDER BY approved_by",
    "SELECT DISTINCT category_id, supplier_id FROM products",
    # GROUP BY, aggregates, HAVING
    "SELECT COUNT(*) AS n FROM orders",
    "SELECT COUNT(*) AS n, MAX(order_date) AS last FROM orders WHERE order_id < 0",
    "SELECT COUNT(approved_by) AS approved, COUNT(*) AS total FROM orders",
    "SELECT COUNT(DISTINCT customer_id) AS customers FROM orders",
    "SELECT SUM(freight) AS freight, AVG(freight) AS mean FROM orders",
    "SELECT SUM(freight) AS none FROM orders WHERE order_id < 0",
    "SELECT MIN(order_date) AS first, MAX(shipped_date) AS last FROM orders",
    "SELECT ship_via, COUNT(*) AS n FROM orders GROUP BY ship_via",
    "SELECT approved_by, COUNT(*) AS n FROM orders GROUP BY approved_by ORDER BY approved_by",
    "SELECT ship_via, SUM(freight) AS total FROM orders GROUP BY ship_via HAVING SUM(freight) > 1000",
    "SELECT category_id, AVG(unit_price) AS price FROM products GROUP BY category_id ORDER BY 1",
    "SELECT supplier_id, COUNT(*) AS n FROM products GROUP BY supplier_id HAVING COUNT(*) >= 3",
    "SELECT sold_by, approved_by, COUNT(*) AS n FROM orders GROUP BY sold_by, approved_by",
    # joins along embeddings: documents, arrays (a row per element), the parent of an element
    "SELECT o.order_id, s.company_name FROM orders o JOIN shippers s ON s.shipper_id = o.ship_via",
    "SELECT o.order_id, s.shipper_id FROM orders o LEFT JOIN shippers s ON o.ship_via = s.shipper_id",
    "SELECT o.order_id, d.product_id, d.quantity FROM orders o JOIN order_details d ON d.order_id = o.order_id",
    "SELECT o.order_id, d.product_id FROM orders o LEFT JOIN order_details d ON d.order_id = o.order_id",
    "SELECT o.order_id, d.quantity FROM orders o JOIN order_details d ON d.order_id = o.order_id WHERE d.quantity > 40",
    "SELECT o.order_id, COUNT(*) AS n_lines FROM orders o JOIN order_details d ON d.order_id = o.order_id GROUP BY o.order_id",
    "SELECT d.product_id, SUM(d.quantity) AS sold FROM order_details d GROUP BY d.product_id",
    "SELECT d.order_id, d.product_id, p.product_name FROM order_details d JOIN products p ON p.product_id = d.product_id",
    "SELECT d.order_id, o.ship_via FROM order_details d JOIN orders o ON o.order_id = d.order_id WHERE d.quantity < 3",
    "SELECT e.employee_id, t.territory_id, r.region_id FROM employees e JOIN employee_territories et ON et.employee_id = e.employee_id JOIN territories t ON t.territory_id = et.territory_id JOIN regions r ON r.region_id = t.region_id",
    "SELECT p.product_id, c.category_id, s.supplier_id FROM products p JOIN categories c ON c.category_id = p.category_id JOIN suppliers s ON s.supplier_id = p.supplier_id",
    "SELECT t.territory_id, r.region_description FROM territories t JOIN regions r ON r.region_id = t.region_id",
    # subqueries over an embedded array: $elemMatch
    "SELECT o.order_id FROM orders o WHERE EXISTS (SELECT 1 FROM order_details d WHERE d.order_id = o.order_id AND d.quantity > 50)",
    "SELECT o.order_id FROM orders o WHERE NOT EXISTS (SELECT 1 FROM order_details d WHERE d.order_id = o.order_id)",
    "SELECT order_id FROM orders WHERE order_id IN (SELECT order_id FROM order_details WHERE quantity > 50)",
    "SELECT order_id FROM orders WHERE order_id NOT IN (SELECT order_id FROM order_details WHERE discount > 0.1 AND unit_price > 20)",
    # joins between collections ($lookup)
    "SELECT o.order_id, c.customer_id FROM orders o JOIN customers c ON c.customer_id = o.customer_id WHERE o.order_id < 50",
    "SELECT n.note_id, o.order_date FROM order_detail_notes n JOIN orders o ON o.order_id = n.order_id",
]

# Per dialect: string comparisons and orders need a binary collation on MariaDB.
STRINGS = {
    "postgresql": [
        "SELECT customer_id FROM customers WHERE country = 'Portugal'",
        "SELECT customer_id FROM customers WHERE company_name LIKE 'A%'",
        "SELECT customer_id FROM customers WHERE company_name NOT LIKE '%a%'",
        "SELECT customer_id FROM customers WHERE company_name ILIKE '%GROCERS%'",
        "SELECT customer_id FROM customers WHERE region IS NULL AND country IN ('Portugal', 'Spain')",
        "SELECT customer_id, company_name FROM customers ORDER BY company_name LIMIT 10",
        "SELECT country, COUNT(*) AS n FROM customers GROUP BY country ORDER BY country",
        "SELECT MIN(company_name) AS first FROM customers",
    ],
    "mysql": [
        "SELECT customer_id FROM customers WHERE country COLLATE utf8mb4_bin = 'Portugal'",
        "SELECT customer_id FROM customers WHERE company_name COLLATE utf8mb4_bin LIKE 'A%'",
        "SELECT customer_id FROM customers WHERE company_name COLLATE utf8mb4_bin NOT LIKE '%a%'",
        "SELECT customer_id, company_name FROM customers ORDER BY company_name COLLATE utf8mb4_bin LIMIT 10",
    ],
}

# Converted on MongoDB, refused where the target lacks what the conversion needs.
MYSQL_ROUND = "SELECT product_id, unit_price / 3 AS third FROM products"

REFUSED = [
    (
        "SELECT ROW_NUMBER() OVER (ORDER BY order_id) AS n FROM orders",
        "a window function at line 1 col 8",
    ),
    ("WITH x AS (SELECT 1 AS a) SELECT a FROM x", "a WITH clause"),
    ("SELECT order_id FROM orders UNION SELECT order_id FROM order_details", "only SELECT"),
    ("UPDATE orders SET freight = 0", "UPDATE (only SELECT)"),
    (
        "SELECT o.order_id FROM orders o RIGHT JOIN customers c ON c.customer_id = o.customer_id",
        "RIGHT JOIN",
    ),
    (
        "SELECT order_id FROM orders WHERE customer_id IN (SELECT customer_id FROM customers)",
        "a subquery over",
    ),
    (
        "SELECT order_id FROM orders o WHERE EXISTS (SELECT 1 FROM order_details d, products p WHERE d.order_id = o.order_id)",
        "a subquery other than one table's rows",
    ),
    (
        "SELECT order_id FROM orders WHERE freight / approved_by > 1",
        "in a condition (not a column",
    ),
    (
        "SELECT order_id / approved_by AS q FROM orders",
        "a division by something other than a non-zero number",
    ),
    ("SELECT order_id FROM orders, customers", "a join without ON"),
    ("SELECT nope FROM orders", "orders has no column nope at line 1 col 8"),
    ("SELECT order_id FROM nowhere", "table nowhere is not in the project"),
    ("SELECT 1; SELECT 2", "several statements"),
]
