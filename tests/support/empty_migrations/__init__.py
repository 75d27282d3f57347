"""An app's migrations package with no migration in it (tests/test_migrations.py)."""
