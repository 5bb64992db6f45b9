"""The ledger: engine and transactions, schema, migrations and the append-only audit log."""
