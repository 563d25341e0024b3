"""Asterisk's own records of calls (``queue_log``) and the reconciliation of call rows.

See docs/decisions/0004-pbx-records-queue-log.md: the dialplan writes ``CC_START`` and
``CC_END`` lines beside app_queue's own; the app copies the file into ``pbx_queue_log`` and
completes or creates call rows from it, so a call that ended while no app was running still
gets exactly one complete row.
"""
