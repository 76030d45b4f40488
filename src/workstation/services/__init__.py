"""Use cases and policy checks. They reach devices and storage only through ``ports``."""
