-- The items of the example's API. This plain file is SQLite's; PostgreSQL and
-- MySQL/MariaDB run their own variant of number 001.
CREATE TABLE items (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL
);
