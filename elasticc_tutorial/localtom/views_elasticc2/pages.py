"""The ``elasticc2/`` HTML pages (tom-fidelity §3.11), rendered from the database on request.

desc-tom shows SVG plots that management commands pre-render; no client parses these pages, so
here each page shows the numbers behind its plots as plain tables.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from elasticc_tutorial.localtom.views_elasticc2.common import forbidden, rows, tom_view


def _table(caption: str, query: str) -> dict:
    found = rows(query)
    columns = list(found[0]) if found else []
    return {"caption": caption, "columns": columns, "rows": [list(r.values()) for r in found]}


def _page(request: HttpRequest, title: str, *, paragraphs=(), links=(), tables=()) -> HttpResponse:
    return render(
        request,
        "elasticc2/page.html",
        {"title": title, "paragraphs": paragraphs, "links": links, "tables": tables},
    )


def _tables_page(
    name: str, methods: list[str], title: str, *tables: tuple[str, str]
) -> Callable[[HttpRequest], HttpResponse]:
    """A login-only view showing ``tables`` (``(caption, SQL)`` pairs) under ``title``."""

    @tom_view(methods, anonymous="login")
    def view(request: HttpRequest) -> HttpResponse:
        return _page(request, title, tables=[_table(caption, query) for caption, query in tables])

    view.__name__ = view.__qualname__ = name
    return view


_LINKS = [
    ("/elasticc2/classifiers", "Broker classifiers"),
    ("/elasticc2/alertstreamhists", "Alert stream histograms"),
    ("/elasticc2/brokertimedelays", "Broker time delays"),
    ("/elasticc2/brokercompleteness", "Broker completeness"),
    ("/elasticc2/confmatrixlatest", "Confusion matrices (latest classification)"),
    ("/elasticc2/adminsummary", "Admin summary"),
]


@tom_view(["GET"], anonymous="login")
def main(request: HttpRequest) -> HttpResponse:
    counts = rows(
        "SELECT (SELECT count(*) FROM elasticc2_ppdbdiaobject) AS o, "
        "(SELECT count(*) FROM elasticc2_ppdbdiasource) AS s, "
        "(SELECT count(*) FROM elasticc2_ppdbdiaforcedsource) AS f, "
        "(SELECT count(*) FROM elasticc2_brokermessage) AS m, "
        "(SELECT count(*) FROM elasticc2_brokerclassifier) AS c"
    )[0]
    return _page(
        request,
        "ELAsTiCC2",
        paragraphs=[
            f"This campaign has {counts['o']:,} diaObject, {counts['s']:,} diaSource and "
            f"{counts['f']:,} diaForcedSource; brokers sent {counts['m']:,} classifications "
            f"from {counts['c']} classifiers."
        ],
        links=_LINKS,
    )


classifiers = _tables_page(
    "classifiers",
    ["GET"],
    "ELAsTiCC2 broker classifiers",
    (
        "Classifiers",
        "SELECT classifier_id AS id, brokername AS broker, brokerversion AS version, "
        "classifiername AS classifier, classifierparams AS params "
        "FROM elasticc2_brokerclassifier ORDER BY classifier_id",
    ),
)


@tom_view(["GET", "POST"], anonymous="403")
def adminsummary(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("elasticc.elasticc_admin"):  # superusers only, locally
        return forbidden()
    tables = [
        "elasticc2_ppdbdiaobject",
        "elasticc2_ppdbdiasource",
        "elasticc2_ppdbdiaforcedsource",
        "elasticc2_ppdbalert",
        "elasticc2_diaobjecttruth",
        "elasticc2_diaobject",
        "elasticc2_diasource",
        "elasticc2_diaforcedsource",
    ]
    counts = " UNION ALL ".join(f"SELECT '{t}' AS table, count(*) AS rows FROM {t}" for t in tables)
    return _page(
        request,
        "ELAsTiCC2 admin summary",
        tables=[
            _table("Table sizes", counts),
            _table(
                "Alerts",
                "SELECT count(*) FILTER (WHERE alertsenttimestamp IS NOT NULL) AS sent, "
                "count(*) FILTER (WHERE alertsenttimestamp IS NULL) AS unsent "
                "FROM elasticc2_ppdbalert",
            ),
            _table(
                "Known objects by true type",
                "SELECT t.gentype, g.classid, g.description, count(*) AS objects "
                "FROM elasticc2_diaobject o JOIN elasticc2_diaobjecttruth t USING (diaobject_id) "
                "LEFT JOIN elasticc2_gentypeofclassid g ON g.gentype = t.gentype "
                "GROUP BY t.gentype, g.classid, g.description ORDER BY t.gentype",
            ),
        ],
    )


alertstreamhists = _tables_page(
    "alertstreamhists",
    ["GET", "POST"],
    "ELAsTiCC2 alert stream",
    (
        "Alerts sent per day (by ISO week)",
        "SELECT to_char(alertsenttimestamp, 'IYYY-IW') AS week, "
        "alertsenttimestamp::date AS day, count(*) AS alerts FROM elasticc2_ppdbalert "
        "WHERE alertsenttimestamp IS NOT NULL GROUP BY 1, 2 ORDER BY 2",
    ),
    (
        "Stream status",
        "SELECT max(alertsenttimestamp) AS last_alert_sent, "
        "count(*) FILTER (WHERE alertsenttimestamp IS NULL) AS alerts_unsent "
        "FROM elasticc2_ppdbalert",
    ),
)

brokertimedelays = _tables_page(
    "brokertimedelays",
    ["GET", "POST"],
    "ELAsTiCC2 broker time delays",
    (
        "Delay from alert publication to DESC ingestion (seconds)",
        "SELECT c.classifier_id, c.brokername, c.classifiername, count(*) AS messages, "
        "percentile_cont(ARRAY[0.1, 0.5, 0.9]) WITHIN GROUP (ORDER BY extract(epoch "
        "FROM m.descingesttimestamp - m.elasticcpublishtimestamp)) AS p10_p50_p90 "
        "FROM elasticc2_brokermessage m JOIN elasticc2_brokerclassifier c "
        "USING (classifier_id) GROUP BY 1, 2, 3 ORDER BY 1",
    ),
)

brokercompleteness = _tables_page(
    "brokercompleteness",
    ["GET", "POST"],
    "ELAsTiCC2 broker completeness",
    (
        "Sent alerts classified, per classifier and ISO week",
        "WITH sent AS (SELECT alert_id, to_char(alertsenttimestamp, 'IYYY-IW') AS week "
        "FROM elasticc2_ppdbalert WHERE alertsenttimestamp IS NOT NULL), "
        "n AS (SELECT week, count(*) AS alerts FROM sent GROUP BY week) "
        "SELECT m.classifier_id, s.week, count(DISTINCT m.alert_id) AS classified, "
        "n.alerts, round(count(DISTINCT m.alert_id)::numeric / n.alerts, 3) AS fraction "
        "FROM elasticc2_brokermessage m JOIN sent s USING (alert_id) JOIN n USING (week) "
        "GROUP BY m.classifier_id, s.week, n.alerts ORDER BY 1, 2",
    ),
)

confmatrixlatest = _tables_page(
    "confmatrixlatest",
    ["GET", "POST"],
    "ELAsTiCC2 confusion matrices (latest classification per object)",
    (
        "Objects by classifier, true class and most probable class",
        "SELECT dc.classifier_id, g.classid AS true_classid, "
        "dc.latestclass1id AS predicted_classid, count(*) AS objects "
        "FROM elasticc2_diaobjectclassification dc "
        "JOIN elasticc2_diaobjectinfo i ON i._id = dc.diaobject_id "
        "JOIN elasticc2_diaobjecttruth t ON t.diaobject_id = i.diaobject_id "
        "LEFT JOIN elasticc2_gentypeofclassid g ON g.gentype = t.gentype "
        "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
    ),
)
