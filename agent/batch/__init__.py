"""`ama batch`: many tasks at once — SWE-bench predictions, verifiable-reward rollouts,
on local worker threads or a Ray cluster. A front end over the session API, like
headless: each task is a normal headless run (agent/batch/runner.py).

Modules: `tasks` (the task file, selection), `options` (BatchOptions), `repos` (each
task's checkout), `runner` (one task: attempts, reward, rollouts), `reward`,
`rollouts` (the rollouts format), `outputs` (the output dir), `summary`, `view`
(progress and the final table), `local_executor`, `ray_executor`, `driver` (run_batch).
"""
