"""Receptionist actions on live calls (pick up, hold, transfer, park, hang up, voicemail).

:mod:`.facts` reads a call out of the live state, :mod:`.rules` decides purely whether an
action applies and which AMI actions carry it out, :mod:`.service` sends them.
"""
