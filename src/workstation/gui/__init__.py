"""The desktop workstation (PySide6). It only renders and asks: every rule is in the
services, reached through ``AppState`` and the ``ServiceRunner`` (one device thread)."""
