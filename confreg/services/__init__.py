"""Business rules, one module per capability. Services flush; views commit."""


class ServiceError(Exception):
    """A rule refused the request; the message is for the user, the field says where."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
