from axes.models import AccessAttempt
from axes.utils import reset
from django.conf import settings
from django.db.models import QuerySet


def locked_attempts() -> QuerySet[AccessAttempt]:
    return AccessAttempt.objects.filter(failures_since_start__gte=settings.AXES_FAILURE_LIMIT).order_by(
        "-attempt_time"
    )


def login_unlock(*, username: str) -> int:
    """Lift the lockout of a login at once (the owner's unlock); returns the attempts removed."""
    if not username:
        return 0
    return reset(username=username)
