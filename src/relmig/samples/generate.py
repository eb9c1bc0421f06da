"""Deterministic rows for the Northwind-like sample tables.

:func:`generate` returns the rows of every generated table, parents before children, as
plain Python values (``int``, ``str``, :class:`~decimal.Decimal`, :class:`~datetime.date`,
naive :class:`~datetime.datetime`, ``bool``, ``bytes`` and ``None``) that both database
drivers adapt the same way, so the PostgreSQL and the MySQL copies hold the same data.
The output depends only on ``scale`` and ``seed``.

``scale`` multiplies the sizes of suppliers, products, customers and orders (and so of the
order lines and notes); categories, employees, shippers, regions, territories and
demographics have fixed sizes. At any scale the last product is never ordered and the last
customer never orders, and some nullable foreign keys are NULL.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

DEFAULT_SEED = 20240229

# Every sample table, parents before children; type_zoo is written by the SQL scripts.
TABLE_NAMES: tuple[str, ...] = (
    "categories",
    "suppliers",
    "products",
    "Customer Demographics",
    "customers",
    "customer_demographic_links",
    "employees",
    "regions",
    "territories",
    "employee_territories",
    "shippers",
    "orders",
    "order_details",
    "order_detail_notes",
    "type_zoo",
)
TYPE_ZOO_ROWS = 17

# Tables whose integer primary key has a default (PostgreSQL identity, MySQL
# AUTO_INCREMENT): the loaders insert explicit values and then move the counter on.
GENERATED_KEYS: tuple[tuple[str, str], ...] = (
    ("categories", "category_id"),
    ("suppliers", "supplier_id"),
    ("products", "product_id"),
    ("Customer Demographics", "DemographicID"),
    ("employees", "employee_id"),
    ("shippers", "shipper_id"),
    ("orders", "order_id"),
    ("order_detail_notes", "note_id"),
)


@dataclass(frozen=True)
class TableRows:
    """The rows of one table, each a tuple in the order of ``columns``."""

    name: str
    columns: tuple[str, ...]
    rows: list[tuple]


_FIRST_NAMES = (
    "Ada", "Bruno", "Chiara", "Dmitri", "Elif", "Fatima", "Gustav", "Hana", "Ingrid", "Jonas",
    "Kwame", "Léa", "Mateo", "Nadia", "Oskar", "Priya", "Quentin", "Rosa", "Søren", "Tomás",
    "Ulla", "Vikram", "Wanda", "Xavier", "Yuki", "Zoë", "Aurélien", "Björn", "Carmen", "Deniz",
)  # fmt: skip
_LAST_NAMES = (
    "Abara", "Brennan", "Castellano", "Dufour", "Eriksen", "Fonseca", "Grünewald", "Haddad",
    "Ivanova", "Jansen", "Kowalczyk", "Lindqvist", "Moreau", "Novák", "O'Hara", "Petrović",
    "Quiroga", "Rasmussen", "Szabó", "Tanaka", "Urquhart", "Vasquez", "Whitfield", "Yilmaz",
    "Zimmermann", "Ødegaard", "Núñez", "Achterberg", "Bellini", "Coutinho",
)  # fmt: skip
_COMPANY_KINDS = (
    "Provisions", "Trading Co.", "Pantry", "Grocers", "Wholesale", "Market Hall", "Foods Ltd",
    "Deli", "Import & Export", "Cooperative", "Larder", "Fine Foods", "Emporium", "Supply",
)  # fmt: skip
# (city, country, region or None, postal code prefix)
_PLACES = (
    ("Lisbon", "Portugal", None, "1100"),
    ("Porto", "Portugal", None, "4000"),
    ("Lyon", "France", "Auvergne-Rhône-Alpes", "690"),
    ("Nantes", "France", "Pays de la Loire", "440"),
    ("Leipzig", "Germany", "Sachsen", "041"),
    ("Köln", "Germany", "Nordrhein-Westfalen", "506"),
    ("Bergen", "Norway", None, "50"),
    ("Göteborg", "Sweden", None, "411"),
    ("Aarhus", "Denmark", None, "80"),
    ("Gdańsk", "Poland", "Pomorskie", "80-"),
    ("Brno", "Czechia", None, "602"),
    ("Bologna", "Italy", "Emilia-Romagna", "401"),
    ("Valencia", "Spain", "Comunitat Valenciana", "460"),
    ("Cork", "Ireland", "Munster", "T12"),
    ("Halifax", "Canada", "NS", "B3H"),
    ("Portland", "USA", "OR", "972"),
    ("Austin", "USA", "TX", "787"),
    ("Recife", "Brazil", "PE", "500"),
    ("Córdoba", "Argentina", None, "500"),
    ("Osaka", "Japan", None, "530"),
    ("Wellington", "New Zealand", None, "60"),
    ("Izmir", "Turkey", None, "35"),
)
_STREETS = (
    "Harbour Road", "Rua das Flores", "Lindenallee", "Via del Pratello", "Calle Mayor",
    "Kongens Gate", "Rue Mercière", "Mill Lane", "Sakura-dori", "Avenida Boa Viagem",
)  # fmt: skip
_TITLES = (
    "Owner", "Buyer", "Purchasing Manager", "Sales Agent", "Accounting Manager",
    "Marketing Assistant", "Operations Lead",
)  # fmt: skip

# (name, description, SKU prefix, product nouns, units)
_CATEGORIES = (
    (
        "Teas & Infusions",
        "Loose leaf teas, herbal blends and tisanes",
        "TEA",
        ("Sencha", "Rooibos", "Chai Blend", "Mint Tisane", "Oolong", "Earl Grey"),
        ("20 bags", "250 g tin", "12 x 100 g"),
    ),
    (
        "Coffee",
        "Roasted beans and ground coffee",
        "COF",
        ("Espresso Roast", "Single Origin Beans", "Decaf Blend", "Cold Brew Grind"),
        ("1 kg bag", "6 x 250 g", "500 g"),
    ),
    (
        "Sauces & Condiments",
        "Sauces, relishes, mustards and dressings",
        "SAU",
        ("Hot Sauce", "Grain Mustard", "Chutney", "Ketchup", "Pesto", "Aioli"),
        ("12 x 250 ml", "24 x 8 oz jars", "6 x 500 ml"),
    ),
    (
        "Bakery",
        "Breads, crackers and biscuits",
        "BAK",
        ("Rye Crispbread", "Oat Biscuits", "Sourdough Crackers", "Butter Cookies"),
        ("24 x 200 g", "10 boxes", "12 packs"),
    ),
    (
        "Dairy",
        "Cheese, butter and cultured milk",
        "DAI",
        ("Aged Gouda", "Goat Cheese", "Cultured Butter", "Blue Cheese", "Skyr"),
        ("10 x 500 g", "1 kg wheel", "12 x 125 g"),
    ),
    (
        "Seafood",
        "Tinned, smoked and frozen fish and shellfish",
        "SEA",
        ("Smoked Salmon", "Sardines", "Pickled Herring", "Anchovies", "Crab Meat"),
        ("24 x 120 g tins", "10 x 200 g", "2 kg box"),
    ),
    (
        "Preserves",
        "Jams, honey and fruit spreads",
        "PRE",
        ("Blueberry Jam", "Wildflower Honey", "Orange Marmalade", "Fig Spread"),
        ("12 x 340 g", "6 jars", "24 x 40 g"),
    ),
    (
        "Grains & Pasta",
        "Rice, flours, pasta and cereals",
        "GRA",
        ("Arborio Rice", "Spelt Flour", "Tagliatelle", "Rolled Oats", "Couscous"),
        ("10 x 1 kg", "20 x 500 g", "25 kg sack"),
    ),
    (
        "Snacks",
        "Nuts, chips and chocolate",
        "SNK",
        ("Salted Almonds", "Dark Chocolate Bar", "Plantain Chips", "Trail Mix"),
        ("24 x 50 g", "12 bars", "30 bags"),
    ),
    (
        "Frozen",
        "Frozen vegetables, desserts and ready meals",
        "FRZ",
        ("Berry Sorbet", "Dumplings", "Spinach Portions", "Vanilla Gelato"),
        ("8 x 400 g", "12 tubs", "5 kg box"),
    ),
)
_ADJECTIVES = (
    "Organic", "Classic", "Smoky", "Alpine", "Coastal", "Heritage", "Golden", "Rustic",
    "Spiced", "Wild", "Royal", "Nordic",
)  # fmt: skip

# ("DisplayName", "group", "it's", "größe", "prix_€")
_DEMOGRAPHICS = (
    ("Independent grocer", "retail", "it's a small shop", 5, Decimal("0.00")),
    ("Supermarket chain", "retail", "it's big; it's everywhere", 500, Decimal("1250.00")),
    ("Restaurant", "horeca", None, 20, Decimal("99.90")),
    ("Hotel", "horeca", "guests' breakfasts", 120, Decimal("450.50")),
    ("Caterer", "horeca", "événements & réceptions", 35, Decimal("210.00")),
    ("Online shop", "e-commerce", "ships everywhere, doesn't store", None, None),
    ("Café", "horeca", "Kaffee & Kuchen — größer als gedacht", 8, Decimal("19.99")),
    ("Wholesaler", "trade", 'the "middle" man', 60, Decimal("3000.00")),
)
_REGIONS = ((1, "North Coast"), (2, "Inland Valleys"), (3, "South Coast"), (4, "Islands"))
_SHIPPERS = (
    ("Swift Parcel", "+1 503 555 0101"),
    ("Blue Harbour Freight", "+351 21 555 0199"),
    ("Nordlicht Logistik", "+49 341 555 0123"),
    ("Idle Wheels Courier", None),  # never used by an order
)
_NOTES = (
    "Customer asked for a substitute if out of stock.",
    "Packed in insulated box.",
    "Price matched to the spring catalogue.",
    "Partial delivery; remainder back-ordered.",
    "Label printed in both languages — check «umlauts».",
    "Fragile: glass jars, don't stack.",
)
_DISCOUNTS = tuple(Decimal(d) for d in ("0.00", "0.00", "0.00", "0.05", "0.10", "0.15", "0.20"))


def _scaled(base: int, scale: float, minimum: int) -> int:
    return max(minimum, round(base * scale))


def _money(rng: random.Random, low: float, high: float) -> Decimal:
    return Decimal(f"{rng.uniform(low, high):.2f}")


def _phone(rng: random.Random) -> str:
    parts = (
        rng.randint(1, 99),
        rng.randint(10, 999),
        rng.randint(100, 999),
        rng.randint(1000, 9999),
    )
    return "+{} {} {} {}".format(*parts)


def _postal(rng: random.Random, prefix: str) -> str:
    return f"{prefix}{rng.randint(10, 99)}"


def _address(rng: random.Random) -> str:
    return f"{rng.randint(1, 240)} {rng.choice(_STREETS)}"


def _person(rng: random.Random) -> tuple[str, str]:
    return rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)


def _company(rng: random.Random, used: set[str]) -> str:
    while True:
        name = f"{rng.choice(_LAST_NAMES)} {rng.choice(_COMPANY_KINDS)}"
        if name not in used:
            used.add(name)
            return name


def _customer_id(rng: random.Random, company: str, used: set[str]) -> str:
    words = ["".join(ch for ch in word.upper() if "A" <= ch <= "Z") for word in company.split()]
    candidate = (words[0][:3] + words[1][:2] + "XXXXX")[:5]
    while candidate in used:
        candidate = candidate[:3] + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in "12")
    used.add(candidate)
    return candidate


def generate(scale: float = 1.0, seed: int = DEFAULT_SEED) -> list[TableRows]:
    """Rows of every generated table, parents before children (``type_zoo`` excluded)."""
    if scale <= 0:
        raise ValueError("scale must be positive")
    rng = random.Random(seed)
    n_suppliers = _scaled(30, scale, 3)
    n_products = _scaled(80, scale, 8)
    n_customers = _scaled(90, scale, 4)
    n_orders = _scaled(300, scale, 4)

    categories = []
    for cid, (name, description, _prefix, _nouns, _units) in enumerate(_CATEGORIES, start=1):
        picture = None if cid % 5 == 0 else b"\x89IMG\r\n\x1a\n" + rng.randbytes(24 + cid)
        categories.append((cid, name, description, picture))

    suppliers = []
    used_companies: set[str] = set()
    for sid in range(1, n_suppliers + 1):
        city, country, region, prefix = rng.choice(_PLACES)
        first, last = _person(rng)
        company = _company(rng, used_companies)
        slug = "".join(ch for ch in company.lower() if ch.isascii() and ch.isalnum())
        suppliers.append(
            (
                sid,
                company,
                f"{first} {last}",
                rng.choice(_TITLES),
                _address(rng),
                city,
                region,
                _postal(rng, prefix),
                country,
                _phone(rng),
                _phone(rng) if rng.random() < 0.4 else None,
                f"https://{slug}.example/" if rng.random() < 0.5 else None,
            )
        )

    products = []
    product_prices: dict[int, Decimal] = {}
    for pid in range(1, n_products + 1):
        cat_index = rng.randrange(len(_CATEGORIES))
        _name, _description, prefix, nouns, units = _CATEGORIES[cat_index]
        never_ordered = pid == n_products
        price = _money(rng, 2.5, 120.0)
        product_prices[pid] = price
        products.append(
            (
                pid,
                "Unsold Sample Crate"
                if never_ordered
                else f"{rng.choice(_ADJECTIVES)} {rng.choice(nouns)}",
                f"{prefix}-{pid:05d}",
                None if pid % 23 == 0 else rng.randint(1, n_suppliers),
                None if pid % 31 == 0 else cat_index + 1,
                rng.choice(units),
                price,
                rng.randint(0, 150),
                rng.choice((0, 0, 0, 10, 20, 40)),
                rng.choice((0, 5, 10, 15, 25)),
                never_ordered or rng.random() < 0.08,
            )
        )

    demographics = [(i, *row) for i, row in enumerate(_DEMOGRAPHICS, start=1)]

    customers = []
    used_ids: set[str] = set()
    for _ in range(n_customers):
        city, country, region, prefix = rng.choice(_PLACES)
        first, last = _person(rng)
        company = _company(rng, used_companies)
        customers.append(
            (
                _customer_id(rng, company, used_ids),
                company,
                f"{first} {last}",
                rng.choice(_TITLES),
                _address(rng),
                city,
                region,
                _postal(rng, prefix),
                country,
                _phone(rng),
                _phone(rng) if rng.random() < 0.3 else None,
                rng.randint(1, len(demographics)) if rng.random() < 0.7 else None,
            )
        )

    links = []
    for customer in customers:
        if rng.random() < 0.5:
            chosen = rng.sample(range(1, len(demographics) + 1), rng.randint(1, 3))
            for rank, demographic_id in enumerate(chosen, start=1):
                since = date(2015, 1, 1) + timedelta(days=rng.randrange(3000))
                links.append(
                    (customer[0], demographic_id, rank, since if rng.random() < 0.8 else None)
                )

    # Employee 1 reports to nobody, 2-3 report to 1, 4-7 to 2 and 8-10 to 3.
    titles = ["Managing Director", "Sales Manager", "Operations Manager"] + ["Sales Rep"] * 7
    managers = [None, 1, 1, 2, 2, 2, 2, 3, 3, 3]
    employees = []
    for eid in range(1, 11):
        city, country, region, prefix = rng.choice(_PLACES)
        first, last = _person(rng)
        birth = date(1960, 1, 1) + timedelta(days=rng.randrange(12000))
        hire = date(2008, 1, 1) + timedelta(days=rng.randrange(5000))
        employees.append(
            (
                eid,
                last,
                first,
                titles[eid - 1],
                rng.choice(("Mr.", "Ms.", "Dr.", "Mx.")),
                birth,
                hire,
                _address(rng),
                city,
                region,
                _postal(rng, prefix),
                country,
                _phone(rng),
                str(rng.randint(100, 9999)),
                None if eid % 4 == 0 else f"{first} joined in {hire.year}; based in {city}.",
                managers[eid - 1],
            )
        )

    regions = list(_REGIONS)
    territories = []
    for index in range(30):
        city = _PLACES[index % len(_PLACES)][0]
        territory_id = f"{10000 + index * 317:05d}"
        territories.append((territory_id, f"{city} {'ABC'[index // len(_PLACES)]}", index % 4 + 1))
    # The last territory is left without employees.
    employee_territories = []
    for eid in range(1, 11):
        for territory in rng.sample(territories[:-1], rng.randint(2, 5)):
            employee_territories.append((eid, territory[0]))
    employee_territories.sort()

    shippers = [(i, name, phone) for i, (name, phone) in enumerate(_SHIPPERS, start=1)]

    # The last customer never orders, the last product is never ordered.
    ordering_customers = customers[:-1]
    orderable_products = list(range(1, n_products))
    start = datetime(2022, 1, 1, 8, 0, 0)
    order_dates = sorted(
        start
        + timedelta(seconds=rng.randrange(3 * 365 * 86400), microseconds=rng.randrange(1000000))
        for _ in range(n_orders)
    )
    orders = []
    order_details = []
    order_detail_notes = []
    for oid, ordered_at in enumerate(order_dates, start=1):
        customer = rng.choice(ordering_customers)
        sold_by = rng.randint(4, 10)
        approved_by = managers[sold_by - 1] if rng.random() < 0.75 else None
        shipped = rng.random() < 0.92
        orders.append(
            (
                oid,
                customer[0],
                sold_by,
                approved_by,
                ordered_at,
                ordered_at.date() + timedelta(days=rng.randint(14, 42)),
                ordered_at + timedelta(days=rng.randint(1, 20), hours=rng.randint(0, 12))
                if shipped
                else None,
                rng.randint(1, 3) if shipped else None,
                _money(rng, 0.5, 900.0),
                customer[1],
                customer[4],
                customer[5],
                customer[6],
                customer[7],
                customer[8],
            )
        )
        for pid in sorted(rng.sample(orderable_products, rng.randint(1, 5))):
            price = product_prices[pid]
            if rng.random() < 0.2:
                price = (price * Decimal("0.9")).quantize(Decimal("0.01"))
            order_details.append((oid, pid, price, rng.randint(1, 60), rng.choice(_DISCOUNTS)))
            if rng.random() < 0.08:
                for _ in range(rng.randint(1, 2)):
                    order_detail_notes.append(
                        (
                            len(order_detail_notes) + 1,
                            oid,
                            pid,
                            rng.randint(1, 10) if rng.random() < 0.85 else None,
                            rng.choice(_NOTES),
                            ordered_at + timedelta(minutes=rng.randint(1, 5000)),
                        )
                    )

    def table(name: str, columns: str, rows: list[tuple]) -> TableRows:
        return TableRows(name, tuple(columns.split()), rows)

    return [
        table("categories", "category_id category_name description picture", categories),
        table(
            "suppliers",
            "supplier_id company_name contact_name contact_title address city region"
            " postal_code country phone fax homepage",
            suppliers,
        ),
        table(
            "products",
            "product_id product_name sku supplier_id category_id quantity_per_unit unit_price"
            " units_in_stock units_on_order reorder_level discontinued",
            products,
        ),
        TableRows(
            "Customer Demographics",
            ("DemographicID", "DisplayName", "group", "it's", "größe", "prix_€"),
            demographics,
        ),
        table(
            "customers",
            "customer_id company_name contact_name contact_title address city region"
            " postal_code country phone fax PrimaryDemographicID",
            customers,
        ),
        table("customer_demographic_links", "customer_id DemographicID order SinceDate", links),
        table(
            "employees",
            "employee_id last_name first_name title title_of_courtesy birth_date hire_date"
            " address city region postal_code country home_phone extension notes reports_to",
            employees,
        ),
        table("regions", "region_id region_description", regions),
        table("territories", "territory_id territory_description region_id", territories),
        table("employee_territories", "employee_id territory_id", employee_territories),
        table("shippers", "shipper_id company_name phone", shippers),
        table(
            "orders",
            "order_id customer_id sold_by approved_by order_date required_date shipped_date"
            " ship_via freight ship_name ship_address ship_city ship_region ship_postal_code"
            " ship_country",
            orders,
        ),
        table(
            "order_details",
            "order_id product_id unit_price quantity discount",
            order_details,
        ),
        table(
            "order_detail_notes",
            "note_id order_id product_id author_id note created_at",
            order_detail_notes,
        ),
    ]


def row_counts(scale: float = 1.0, seed: int = DEFAULT_SEED) -> dict[str, int]:
    """Number of rows the loaders write to each sample table, ``type_zoo`` included."""
    counts = {t.name: len(t.rows) for t in generate(scale, seed)}
    counts["type_zoo"] = TYPE_ZOO_ROWS
    return counts
