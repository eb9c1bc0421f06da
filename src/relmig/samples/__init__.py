"""Northwind-like sample database used by the demo and the tests.

The schema is written twice, once per source dialect (``northwind_postgres.sql`` and
``northwind_mysql.sql``), and describes the same logical model: categories, suppliers,
products, customers, employees (self-referencing), shippers, orders (two foreign keys to
employees), order lines with a composite primary key, notes with a composite foreign key,
awkwardly named tables and columns, and ``type_zoo``, one column per interesting type with
rows of edge values. The Northwind-like rows are produced by a seeded generator
(:mod:`relmig.samples.generate`), so both dialects hold exactly the same data, and
:mod:`relmig.samples.load` drops, recreates and fills the sample objects.
"""
