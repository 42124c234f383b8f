"""Storage: the database, its tables, the schema migrations and the reference-data cache."""
