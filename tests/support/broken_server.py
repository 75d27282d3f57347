"""A ``CHATKIT_SERVER`` module that fails while importing (for tests/test_checks.py)."""

raise RuntimeError("broken on import")
