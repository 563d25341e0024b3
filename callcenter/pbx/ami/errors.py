"""The AMI client's errors."""

from __future__ import annotations

from callcenter.pbx.ami.message import Message


class AmiError(Exception):
    """Base of the client's errors."""


class AmiNotConnected(AmiError):
    """The action was not sent: there is no logged-in connection right now."""


class AmiConnectionLost(AmiError):
    """The connection broke while the action was waiting for its answer."""


class AmiTimeout(AmiError, TimeoutError):
    """No answer within the action's timeout (the action may still have run)."""


class AmiLoginError(AmiError):
    """Asterisk refused the Login (wrong user or secret, or ACL)."""


class AmiActionError(AmiError):
    """Asterisk answered ``Response: Error``; ``response`` holds the full message."""

    def __init__(self, action: str, response: Message) -> None:
        super().__init__(f"AMI {action} failed: {response.get('Message') or response.name}")
        self.action = action
        self.response = response
