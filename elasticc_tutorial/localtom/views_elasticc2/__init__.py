"""The ``elasticc2/`` routes of desc-tom, served from the TOM database (tom-fidelity §2–3)."""

from elasticc_tutorial.localtom.views_elasticc2.brokermessage import brokermessage
from elasticc_tutorial.localtom.views_elasticc2.lightcurves import (
    getalert,
    gethottransients,
    ltcv,
    ltcvfeatures,
)
from elasticc_tutorial.localtom.views_elasticc2.pages import (
    adminsummary,
    alertstreamhists,
    brokercompleteness,
    brokertimedelays,
    classifiers,
    confmatrixlatest,
    main,
)
from elasticc_tutorial.localtom.views_elasticc2.spectra import (
    askforspectrum,
    getknownspectruminfo,
    planspectrum,
    removespectrumplan,
    reportspectruminfo,
    spectrawanted,
)
from elasticc_tutorial.localtom.views_elasticc2.summaries import (
    brokerclassfortruetype,
    classids,
    classifiers_json,
)

__all__ = [
    "adminsummary",
    "alertstreamhists",
    "askforspectrum",
    "brokerclassfortruetype",
    "brokercompleteness",
    "brokermessage",
    "brokertimedelays",
    "classids",
    "classifiers",
    "classifiers_json",
    "confmatrixlatest",
    "getalert",
    "gethottransients",
    "getknownspectruminfo",
    "ltcv",
    "ltcvfeatures",
    "main",
    "planspectrum",
    "removespectrumplan",
    "reportspectruminfo",
    "spectrawanted",
]
