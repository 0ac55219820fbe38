"""Be a broker: classify the ELAsTiCC2 alert stream and send the answers to a TOM.

* :mod:`~elasticc_tutorial.broker.features`: what an alert carries (:class:`History`) and the one
  feature function (:func:`features`) used for training and classification alike;
* :mod:`~elasticc_tutorial.broker.train`: training rows cut from the SNANA training set as alerts
  would see them, and a seeded, calibrated classifier over leaf classIds (:func:`train`);
* :mod:`~elasticc_tutorial.broker.messages`: brokerClassification messages with the real schema;
* :mod:`~elasticc_tutorial.broker.stream`: the alert tars night by night, and :class:`Broker`;
* :mod:`~elasticc_tutorial.broker.send`: PUT the messages to the TOM's ``elasticc2/brokermessage/``
  (the local TOM unless told otherwise);
* :mod:`~elasticc_tutorial.broker.scratch`: a local TOM on a throwaway copy of the sample database,
  so practice messages never stay in the sample.

Needs the ``broker`` extra (scikit-learn).
"""

from elasticc_tutorial.broker.features import (
    FEATURE_NAMES,
    History,
    LightCurve,
    feature_matrix,
    features,
    history_from_alert,
)
from elasticc_tutorial.broker.messages import (
    BrokerIdentity,
    decode_message,
    encode_message,
    make_message,
)
from elasticc_tutorial.broker.send import (
    SendReport,
    broker_client,
    is_local_url,
    send_messages,
)
from elasticc_tutorial.broker.stream import Broker, Night, iter_nights
from elasticc_tutorial.broker.train import (
    BrokerModel,
    default_estimator,
    grouped_folds,
    held_out_accuracy,
    light_curves,
    train,
    training_table,
)

__all__ = [
    "FEATURE_NAMES",
    "Broker",
    "BrokerIdentity",
    "BrokerModel",
    "History",
    "LightCurve",
    "Night",
    "SendReport",
    "broker_client",
    "decode_message",
    "default_estimator",
    "encode_message",
    "feature_matrix",
    "features",
    "grouped_folds",
    "held_out_accuracy",
    "history_from_alert",
    "is_local_url",
    "iter_nights",
    "light_curves",
    "make_message",
    "scratch_tom",
    "send_messages",
    "train",
    "training_table",
]


def __getattr__(name: str):
    # scratch_tom needs the twin extra (PostgreSQL, Django); import it only when asked for
    if name == "scratch_tom":
        from elasticc_tutorial.broker.scratch import scratch_tom

        return scratch_tom
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
