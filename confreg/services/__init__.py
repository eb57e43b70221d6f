"""Business rules, one module per capability. Services flush; views commit."""


class ServiceError(Exception):
    """A rule refused the request; the message is for the user, the field says where."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class DuplicateSubmission(ServiceError):
    """The same form was submitted twice; the first submission registered."""

    def __init__(self, registration):
        super().__init__(f"此报名已经提交成功（报名编号 {registration.code}），请勿重复提交。")
        self.registration = registration
