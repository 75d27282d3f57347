"""What the tests share besides fixtures (those are in ``tests/conftest.py``).

* ``attachments``: sample files, upload and request bodies, test-client helpers;
* ``consistency``: checks that what the database holds is whole;
* ``factories``: rows made directly (users, threads, every item type, attachments,
  feedback), for the admin, the commands and the live updates;
* ``items``: SDK objects (threads, messages, attachments, a widget template) for the
  store tests;
* ``protocol``: ChatKit request bodies, SSE events read by the terminal client's parser,
  ASGI scopes;
* ``querylog``: the SQL statements of code running on any thread;
* ``servers``: ``ScriptedServer``, the suite's ``CHATKIT_SERVER``, answering by script;
* ``world``: one user's complete data built through the endpoint, and its snapshot;
* ``live``, ``sockets``, ``s3``, ``browser``: real servers (daphne, uvicorn), WebSocket
  clients, an S3 server (moto) and headless Chromium;
* the sites those servers and the settings name: ``asgi``, ``asgi_lean``,
  ``asgi_startup``, ``urls``, ``urls_without_chatkit``, ``lean_site``, ``token_site``,
  ``broken_server``, ``empty_migrations``.
"""

from pathlib import Path

#: The repository's root (README.md, example_project/, manage.py).
ROOT = Path(__file__).resolve().parents[2]
