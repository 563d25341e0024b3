"""Controlling: statistics that agree with the PBX, reports per tenant, billing export.

``definitions`` (pure metric definitions), ``rollups`` (15-minute rollups kept current as
calls end, rebuilt by a command), ``reports`` (figures per tenant/queue/receptionist and
period), ``billing`` (monthly CSV/XLSX export), ``reconcile`` (differences with Asterisk's
``queue_log``), ``http`` (JSON API), ``cli`` (``callcenter stats …``). ADR 0009.
"""
