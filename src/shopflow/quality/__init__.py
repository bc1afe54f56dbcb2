"""Quality checks of the warehouse (CONTRACT, "Quality checks").

``checks`` declares them as data next to the tables, ``sql/`` holds the custom
checks, ``operators`` builds the common.sql check operators of the DAG's
``quality`` task group, ``evaluate`` runs the same checks without Airflow.
"""
