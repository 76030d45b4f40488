"""The pure model: people, policies, templates, keys, audit. No I/O, no Qt, no device library."""
