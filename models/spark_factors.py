"""Implicit-feedback ALS with Spark MLlib: the `--engine spark` factor fit.

    item_factors, item_embeddings = fit(interactions_csr, 32, iterations=15,
                                        regularisation=0.05, alpha=1.0, seed=0,
                                        master="local[*]")

`interactions_csr` is the shoppers x items matrix the single-machine engine
fits too (scipy CSR, values = interaction weights). Spark's ALS with
`implicitPrefs=True` reads each stored value as an observation of strength
w: preference 1, confidence 1 + alpha * w (Hu, Koren & Volinsky 2008).

`master` is handed to Spark unchanged: `local[*]` (the default, and what the
tests use) runs everything inside this process's JVM on every core;
`spark://host:7077`, `yarn`, `k8s://...` train on a cluster. `master=None`
leaves it to the launcher, which is what `spark-submit --master ...` wants
(docs/training.md, "Spark"). The interactions travel from the driver to the
executors through Spark itself (no shared file system needed); executors
need Python with pyspark, as for any PySpark job, but none of this project's
code. ALS checkpoints its lineage every 10 iterations: into a scratch folder
in local mode; on a cluster set `spark.checkpoint.dir` to shared storage.

The result is only the item side: items that no interaction mentions get a
zero row. Shopper factors stay in Spark and are dropped; the bundle serves
shoppers by fold-in (models/factors.py), whose parity cases are computed from
these item factors.
"""

from __future__ import annotations

import array
import atexit
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

# Interactions cross from Python to the JVM as rows of three parallel arrays
# this long (pickled as machine arrays, about 1.2 MB each), exploded to one
# row per interaction inside Spark.
CHUNK = 100_000
LOG4J_CONFIG = Path(__file__).with_name("spark-log4j2.properties")

# Chosen on the Instacart sample by fold-in HR@10 / NDCG@10 on each shopper's
# held-out last basket (docs/training.md, "Spark"): alpha 1 beat 3, 10 and 40
# (0.236 / 0.050 against 0.209 / 0.038 at alpha 10, the local `als` default);
# MLlib scales regParam by each row's interaction count (ALS-WR), so its
# numbers are not interchangeable with the `implicit` package's.
SPARK_ALS_DEFAULTS = {"alpha": 1.0, "regularization": 0.05, "iterations": 15}


def available() -> str | None:
    """None when Spark can run here, else the reason it cannot."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (scripts/setup.sh installs it from models/requirements-spark.txt)"
    java = Path(os.environ["JAVA_HOME"], "bin", "java") if os.environ.get("JAVA_HOME") else None
    if not (java and java.exists()) and not any(
            Path(d, "java").exists() for d in os.environ.get("PATH", "").split(os.pathsep)):
        return "no Java runtime (scripts/setup.sh installs Debian's openjdk-17-jre-headless)"
    return None


def fit(csr, dim: int, *, iterations: int, regularisation: float, alpha: float, seed: int,
        master: str | None = "local[*]", log=print, driver_memory: str = "2g",
        partitions: int | None = None, conf: dict[str, str] | None = None):
    """Spark MLlib ALS (implicit) on a shoppers x items CSR matrix.

    Returns (item_factors, item_embeddings), both float32 [items, dim]: the
    same matrix twice, as ALS has one item space for scoring and similarity.
    `conf` adds or overrides Spark settings (e.g. {"spark.executor.memory": "8g"}).
    The session started by the first call serves later ones in this process
    (the same settings apply) and stops when the process exits.
    """
    import scipy.sparse as sp

    csr = sp.csr_matrix(csr)
    users, items = csr.shape
    if users >= 2**31 or items >= 2**31:
        raise ValueError("Spark ALS needs user and item indices below 2^31")
    if csr.nnz == 0:
        raise ValueError("no interactions to train on")
    coo = csr.tocoo()
    started = time.time()
    spark = _session(master, driver_memory, partitions, conf or {}, log)
    sc = spark.sparkContext
    parallelism = partitions or sc.defaultParallelism
    log(f"spark: {sc.master}, Spark {spark.version}, parallelism {parallelism}, "
        f"{csr.nnz:,} interactions, {users:,} shoppers x {items:,} items "
        f"(session {time.time() - started:.1f} s)")
    moved = time.time()
    # Materialised once, in the JVM's cache: ALS then reads it as often as it
    # likes, and the Python side's part (unpickling the chunks) ends here.
    ratings = _ratings_frame(spark, coo.row, coo.col, coo.data, parallelism).cache()
    count = ratings.count()
    del coo
    if count != csr.nnz:
        raise RuntimeError(f"Spark received {count:,} of {csr.nnz:,} interactions")
    log(f"spark: {count:,} interactions moved into Spark in {time.time() - moved:.1f} s")

    from pyspark.ml.recommendation import ALS

    als = ALS(rank=dim, maxIter=iterations, regParam=regularisation, implicitPrefs=True,
              alpha=alpha, seed=seed, nonnegative=False, userCol="user", itemCol="item",
              ratingCol="weight", numUserBlocks=parallelism, numItemBlocks=parallelism)
    if sc.getCheckpointDir() is None and iterations > 10:
        log("spark: warning: no checkpoint directory (set spark.checkpoint.dir to shared storage, "
            "e.g. hdfs://...): past ~20 iterations the ALS lineage can overflow the stack")
    fit_started = time.time()
    sc.setJobGroup("edgerec-als", "edgerec ALS fit", interruptOnCancel=True)
    try:
        with _progress(sc, "edgerec-als", iterations, log):
            model = als.fit(ratings)
            rows = model.itemFactors.collect()
    finally:
        sc.setLocalProperty("spark.jobGroup.id", None)
        ratings.unpersist()
        _unpersist_all(sc)
    log(f"spark: ALS rank {dim}, {iterations} iterations in {time.time() - fit_started:.1f} s; "
        f"{len(rows):,} of {items:,} items have factors")
    jvm_peak = jvm_peak_rss_mb(sc)
    if jvm_peak is not None:
        log(f"spark: driver JVM peak RSS so far {jvm_peak:,.0f} MB (in local mode: all of Spark)")

    item_factors = np.zeros((items, dim), dtype=np.float32)
    if rows:
        ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
        item_factors[ids] = np.asarray([row[1] for row in rows], dtype=np.float32)
    return item_factors, item_factors.copy()


def _unpersist_all(sc) -> None:
    """Drops what ALS cached (its factor and rating blocks) so a later fit starts clean."""
    try:
        for rdd in list(sc._jsc.getPersistentRDDs().values()):
            rdd.unpersist(False)
    except Exception:  # best effort: only memory is at stake
        pass


def jvm_peak_rss_mb(sc) -> float | None:
    """Peak resident memory of the driver JVM this process launched (None under spark-submit)."""
    proc = getattr(getattr(sc, "_gateway", None), "proc", None)
    try:
        with open(f"/proc/{proc.pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (AttributeError, OSError, ValueError):
        pass
    return None


_SESSION = None  # (SparkSession, scratch dir) started by this module, stopped at exit


def _session(master, driver_memory, partitions, extra_conf, log):
    """The active SparkSession if there is one, else a small one started here."""
    global _SESSION
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    under_submit = "PYSPARK_GATEWAY_PORT" in os.environ  # spark-submit started the JVM
    local = master is not None and master.startswith("local")
    if local:
        # Loopback only: no hostname lookup, nothing listening beyond this machine.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        # PySpark's Python workers run this interpreter (the pinned pyspark). On a
        # cluster they run the executors' own Python (PYSPARK_PYTHON there).
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    scratch = tempfile.mkdtemp(prefix="edgerec-spark-")
    settings = {
        "spark.app.name": "edgerec-als",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.warehouse.dir": str(Path(scratch, "warehouse")),
    }
    if not under_submit:
        settings["spark.driver.memory"] = driver_memory
        if LOG4J_CONFIG.exists():
            settings["spark.driver.extraJavaOptions"] = f"-Dlog4j2.configurationFile={LOG4J_CONFIG.as_uri()}"
    if local:
        # One partition per core, not 200: at this size start-up and task
        # overhead would dominate. A cluster keeps its own defaults.
        cores = partitions or _local_cores(master)
        settings.update({
            "spark.sql.shuffle.partitions": str(cores),
            "spark.default.parallelism": str(cores),
            "spark.driver.host": "127.0.0.1",
            "spark.driver.bindAddress": "127.0.0.1",
        })
    settings.update(extra_conf)
    builder = SparkSession.builder
    if master is not None:
        builder = builder.master(master)
    for key, value in settings.items():
        builder = builder.config(key, value)
    started = time.time()
    log(f"spark: starting a session on {master or 'the master spark-submit was given'}")
    spark = builder.getOrCreate()
    sc = spark.sparkContext
    sc.setLogLevel("ERROR")
    if sc.master.startswith("local") and sc.getCheckpointDir() is None:
        sc.setCheckpointDir(str(Path(scratch, "checkpoints")))  # all on this machine
    if not local and "spark.sql.shuffle.partitions" not in extra_conf:
        spark.conf.set("spark.sql.shuffle.partitions", str(partitions or sc.defaultParallelism))
    log(f"spark: session up in {time.time() - started:.1f} s")
    _SESSION = (spark, scratch)
    atexit.register(_stop)
    return spark


def _stop() -> None:
    global _SESSION
    if _SESSION is not None:
        spark, scratch = _SESSION
        _SESSION = None
        try:
            spark.stop()
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


def _local_cores(master: str) -> int:
    """Worker threads of a local master: local -> 1, local[4] -> 4, local[*] -> all cores."""
    inner = master[len("local"):].strip("[]").split(",")[0]
    if not inner:
        return 1
    return max(1, int(inner)) if inner.isdigit() else (os.cpu_count() or 2)


def _ratings_frame(spark, rows, cols, values, parallelism):
    """DataFrame (user int, item int, weight float), built in the JVM from array chunks."""
    from pyspark.sql.types import ArrayType, FloatType, IntegerType, StructField, StructType

    schema = StructType([
        StructField("user", ArrayType(IntegerType(), False), False),
        StructField("item", ArrayType(IntegerType(), False), False),
        StructField("weight", ArrayType(FloatType(), False), False),
    ])
    rows = rows.astype(np.int32)
    cols = cols.astype(np.int32)
    values = values.astype(np.float32)
    chunks = [
        (array.array("i", rows[s:s + CHUNK].tobytes()),
         array.array("i", cols[s:s + CHUNK].tobytes()),
         array.array("f", values[s:s + CHUNK].tobytes()))
        for s in range(0, len(rows), CHUNK)
    ]
    slices = max(1, min(len(chunks), parallelism))
    frame = spark.createDataFrame(spark.sparkContext.parallelize(chunks, slices), schema,
                                  verifySchema=False)
    return frame.selectExpr("inline(arrays_zip(user, item, weight))")


class _progress:
    """Logs finished Spark jobs of a job group every few seconds while a fit runs.

    MLlib's implicit ALS runs about one job per iteration (its Y'Y
    aggregation), so the count tracks the iterations done.
    """

    def __init__(self, sc, group, iterations, log, every=5.0):
        self.sc, self.group, self.iterations, self.log, self.every = sc, group, iterations, log, every
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self.started = time.time()
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()

    def _run(self):
        tracker = self.sc.statusTracker()
        last = None
        while not self.stop.wait(self.every):
            try:
                jobs = tracker.getJobIdsForGroup(self.group)
                done = sum(1 for j in jobs if (info := tracker.getJobInfo(j)) and info.status == "SUCCEEDED")
                tasks = ""
                for stage in tracker.getActiveStageIds():
                    info = tracker.getStageInfo(stage)
                    if info:
                        tasks = f", stage {stage}: {info.numCompletedTasks}/{info.numTasks} tasks"
                        break
            except Exception:  # the session is shutting down
                return
            line = f"{done} Spark jobs done{tasks}"
            if line != last:
                self.log(f"spark: ALS ({self.iterations} iterations) running "
                         f"{time.time() - self.started:.0f} s: {line}")
                last = line


def fit_engine(matrix, dim: int, embedding_dim: int, *, method=None, seed: int = 0, log=print,
               master: str | None = None, conf: dict[str, str] | None = None, **options):
    """`--engine spark` for models.factors_sparse.fit_factors (the local engine's signature).

    ALS has one item space, so `embedding_dim` is not used: similar and for-you
    both use the rank-`dim` item factors, as the local `als` method does.
    Options (alpha, regularization, iterations) default to SPARK_ALS_DEFAULTS.
    `master=None`: the spark-submit master when launched by spark-submit, else local[*].
    """
    settings = dict(SPARK_ALS_DEFAULTS)
    settings.update(options)
    if master is None and "PYSPARK_GATEWAY_PORT" not in os.environ:
        master = "local[*]"
    conf = dict(conf or {})
    driver_memory = conf.pop("spark.driver.memory", "2g")
    dim = min(dim, min(matrix.shape))
    return fit(matrix, dim, iterations=int(settings["iterations"]),
               regularisation=float(settings.get("regularisation", settings.get("regularization"))),
               alpha=float(settings["alpha"]), seed=seed, master=master, log=log,
               driver_memory=driver_memory, conf=conf)
