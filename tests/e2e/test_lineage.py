"""Lineage on the local Airflow: a healthy day's asset events, every task's OpenLineage events.

One embedded stack at SF 0.01 holding two days, each run with ``dag.test()`` beside
the real scheduler (see the ``airflow`` fixture), which runs the downstream. DAY is
healthy: its report emits one asset event per changed warehouse table (business
date, run id, rows merged in the extra) and the downstream DAG
``shop_campaign_revenue`` runs once, for DAY as read from the event. BAD_DAY gets 300
unreadable clickstream lines: the quarantine-share check fails, the run fails, no
asset event is emitted and nothing runs downstream.

The OpenLineage events the run wrote (the local file transport) are validated
against what openlineage-python ships, as it ships no core spec JSON
(``openlineage/client`` holds generated attrs classes, not ``OpenLineage.json``):
each event is rebuilt through the generated classes of ``event_v2`` (their attrs
validators: UUID run ids, ISO times, URI producers), each ``dataQualityAssertions``
facet through its generated class, and the Airflow provider's facets are validated
with jsonschema against the schemas the provider ships (``facets/*.json``), their
remote ``RunFacet`` base replaced by the spec's required ``_producer``/``_schemaURL``
(two known deviations of the provider's own facet tolerated, ``PROVIDER_DEVIATIONS``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import date
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from airflow_stack import local_airflow
from openlineage.client import event_v2
from openlineage.client.facet_v2 import data_quality_assertions_dataset as dqa
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from shopflow.aws import boto3_client
from shopflow.lineage.settings import events_dir
from shopflow.marts.campaign_revenue import DAG_ID as DOWNSTREAM
from shopflow.marts.campaign_revenue import export_key
from shopflow.names import DAG_ID
from shopflow_local.airflow_runtime import processes
from shopflow_local.airflow_runtime.dag_test import run_business_date
from shopflow_local.airflow_runtime.rest_client import AirflowClient
from shopflow_local.devstack.config import LOCAL_API_TOKEN, LOCAL_HASH_KEY
from shopflow_local.devstack.connections import airflow_environment

pytestmark = pytest.mark.e2e

DAY = date(2025, 1, 2)
BAD_DAY = date(2025, 1, 3)
SOURCES_SEEN = ("sqlite://", "http://", "dynamodb://", "s3://")
"""Namespaces of the four sources on the embedded stack."""


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The stack with its scheduler creating asset-triggered runs.

    The local stack turns ``[scheduler] use_job_schedule`` off (an unpaused
    ``shop_daily_etl`` would start yesterday's cron run at once), and in Airflow 3.3.2
    that also stops asset-triggered runs. Here ``SHOPFLOW_LOCAL_SCHEDULE=on`` turns it
    on (processes.job_schedule_on), ``shop_daily_etl`` stays
    paused (no cron run) and its days run with ``dag.test()`` on the same metadata
    DB: their asset events queue the unpaused downstream DAG on the real scheduler.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(processes.LOCAL_SCHEDULE_ENV, "on")
        with local_airflow(tmp_path_factory, DAY, 2) as info:
            yield info


def _run_day(info: dict[str, Any], day: date) -> Any:
    env = processes.process_env(info, processes.airflow_port(info))
    return run_business_date(day, env=env, retries=0, timeout=900)


def _api(client: Any, path: str, **params: Any) -> Any:
    return client.request("GET", path, params=params or None)


def _wait(what: str, probe: Any, timeout: float = 600) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(3)
    raise AssertionError(f"{what}: not within {timeout:.0f}s")


def _finished(client: Any, dag_id: str, run_id: str) -> str:
    def state() -> str | None:
        run = client.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}", missing_ok=True)
        return run["state"] if run and run["state"] in {"success", "failed"} else None

    return str(_wait(f"run {run_id} of {dag_id} finished", state))


def _downstream_runs(client: Any) -> list[dict[str, Any]]:
    return list(_api(client, f"/dags/{DOWNSTREAM}/dagRuns", limit=50)["dag_runs"])


def _asset_events(client: Any, run_id: str) -> list[dict[str, Any]]:
    events = _api(client, "/assets/events", source_run_id=run_id, limit=100)["asset_events"]
    return list(events)


def _lineage_events(info: dict[str, Any], run_id: str) -> list[dict[str, Any]]:
    found = []
    for path in sorted(events_dir(Path(info["home"]) / "airflow").glob("event-*.json")):
        text = path.read_text()
        if run_id in text:
            found.append(json.loads(text))
    return found


@pytest.fixture(scope="module")
def healthy(airflow: dict[str, Any]) -> dict[str, Any]:
    """DAY run, the downstream DAG unpaused first; its asset events and downstream run."""
    with AirflowClient(airflow["airflow_url"]) as client:
        _wait("downstream DAG parsed", lambda: client.request(
            "GET", f"/dags/{DOWNSTREAM}", missing_ok=True))  # fmt: skip
        client.request("PATCH", f"/dags/{DOWNSTREAM}", json={"is_paused": False})
        outcome = _run_day(airflow, DAY)
        downstream = _wait("a downstream run", lambda: _downstream_runs(client), timeout=300)
        finished = _finished(client, DOWNSTREAM, downstream[0]["dag_run_id"])
        events = _asset_events(client, outcome.run_id)
    return {"run_id": outcome.run_id, "state": outcome.state, "events": events,
            "downstream": downstream, "downstream_state": finished}  # fmt: skip


def test_a_healthy_day_announces_its_tables_and_runs_downstream_once(
    airflow: dict[str, Any], healthy: dict[str, Any]
) -> None:
    assert healthy["state"] == "success"
    events = healthy["events"]
    tables = {e["extra"]["table"] for e in events}
    assert {
        "analytics.fct_order_line",
        "analytics.customer_daily",
        "analytics.load_audit",
    } <= tables
    for event in events:
        assert event["extra"]["business_date"] == DAY.isoformat()
        assert event["extra"]["run_id"] == healthy["run_id"]
        assert event["source_task_id"] == "report"
        assert event["uri"].startswith("duckdb:")  # the warehouse connection's database
        assert event["uri"].endswith("/" + event["extra"]["table"].replace(".", "/"))
    merged = {e["extra"]["table"]: e["extra"]["rows_merged"] for e in events}
    assert merged["analytics.fct_order_line"] > 0 and merged["analytics.customer_daily"] is None

    assert len(healthy["downstream"]) == 1 and healthy["downstream_state"] == "success"
    export = Path(airflow["staging_uri"]) / export_key(DAY)
    body = json.loads(export.read_text())
    assert body["business_date"] == DAY.isoformat()  # from the event: the clock says 2026
    assert body["upstream_run_ids"] == [healthy["run_id"]]
    assert body["campaigns"] and sum(float(c["revenue_usd"]) for c in body["campaigns"]) > 0


def test_the_lineage_events_validate_and_name_every_dataset(
    airflow: dict[str, Any], healthy: dict[str, Any]
) -> None:
    events = _lineage_events(airflow, healthy["run_id"])
    tasks = {e["job"]["name"] for e in events if "." in e["job"]["name"]}
    assert len(tasks) >= 25  # 4 extracts, transform, load, 18 checks, report
    for name in tasks:
        kinds = sorted(e["eventType"] for e in events if e["job"]["name"] == name)
        assert kinds == ["COMPLETE", "START"], name
    for event in events:
        _validate(event)

    inputs = {(d["namespace"], d["name"]) for e in events for d in e.get("inputs", [])}
    outputs = {(d["namespace"], d["name"]) for e in events for d in e.get("outputs", [])}
    for scheme in SOURCES_SEEN:
        assert any(ns.startswith(scheme) for ns, _ in inputs), scheme
    assert ("dynamodb://127.0.0.1:" + str(airflow["ports"]["dynamodb"]), "products") in inputs
    for source in ("sales", "interactions", "products", "clickstream", "transformed"):
        assert any(n.endswith(f"raw/{source}/dt={DAY}") for _, n in outputs), source
    changed = {e["extra"]["table"] for e in healthy["events"]}
    warehouse = {n.split(".", 1)[1] for ns, n in outputs if ns.startswith("duckdb://")}
    assert changed <= warehouse
    inputs_seen = [d for e in events for d in e.get("inputs", [])]
    checked = [d for d in inputs_seen if "dataQualityAssertions" in d.get("facets", {})]
    assert checked and all(
        a["success"] for d in checked for a in d["facets"]["dataQualityAssertions"]["assertions"]
    )

    text = "\n".join(json.dumps(e) for e in events)
    for secret in _secrets(airflow):
        assert secret not in text


def test_a_day_whose_checks_fail_announces_nothing(
    airflow: dict[str, Any], healthy: dict[str, Any]
) -> None:
    _unreadable_clicks(airflow, BAD_DAY, lines=300)
    outcome = _run_day(airflow, BAD_DAY)
    run_id = outcome.run_id
    assert outcome.state == "failed"
    assert outcome.tasks["quality.quarantine_share"] == "failed"
    assert outcome.tasks["load"] == "success"
    with AirflowClient(airflow["airflow_url"]) as client:
        assert _asset_events(client, run_id) == []
        time.sleep(15)  # a downstream run would have been queued by now
        assert len(_downstream_runs(client)) == 1
    events = _lineage_events(airflow, run_id)
    failed = {e["job"]["name"] for e in events if e["eventType"] == "FAIL"}
    assert {f"{DAG_ID}.quality.quarantine_share", f"{DAG_ID}.report"} <= failed
    for event in events:
        _validate(event)
    check_job = f"{DAG_ID}.quality.quarantine_share"
    check = next(e for e in events if e["eventType"] == "FAIL" and e["job"]["name"] == check_job)
    assert any(t["status"] == "fail" for t in check["run"]["facets"]["test"]["tests"])


# -- helpers --------------------------------------------------------------------------------


def _secrets(info: dict[str, Any]) -> set[str]:
    """The stack's token and hash key, and every connection password longer than a word."""
    found = {LOCAL_API_TOKEN, LOCAL_HASH_KEY, info["api_token"], info["hash_key"]}
    for name, value in airflow_environment(info).items():
        if name.startswith("AIRFLOW_CONN_"):
            password = json.loads(value).get("password") or ""
            if len(password) >= 8:
                found.add(password)
    return found


def _unreadable_clicks(info: dict[str, Any], day: date, lines: int) -> None:
    s3 = boto3_client("s3", endpoint_url=info["aws_endpoint"], region="us-east-1",
                      access_key="test", secret_key="test", pool=2)  # fmt: skip
    body = "".join(f"not json {i}\n" for i in range(lines)).encode()
    s3.put_object(Bucket=info["bucket"], Key=f"clickstream/dt={day}/zz-unreadable.json", Body=body)


def _provider_schemas() -> tuple[dict[str, Any], Registry]:
    """facet name -> schema of the Airflow provider's shipped facets, and their registry."""
    base = {"type": "object", "required": ["_producer", "_schemaURL"],
            "properties": {"_producer": {"type": "string", "format": "uri"},
                           "_schemaURL": {"type": "string", "format": "uri"}}}  # fmt: skip
    spec = {"$defs": {"RunFacet": base, "JobFacet": base}}
    registry = Registry().with_resource(
        "https://openlineage.io/spec/2-0-2/OpenLineage.json",
        Resource.from_contents(spec, default_specification=DRAFT202012),
    )
    folder = files("airflow.providers.openlineage").joinpath("facets")
    schemas = {}
    for facet, file in {"airflow": "AirflowRunFacet", "airflowDagRun": "AirflowDagRunFacet",
                        "airflowState": "AirflowStateRunFacet"}.items():  # fmt: skip
        schema = json.loads(folder.joinpath(f"{file}.json").read_text())
        schemas[facet] = {**schema, "$ref": f"#/$defs/{file}"}
    return schemas, registry


SCHEMAS, REGISTRY = _provider_schemas()
PROVIDER_DEVIATIONS = {
    ("taskInstance", "'pool' is a required property"),
    ("task.retry_exponential_backoff", "2.0 is not of type 'boolean'"),
}
"""Where provider 2.20.3's own ``airflow`` facet departs from its shipped schema on Airflow
3.3 (no pool; the backoff is a multiplier now): tolerated, anything else fails."""


def _validate(event: dict[str, Any]) -> None:
    """Rebuild the event through openlineage-python's generated classes; facets per schema."""
    event_v2.RunEvent(
        eventType=event_v2.RunState(event["eventType"]),
        eventTime=event["eventTime"],
        run=event_v2.Run(runId=event["run"]["runId"]),
        job=event_v2.Job(namespace=event["job"]["namespace"], name=event["job"]["name"]),
        producer=event["producer"],
        inputs=[event_v2.InputDataset(d["namespace"], d["name"]) for d in event.get("inputs", [])],
        outputs=[
            event_v2.OutputDataset(d["namespace"], d["name"]) for d in event.get("outputs", [])
        ],
    )
    assert event["schemaURL"].startswith("https://openlineage.io/spec/")
    for name, facet in event["run"].get("facets", {}).items():
        assert {"_producer", "_schemaURL"} <= set(facet), name
        if name in SCHEMAS:
            validator = jsonschema.Draft202012Validator(SCHEMAS[name], registry=REGISTRY)
            errors = {(".".join(map(str, e.path)), e.message) for e in validator.iter_errors(facet)}
            assert errors <= PROVIDER_DEVIATIONS, (name, errors - PROVIDER_DEVIATIONS)
    for dataset in event.get("inputs", []):
        facet = dataset.get("facets", {}).get("dataQualityAssertions")
        if facet is not None:
            dqa.DataQualityAssertionsDatasetFacet(
                assertions=[dqa.Assertion(**a) for a in facet["assertions"]]
            )
