"""The one background-job engine: a ``jobs`` table on PostgreSQL or the embedded SQLite.

Everything deferred (transcription, voicemail and telephone-note e-mail, webhooks,
retention) is a row in ``jobs`` written in the same transaction as the change that caused it
(:func:`jobs.queue.enqueue`), claimed by a :class:`jobs.worker.Worker` with one atomic
``UPDATE … RETURNING`` (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), kept alive by a heartbeat
lease and retried with exponential backoff. Workers run inside the app (embedded default)
or as ``callcenter worker`` processes on any machine that reaches the database. Why our own
table rather than procrastinate: ``docs/decisions/0007-job-engine.md``.
"""
