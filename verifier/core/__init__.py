"""Pure verification rules: no HTTP, no SQL. The service facade wires them to a store."""
