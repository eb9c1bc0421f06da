"""SQL queries over the source schema → MongoDB pipelines over the mapped collections.

The conversion reads only the project's mapping (the same compiled plans the document builder
writes with), so a query is answered from the documents relmig wrote, or refused with the
construct and its place in the text; `check` runs both sides and compares the results.
"""
