"""Can the tutorial broker keep up? Alerts classified per second on one core, against alerts decoded.

Measured in this run, on the sample's alert tars (held in memory, so disk speed does not count):

* ``decode``: ``fastavro.schemaless_reader`` of every alert (what any broker must at least do);
* ``classify``: ``elasticc_tutorial.broker.Broker.messages`` on the decoded alerts, in micro-batches
  of ``--batch`` alerts (a streaming broker polls its Kafka topic in batches; a classifier's
  per-call overhead would otherwise dominate): history, features, calibrated probabilities and a
  schema-validated message per alert;
* ``decode + classify``: both, i.e. the broker's whole per-alert work.

The ratio classify / decode says how much of a broker's time the classifier takes; from the
end-to-end rate follows the number of cores needed for LSST's ~10 million alerts a night
(``--alerts-per-night``) within a night (``--night-hours``). One core: OpenMP/BLAS threads are set to
1 before anything is imported. Each rate is the best of ``--repeat`` runs.

    python benchmarks/broker.py
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import io  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402

import fastavro  # noqa: E402

from elasticc_tutorial import alerts, broker, paths  # noqa: E402
from elasticc_tutorial.schema import load_schema  # noqa: E402


def measure(args: argparse.Namespace) -> dict[str, float]:
    """Rates (alerts per second) of decode, classify and both, and the cores LSST would need."""
    where = paths.locate(progress=False)
    model = broker.train(broker.training_table(where.train.path), seed=0)
    b = broker.Broker(model)
    schema = load_schema("alert")
    members = [  # every alert's bytes, held in memory
        data for tar in alerts.night_tars(where.alerts.path) for _, data in alerts.iter_members(tar)
    ][: args.alerts]
    n = len(members)
    batches = [members[i : i + args.batch] for i in range(0, n, args.batch)]

    def decode() -> list[list[dict]]:
        return [
            [fastavro.schemaless_reader(io.BytesIO(d), schema, None) for d in batch]
            for batch in batches
        ]

    decoded = decode()

    def classify(batches: list[list[dict]]) -> None:
        for batch in batches:
            b.messages(batch, [0] * len(batch), ingest_ms=[0] * len(batch))

    def best(fn) -> float:
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return n / min(times)

    rates = {
        "decode": best(decode),
        "classify": best(lambda: classify(decoded)),
        "decode + classify": best(lambda: classify(decode())),
    }
    night_s = args.night_hours * 3600.0
    rates["alerts"] = n
    rates["cores"] = args.alerts_per_night / (rates["decode + classify"] * night_s)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--alerts", type=int, default=6000, help="alerts to use (default 6000)")
    parser.add_argument("--batch", type=int, default=1000, help="alerts per micro-batch")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--alerts-per-night", type=float, default=1e7)
    parser.add_argument("--night-hours", type=float, default=10.0)
    args = parser.parse_args()
    r = measure(args)
    print(f"{r['alerts']:.0f} alerts in batches of {args.batch}, one core, best of {args.repeat}")
    for key in ("decode", "classify", "decode + classify"):
        print(f"  {key:18s} {r[key]:10.0f} alerts/s")
    print(
        f"  classify / decode  {r['classify'] / r['decode']:10.3f}  (classification is "
        f"{r['decode'] / r['classify']:.1f}x the cost of decoding)"
    )
    print(
        f"LSST: {args.alerts_per_night:.0e} alerts in a {args.night_hours:g} h night need "
        f"{r['cores']:.1f} cores ({math.ceil(r['cores'])}) at this rate"
    )


if __name__ == "__main__":
    main()
