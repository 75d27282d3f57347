"""The terminal client behind ``manage.py chatkit_chat``: in process or over HTTP."""
