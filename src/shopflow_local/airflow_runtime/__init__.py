"""Running the Airflow DAG locally: the Airflow home (``airflow_home``) and the runner.

Nothing here imports Airflow at module level: Airflow reads its configuration on
first import, so runs happen in a child process with ``airflow_env()``.
"""
