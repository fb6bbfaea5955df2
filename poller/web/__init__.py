"""`poller web`: the read-only status page over the processed-applications table.

``app`` is the WSGI application (Werkzeug routing, Jinja2 templates with autoescape);
``serve`` checks where it may listen and runs it under waitress. Nothing here imports
SQLAlchemy or requests: the data comes from ``poller.ledger``/``poller.ledger_views``.
"""
