"""Benchmarks of django_chatkit against the SDK's own pattern (see README.md here)."""
