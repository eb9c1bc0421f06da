-- relmig sample database, MySQL / MariaDB dialect.
--
-- The same logical model as northwind_postgres.sql, in the database the loader is
-- connected to. Constraint and index names match the PostgreSQL ones. Rows of the
-- Northwind-like tables come from relmig.samples.generate; the type_zoo rows are literal
-- below because their point is the exact spelling of edge values.
--
-- Script conventions (the loaders rely on them): every statement ends with ';' at the end
-- of a line, no string literal contains ';' followed by a line break, and comments are
-- whole lines starting with '--'.

SET time_zone = '+00:00';
SET FOREIGN_KEY_CHECKS = 0;
DROP TABLE IF EXISTS
    type_zoo,
    order_detail_notes,
    order_details,
    orders,
    employee_territories,
    territories,
    regions,
    employees,
    shippers,
    customer_demographic_links,
    customers,
    `Customer Demographics`,
    products,
    suppliers,
    categories;
SET FOREIGN_KEY_CHECKS = 1;

CREATE TABLE categories (
    category_id   INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    category_name VARCHAR(40) NOT NULL,
    description   TEXT,
    picture       BLOB
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE suppliers (
    supplier_id   INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    company_name  VARCHAR(60) NOT NULL,
    contact_name  VARCHAR(60),
    contact_title VARCHAR(40),
    address       VARCHAR(80),
    city          VARCHAR(40),
    region        VARCHAR(40),
    postal_code   VARCHAR(12),
    country       VARCHAR(40),
    phone         VARCHAR(30),
    fax           VARCHAR(30),
    homepage      TEXT
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE products (
    product_id        INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    product_name      VARCHAR(60) NOT NULL,
    sku               VARCHAR(20) NOT NULL,
    supplier_id       INT,
    category_id       INT,
    quantity_per_unit VARCHAR(40),
    unit_price        DECIMAL(10, 2) NOT NULL DEFAULT 0,
    units_in_stock    SMALLINT NOT NULL DEFAULT 0,
    units_on_order    SMALLINT NOT NULL DEFAULT 0,
    reorder_level     SMALLINT NOT NULL DEFAULT 0,
    discontinued      BOOLEAN NOT NULL DEFAULT FALSE,
    CONSTRAINT products_sku_key UNIQUE (sku),
    KEY products_supplier_id_idx (supplier_id),
    KEY products_category_id_idx (category_id),
    KEY products_product_name_idx (product_name),
    CONSTRAINT products_supplier_id_fkey FOREIGN KEY (supplier_id)
        REFERENCES suppliers (supplier_id),
    CONSTRAINT products_category_id_fkey FOREIGN KEY (category_id)
        REFERENCES categories (category_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

-- Awkward identifiers: a table name with a space and capitals, mixed-case columns, a
-- reserved word, a quote and non-ASCII letters in column names.
CREATE TABLE `Customer Demographics` (
    `DemographicID` INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    `DisplayName`   VARCHAR(60) NOT NULL,
    `group`         VARCHAR(30) NOT NULL,
    `it's`          TEXT,
    `größe`         INT,
    `prix_€`        DECIMAL(10, 2),
    CONSTRAINT `Customer Demographics_DisplayName_key` UNIQUE (`DisplayName`)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE customers (
    customer_id            CHAR(5) NOT NULL PRIMARY KEY,
    company_name           VARCHAR(60) NOT NULL,
    contact_name           VARCHAR(60),
    contact_title          VARCHAR(40),
    address                VARCHAR(80),
    city                   VARCHAR(40),
    region                 VARCHAR(40),
    postal_code            VARCHAR(12),
    country                VARCHAR(40),
    phone                  VARCHAR(30),
    fax                    VARCHAR(30),
    `PrimaryDemographicID` INT,
    KEY customers_primary_demographic_idx (`PrimaryDemographicID`),
    KEY customers_country_city_idx (country, city),
    CONSTRAINT `customers_PrimaryDemographicID_fkey` FOREIGN KEY (`PrimaryDemographicID`)
        REFERENCES `Customer Demographics` (`DemographicID`)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE customer_demographic_links (
    customer_id     CHAR(5) NOT NULL,
    `DemographicID` INT NOT NULL,
    `order`         SMALLINT NOT NULL,
    `SinceDate`     DATE,
    PRIMARY KEY (customer_id, `DemographicID`),
    KEY customer_demographic_links_demographic_idx (`DemographicID`),
    CONSTRAINT customer_demographic_links_customer_id_fkey FOREIGN KEY (customer_id)
        REFERENCES customers (customer_id),
    CONSTRAINT `customer_demographic_links_DemographicID_fkey` FOREIGN KEY (`DemographicID`)
        REFERENCES `Customer Demographics` (`DemographicID`)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE employees (
    employee_id       INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    last_name         VARCHAR(40) NOT NULL,
    first_name        VARCHAR(30) NOT NULL,
    title             VARCHAR(40),
    title_of_courtesy VARCHAR(10),
    birth_date        DATE,
    hire_date         DATE,
    address           VARCHAR(80),
    city              VARCHAR(40),
    region            VARCHAR(40),
    postal_code       VARCHAR(12),
    country           VARCHAR(40),
    home_phone        VARCHAR(30),
    extension         VARCHAR(6),
    notes             TEXT,
    reports_to        INT,
    KEY employees_reports_to_idx (reports_to),
    CONSTRAINT employees_reports_to_fkey FOREIGN KEY (reports_to)
        REFERENCES employees (employee_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE regions (
    region_id          INT NOT NULL PRIMARY KEY,
    region_description VARCHAR(50) NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE territories (
    territory_id          VARCHAR(20) NOT NULL PRIMARY KEY,
    territory_description VARCHAR(60) NOT NULL,
    region_id             INT NOT NULL,
    KEY territories_region_id_idx (region_id),
    CONSTRAINT territories_region_id_fkey FOREIGN KEY (region_id)
        REFERENCES regions (region_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE employee_territories (
    employee_id  INT NOT NULL,
    territory_id VARCHAR(20) NOT NULL,
    PRIMARY KEY (employee_id, territory_id),
    KEY employee_territories_territory_id_idx (territory_id),
    CONSTRAINT employee_territories_employee_id_fkey FOREIGN KEY (employee_id)
        REFERENCES employees (employee_id),
    CONSTRAINT employee_territories_territory_id_fkey FOREIGN KEY (territory_id)
        REFERENCES territories (territory_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE shippers (
    shipper_id   INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    company_name VARCHAR(60) NOT NULL,
    phone        VARCHAR(30)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE orders (
    order_id         INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    customer_id      CHAR(5) NOT NULL,
    sold_by          INT NOT NULL,
    approved_by      INT,
    order_date       DATETIME(6) NOT NULL,
    required_date    DATE,
    shipped_date     DATETIME(6),
    ship_via         INT,
    freight          DECIMAL(10, 2) NOT NULL DEFAULT 0,
    ship_name        VARCHAR(60),
    ship_address     VARCHAR(80),
    ship_city        VARCHAR(40),
    ship_region      VARCHAR(40),
    ship_postal_code VARCHAR(12),
    ship_country     VARCHAR(40),
    KEY orders_customer_id_idx (customer_id),
    KEY orders_sold_by_idx (sold_by),
    KEY orders_approved_by_idx (approved_by),
    KEY orders_ship_via_idx (ship_via),
    KEY orders_order_date_idx (order_date),
    CONSTRAINT orders_customer_id_fkey FOREIGN KEY (customer_id)
        REFERENCES customers (customer_id),
    CONSTRAINT orders_sold_by_fkey FOREIGN KEY (sold_by)
        REFERENCES employees (employee_id),
    CONSTRAINT orders_approved_by_fkey FOREIGN KEY (approved_by)
        REFERENCES employees (employee_id),
    CONSTRAINT orders_ship_via_fkey FOREIGN KEY (ship_via)
        REFERENCES shippers (shipper_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

-- The primary key (order_id, product_id) also serves look-ups by order_id.
CREATE TABLE order_details (
    order_id   INT NOT NULL,
    product_id INT NOT NULL,
    unit_price DECIMAL(10, 2) NOT NULL,
    quantity   SMALLINT NOT NULL DEFAULT 1,
    discount   DECIMAL(4, 2) NOT NULL DEFAULT 0,
    PRIMARY KEY (order_id, product_id),
    KEY order_details_product_id_idx (product_id),
    CONSTRAINT order_details_order_id_fkey FOREIGN KEY (order_id)
        REFERENCES orders (order_id),
    CONSTRAINT order_details_product_id_fkey FOREIGN KEY (product_id)
        REFERENCES products (product_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

-- A composite foreign key to order_details.
CREATE TABLE order_detail_notes (
    note_id    INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    order_id   INT NOT NULL,
    product_id INT NOT NULL,
    author_id  INT,
    note       TEXT NOT NULL,
    created_at DATETIME(6) NOT NULL,
    KEY order_detail_notes_order_detail_idx (order_id, product_id),
    KEY order_detail_notes_author_id_idx (author_id),
    CONSTRAINT order_detail_notes_order_detail_fkey FOREIGN KEY (order_id, product_id)
        REFERENCES order_details (order_id, product_id),
    CONSTRAINT order_detail_notes_author_id_fkey FOREIGN KEY (author_id)
        REFERENCES employees (employee_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

-- One column per type worth converting, and rows of edge values. is_edge = FALSE marks
-- rows every value of which converts to BSON on FerretDB as well as on MongoDB;
-- edge_case says what each row holds. Rows 1-10 hold the same logical values as in the
-- PostgreSQL script (where the type exists here; TIMESTAMP only spans 1970-2038 and
-- DECIMAL(65,30) pads every value with zeros to 30 decimals); rows 11-17 are
-- dialect-specific edges. MySQL has no interval, array, inet, money or jsonb type:
-- c_inet is a VARCHAR, the others are absent; c_ubigint and c_set exist only here.
CREATE TABLE type_zoo (
    id            INT NOT NULL PRIMARY KEY,
    is_edge       BOOLEAN NOT NULL,
    edge_case     TEXT NOT NULL,
    c_smallint    SMALLINT,
    c_int         INT,
    c_bigint      BIGINT,
    c_ubigint     BIGINT UNSIGNED,
    c_numeric     DECIMAL(65, 30),
    c_decimal     DECIMAL(12, 4),
    c_real        FLOAT,
    c_double      DOUBLE,
    c_date        DATE,
    c_timestamp   DATETIME(6),
    c_timestamptz TIMESTAMP(6) NULL DEFAULT NULL,
    c_time        TIME(6),
    c_uuid        CHAR(36),
    c_json        JSON,
    c_bytes       BLOB,
    c_enum        ENUM('sad', 'ok', 'happy', 'very happy'),
    c_set         SET('red', 'green', 'blue'),
    c_bit         BIT(8),
    c_inet        VARCHAR(45),
    c_bool        BOOLEAN,
    c_text        TEXT,
    c_varchar     VARCHAR(50),
    c_char        CHAR(5)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

-- Zero dates, invalid dates and the ENUM error value need a lax mode.
SET SESSION sql_mode = 'ALLOW_INVALID_DATES,NO_ENGINE_SUBSTITUTION';

INSERT INTO type_zoo (
    id, is_edge, edge_case,
    c_smallint, c_int, c_bigint, c_ubigint, c_numeric, c_decimal, c_real, c_double,
    c_date, c_timestamp, c_timestamptz, c_time, c_uuid, c_json,
    c_bytes, c_enum, c_set, c_bit, c_inet,
    c_bool, c_text, c_varchar, c_char
) VALUES
(1, FALSE, 'clean: typical values in every column',
 12, 123456, 1234567890123, 1234567890123, 12345.6789, 42.5000, 1.5, 3.14159265358979,
 '2024-02-29', '2024-02-29 13:45:30.123456', '2024-02-29 13:45:30.123456',
 '13:45:30.123456', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
 '{"name": "widget", "tags": ["a", "b"], "dims": {"w": 2, "h": 3.5}, "ok": true, "none": null}',
 X'DEADBEEF', 'happy', 'red,blue', b'10101010', '192.168.10.1',
 TRUE, 'plain ASCII text', 'varchar value', 'ABCDE'),
(2, FALSE, 'clean: negative and tiny numbers, false, unicode text, empty values, pre-1970 date',
 -7, -654321, -9876543210987, 0, -0.000123, -1.2500, -2.25, -1.0e-300,
 '1969-07-20', '1969-07-20 20:17:40', '1999-12-31 23:59:59.5',
 '00:00:00', '00000000-0000-0000-0000-000000000000',
 '{"empty": [], "nested": {"deeper": {"deepest": [1, [2, [3]]]}}}',
 X'', 'sad', '', b'00000000', '2001:db8::1',
 FALSE, 'Grüße, 世界! 😀 ‰ — «quotes» ''single'' "double"', 'çà et là', 'xy'),
(4, FALSE, 'clean: minimums (int16, int32, int64, float32, float64)',
 -32768, -2147483648, -9223372036854775808, 0, 0, 0.0001, -3.402823466e38,
 -1.7976931348623157e308,
 '1970-01-01', '1970-01-01 00:00:01', '1970-01-01 00:00:01',
 '00:00:00', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '[]',
 X'00', 'sad', '', b'00000000', '0.0.0.0',
 FALSE, '', '', ''),
(5, FALSE, 'clean: maximums (int16, int32, int64, float32, float64)',
 32767, 2147483647, 9223372036854775807, 9223372036854775807, 99999999.9999, 99999999.9999,
 3.402823466e38, 1.7976931348623157e308,
 '2038-01-19', '2038-01-19 03:14:07.999999', '2038-01-19 03:14:07.999999',
 '23:59:59.999999', '7f000001-0000-4000-8000-00000000ffff',
 '[9223372036854775807, -9223372036854775808]',
 X'FF', 'very happy', 'red,green,blue', b'11111111', '255.255.255.255',
 TRUE, 'max', 'max', 'ZZZZZ');

INSERT INTO type_zoo (id, is_edge, edge_case) VALUES
(3, FALSE, 'clean: NULL in every nullable column');

INSERT INTO type_zoo (id, is_edge, edge_case, c_numeric, c_decimal) VALUES
(6, FALSE, 'clean: numeric with exactly 34 significant digits (fits Decimal128)',
 1234567890123456789012345678.901234, 1.0001);

INSERT INTO type_zoo (id, is_edge, edge_case, c_numeric) VALUES
(7, TRUE, 'edge: numeric with more than 34 significant digits (does not fit Decimal128)',
 12345678901234567890123456789012345.678901234567890123456789012345);

INSERT INTO type_zoo (id, is_edge, edge_case, c_date, c_timestamp) VALUES
(8, TRUE, 'edge: earliest dates (year 1)',
 '0001-01-01', '0001-01-01 00:00:00'),
(9, TRUE, 'edge: latest dates (year 9999)',
 '9999-12-31', '9999-12-31 23:59:59.999999');

INSERT INTO type_zoo (id, is_edge, edge_case, c_json) VALUES
(10, TRUE, 'edge: JSON integer beyond int64 and a float needing 17 digits',
 '{"big": 123456789012345678901234567890, "float": 0.30000000000000004}');

INSERT INTO type_zoo (id, is_edge, edge_case, c_date, c_timestamp, c_timestamptz) VALUES
(11, TRUE, 'edge (MySQL): zero date 0000-00-00 in DATE, DATETIME and TIMESTAMP',
 '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00');

INSERT INTO type_zoo (id, is_edge, edge_case, c_date, c_timestamp) VALUES
(12, TRUE, 'edge (MySQL): zero month and day inside a date (2023-00-00, 2023-04-00)',
 '2023-00-00', '2023-04-00 12:00:00'),
(13, TRUE, 'edge (MySQL): invalid calendar date kept by ALLOW_INVALID_DATES (February 30)',
 '2023-02-30', '2023-02-31 10:00:00');

INSERT INTO type_zoo (id, is_edge, edge_case, c_ubigint) VALUES
(14, TRUE, 'edge (MySQL): BIGINT UNSIGNED maximum, beyond int64', 18446744073709551615);

INSERT INTO type_zoo (id, is_edge, edge_case, c_time) VALUES
(15, TRUE, 'edge (MySQL): TIME beyond one day (838:59:59)', '838:59:59.000000'),
(16, TRUE, 'edge (MySQL): negative TIME (-838:59:59)', '-838:59:59.000000');

INSERT INTO type_zoo (id, is_edge, edge_case, c_enum) VALUES
(17, TRUE, 'edge (MySQL): ENUM error value (empty string, index 0)', '');
