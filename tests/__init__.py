"""django_chatkit's tests, in packages that mirror the library's.

* ``store/``: ``DjangoStore`` (the SDK's contract, fidelity, query budgets, compiled
  statements, feedback);
* ``attachments/``: the attachment store and views, on disk, on S3, through live servers;
* ``views/``: the protocol endpoint (errors, limits, streaming, Stop, keep-alives, access
  and authorization, hostile input), the lean path, and the endpoint under real servers
  (concurrency, connections, workers, faults);
* ``live/``: live updates (the socket consumer, the push API);
* ``admin/``: the admin (threads, attachments, Markdown and widgets, a real browser);
* ``client/``: the terminal client (``manage.py chatkit_chat``);
* ``management/``: the other commands;
* ``templatetags/``: ``{% chatkit %}``;
* ``example/``: the example project and the README's setup walkthrough;
* at the top: checks, migrations, the server class, misconfiguration, hand-off, the Redis
  pool, the README's error table.

``conftest.py`` holds the shared fixtures, ``settings/`` the settings modules (the base in
``settings/__init__.py``), ``support/`` everything else the tests share.
"""
