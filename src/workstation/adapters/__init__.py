"""Implementations of the ports: PKCS#11 HSM, PC/SC smart cards, SQLite repository."""
