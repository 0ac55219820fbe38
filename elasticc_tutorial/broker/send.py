"""Send brokerClassification messages to a TOM's ``elasticc2/brokermessage/`` route.

The DESC TOM accepts a PUT of one message or a list of them from the ``apibroker`` account (or a
superuser) and answers 201 ``{"brokerMessageId": <first new id>, "num_loaded": N}``; it files each
message under a classifier made from (broker, version, classifier, params), creating it on first use.

Sending goes to the local TOM only, unless the caller says ``to_desc_tom=True``: the real TOM's
broker tables are the ELAsTiCC campaign's record, from which DESC computes every broker's metrics,
so a tutorial classifier must not land there by accident (e.g. because ``DESC_TOM_URL`` happened to
be set in the shell).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from elasticc_tutorial.errors import TomError
from elasticc_tutorial.tom import TomClient, summarize_response

__all__ = ["BROKERMESSAGE_PAGE", "SendReport", "broker_client", "is_local_url", "send_messages"]

BROKERMESSAGE_PAGE = "elasticc2/brokermessage/"
BROKER_USER = "apibroker"  # desc-tom's broker account, also the local TOM's
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def is_local_url(url: str) -> bool:
    """True for a TOM on this machine (the local TOM serves 127.0.0.1 only)."""
    return (urlsplit(url).hostname or "") in LOCAL_HOSTS


@dataclass(frozen=True)
class SendReport:
    """What the TOM said: messages sent and loaded, PUT requests made, and the first new message id."""

    sent: int
    loaded: int
    requests: int
    first_id: int | None


def _put(client: TomClient, batch: list[dict]) -> dict:
    """One PUT of a list of messages; the only call into the TOM client (one place to change)."""
    res = client.put(BROKERMESSAGE_PAGE, json=batch)
    if res.status_code != 201:
        raise TomError(
            f"PUT {BROKERMESSAGE_PAGE} as {client.username!r} failed with HTTP {res.status_code}: "
            f"{summarize_response(res)}"
            + (
                " (the route accepts only the apibroker account or a superuser)"
                if res.status_code == 403
                else ""
            ),
            status=res.status_code,
            page=BROKERMESSAGE_PAGE,
        )
    try:
        return res.json()
    except json.JSONDecodeError:
        raise TomError(
            f"PUT {BROKERMESSAGE_PAGE} answered 201 without JSON: {summarize_response(res)}",
            status=res.status_code,
            page=BROKERMESSAGE_PAGE,
        ) from None


def send_messages(
    client: TomClient,
    messages: Sequence[dict],
    *,
    batch_size: int = 500,
    to_desc_tom: bool = False,
) -> SendReport:
    """PUT ``messages`` (from :func:`~elasticc_tutorial.broker.messages.make_message`) in batches.

    Raises :class:`~elasticc_tutorial.errors.TomError` when ``client`` is not a local TOM and
    ``to_desc_tom`` is not set (nothing is sent), and when the TOM refuses a batch (batches already
    accepted stay in the TOM; the error says how many).
    """
    if not is_local_url(client.url) and not to_desc_tom:
        raise TomError(
            f"refusing to send broker messages to {client.url}: it is not the local TOM. The DESC "
            "TOM's broker tables are the ELAsTiCC campaign's record, which DESC's metrics of every "
            "broker are computed from; a tutorial classifier must not land there by accident. Use "
            "the local TOM (tom.connect() without DESC_TOM_* settings), or pass to_desc_tom=True if "
            "DESC has asked you, as a registered broker, to send.",
            page=BROKERMESSAGE_PAGE,
        )
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    loaded = requests_made = 0
    first_id: int | None = None
    for start in range(0, len(messages), batch_size):
        try:
            answer = _put(client, list(messages[start : start + batch_size]))
        except TomError as exc:
            if start:
                raise TomError(
                    f"{exc} ({start} of {len(messages)} messages were loaded before this batch)",
                    status=exc.status,
                    page=exc.page,
                ) from None
            raise
        requests_made += 1
        loaded += int(answer.get("num_loaded", 0))
        new_id = answer.get("brokerMessageId")
        if first_id is None and new_id is not None and new_id >= 0:
            first_id = int(new_id)
    return SendReport(len(messages), loaded, requests_made, first_id)


def broker_client(local_tom) -> TomClient:
    """A client logged in to a running :class:`~elasticc_tutorial.localtom.LocalTom` as its
    ``apibroker`` account (the account the ``brokermessage`` route accepts).

    The local TOM keeps that account's password like the demo user's, in a 0600 file next to the
    demo credentials named ``<credentials>-apibroker`` (``elasticc_tutorial.localtom.accounts``,
    which is not imported here because it needs Django's settings).
    """
    if local_tom.url is None or local_tom.passwordfile is None:
        raise TomError("the local TOM is not running; start() it first", page=BROKERMESSAGE_PAGE)
    demo = Path(local_tom.passwordfile)
    passwordfile = demo.with_name(f"{demo.name}-{BROKER_USER}")
    if not passwordfile.is_file():
        raise TomError(
            f"this local TOM has no {BROKER_USER} account ({passwordfile} does not exist); "
            "update elasticc_tutorial",
            page=BROKERMESSAGE_PAGE,
        )
    return TomClient(local_tom.url, username=BROKER_USER, passwordfile=passwordfile)
