"""Receptionists as queue members: log in/out, pause with a reason, queue provisioning.

The desired state (logged in, paused, why) lives in PostgreSQL (:mod:`.models`); app_queue
holds only runtime members (``persistentmembers = no``), so :mod:`.service` reconciles the
PBX with the database after every AMI (re)connect.
"""
