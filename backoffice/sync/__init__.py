"""Working through the store API: a local SQLite replica per API profile (kept current from the change
feeds) that the grid and the stock views read, and an outbox of writes sent in order, once each."""
