"""Phones and lines: carrier trunks, receptionists' SIP phones and the browser softphone.

The PBX side is configuration the app generates (PJSIP sections and dialplan written into
the PBX's ``generated/`` include directory, then reloaded); the app side watches trunk and
phone registration over AMI and reports it in ``/healthz``, ``/metrics`` and the live state.
"""
