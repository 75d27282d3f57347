"""A production Django backend for OpenAI's ChatKit chat UI."""

__version__ = "0.1.0"
