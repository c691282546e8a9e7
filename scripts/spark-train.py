"""spark-submit's entry point for training: `python -m models.train --engine spark`.

    spark-submit --master spark://host:7077 --driver-memory 8g \
        scripts/spark-train.py --catalog catalog.csv --events events.csv --out build/bundles/shop

The arguments are models.train's (docs/training.md); `--engine spark` is
added when missing. The Spark master and settings come from spark-submit
(`--master`, `--conf`, `--driver-memory`, ...), so leave `--spark-master` out.
Reading the input, fold-in, parity cases and the bundle run in the driver,
here; only the ALS fit is distributed.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models import train  # noqa: E402

if __name__ == "__main__":
    argv = sys.argv[1:]
    if "--engine" not in argv and not any(a.startswith("--engine=") for a in argv):
        argv = ["--engine", "spark", *argv]
    train.main(argv)
