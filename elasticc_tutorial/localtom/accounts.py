"""Local TOM accounts besides the demo user: ``apibroker``, the account brokers PUT
classifications with (``elasticc2/brokermessage/``; desc-tom's name for it).

Its random password is kept like the demo user's: first line of a 0600 file, never printed, next to
the demo credentials (``<credentials>-apibroker``).
"""

from __future__ import annotations

from pathlib import Path

#: desc-tom's broker account: besides superusers, the only user who may PUT broker messages.
BROKER_USER = "apibroker"

__all__ = ["BROKER_USER", "broker_credentials_path", "ensure_broker_account"]


def broker_credentials_path(credentials_file: str | Path) -> Path:
    """Where the ``apibroker`` password is kept, given the demo user's credentials file."""
    path = Path(credentials_file)
    return path.with_name(path.name + "-apibroker")


def ensure_broker_account(credentials_file: str | Path) -> Path:
    """Create (or re-key) the ``apibroker`` user from its password file, creating the file (0600)
    on first use; returns the file's path. Needs Django set up (call after ``migrate``)."""
    from django.contrib.auth import get_user_model

    from elasticc_tutorial.localtom.server import read_or_create_password

    path = broker_credentials_path(credentials_file)
    password = read_or_create_password(path)
    user, _ = get_user_model().objects.get_or_create(username=BROKER_USER)
    if not user.check_password(password):
        user.set_password(password)
        user.save()
    return path
