"""Everything that speaks SQL: the engine, the schema and the ledger's queries."""
