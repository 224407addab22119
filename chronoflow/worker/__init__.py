"""The worker: a process that executes the occurrences the scheduler hands over.

- :mod:`.runtime`: what a worker process keeps between jobs (event loop, database, targets, heartbeat);
- :mod:`.execute`: one occurrence, from claim to recorded run (the RQ job function);
- :mod:`.runs`: run records in the database (claim, finish, missed, reap).

``chronoflow.worker.execute_occurrence`` is the dotted name stored in every queued job.
"""

from chronoflow.worker.execute import execute_occurrence
from chronoflow.worker.runtime import WorkerRuntime, install_runtime, run_worker

__all__ = ["WorkerRuntime", "execute_occurrence", "install_runtime", "run_worker"]
