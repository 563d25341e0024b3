"""Every channel variable the app sets or reads, in one place.

Channel variables exist only where Asterisk itself needs them: the dialplan reads them
(``config/asterisk/extensions.conf``) or ``manager.conf`` lists them in ``channelvars`` so
that the live state can rebuild a call after an AMI reconnect. Everything else about a call
travels as domain events on the bus (:mod:`callcenter.topics`). ``queue_log`` event names
(``CC_START``/``CC_END``) are in :mod:`callcenter.records.reconcile`.
"""

from __future__ import annotations

# Set by the IVR (ivr.engine) for the dialplan and the live state (channelvars).
CC_TENANT = "CC_TENANT"
CC_DID = "CC_DID"
CC_LANGUAGE = "CC_LANGUAGE"
CC_QUEUE = "CC_QUEUE"
CC_CALLER = "CC_CALLER"
CC_VIP = "CC_VIP"  # routing priority (QUEUE_PRIO) in the dialplan
CC_IVR_PATH = "CC_IVR_PATH"
CC_CRM_ID = "CC_CRM_ID"
CC_OVERFLOW = "CC_OVERFLOW"
CC_STAFF = "CC_STAFF"
CC_REASON = "CC_REASON"  # why the dialplan diverts (voicemail, fallback)
CC_OUTCOME = "CC_OUTCOME"  # set by the dialplan when a rule or the caller diverts
# The CRM's contact id (crm.screenpop): in channelvars, so a resync keeps it.
CC_CONTACT = "CC_CONTACT"
# Receptionists and call control (agents, callcontrol): dialplan globals and pickups.
CC_ANSWERED_BY = "CC_ANSWERED_BY"
CC_PICKUP_INTERFACE = "CC_PICKUP_INTERFACE"
CC_PICKUP_AGENT = "CC_PICKUP_AGENT"  # the position's name, the call's agent once answered
# Failed transfers (issue #8): whom to ring / bridge back to, and why it failed.
CC_TRANSFER_BACK = "CC_TRANSFER_BACK"
CC_CONSULT_CALLER = "CC_CONSULT_CALLER"
CC_TRANSFER_FAILED = "CC_TRANSFER_FAILED"
CC_TRANSFER_TRUNK = "CC_TRANSFER_TRUNK"
CC_MAX_CALL_SECONDS = "CC_MAX_CALL_SECONDS"
# Callbacks (callbacks): the number the IVR collected, the stored request, the legs.
CC_CALLBACK_NUMBER = "CC_CALLBACK_NUMBER"
CC_CALLBACK_ID = "CC_CALLBACK_ID"
CC_CALLBACK_LEG = "CC_CALLBACK_LEG"
CC_CB_POSITION = "CC_CB_POSITION"
CC_CB_APP = "CC_CB_APP"
CC_QUEUE_ENTERED = "CC_QUEUE_ENTERED"
# Simulated callers (callcenter.pbx.simulate): the caller script's steps.
CC_SIM_STEPS = "CC_SIM_STEPS"
