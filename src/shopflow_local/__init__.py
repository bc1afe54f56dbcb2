"""shopflow's local stack: the stand-ins, the generator, the local Airflow and the CLI.

Installed with the ``local`` extra; production installs ``shopflow`` alone, and
nothing in ``shopflow`` imports this package.
"""
