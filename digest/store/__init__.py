"""The database (SQLite or PostgreSQL): schema, the repository the stages read and write, leases, backups."""
