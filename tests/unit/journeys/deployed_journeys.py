"""A post-operative follow-up in two versions, for the deployment, migration and rollout tests: v3 changed the
day-7 message's template and replaced the day-30 wait by a day-21 one. Deployments are built as the store
records them: v2 in force from the epoch, then whatever the test deploys."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import cache
from types import MappingProxyType

from engine.journeys.catalog import Catalog
from engine.journeys.deployments import EPOCH, Deployment, Directive, Kind, Rollout, Running
from engine.language.loader import check_text

JOURNEY = "post-op-follow-up"

_STEPS_V2 = """\
      - id: wait-day-3
        wait: {offset: 3d, from: entry, at: "10:00"}
      - id: day-3-care
        message: {template: postop-day3-care, channels: [sms], priority: 70}
      - id: wait-day-7
        wait: {offset: 7d, from: entry, at: "10:00"}
      - id: day-7-rehab
        message: {template: postop-day7-rehab, channels: [sms], priority: 60}
      - id: wait-day-30
        wait: {offset: 30d, from: entry, at: "10:00"}
      - id: no-follow-up
        flag: {reason: no follow-up visit within 30 days of surgery, weight: 40}
      - id: call-patient
        task: {queue: care-team, role: nurse, title: Call and rebook the follow-up, sla: 2d, priority: high}
"""

_STEPS_V3 = (
    _STEPS_V2.replace("template: postop-day7-rehab,", "template: postop-day7-rehab-v3,")
    .replace("wait-day-30", "wait-day-21")
    .replace("offset: 30d", "offset: 21d")
    .replace("within 30 days", "within 21 days")
)

_HEAD = """\
    name: Post-operative follow-up
    entry:
      event: encounter.discharged
      when: [{field: event.department, in_value_set: surgical-departments}]
      key: encounter_id
      reentry: never
    goals:
      - {event: encounter.completed, outcome: followed-up}
    steps:
"""

TEXT = f"""\
settings: {{hospital_timezone: Asia/Shanghai}}
value_sets:
  surgical-departments: {{codes: [surgery, orthopedics]}}
journeys:
  - id: {JOURNEY}
    version: 3
{_HEAD}{_STEPS_V3}
  - id: {JOURNEY}
    version: 2
{_HEAD}{_STEPS_V2}
templates:
  postop-day3-care: {{locales: {{zh-CN: {{body: 术后第3天}}, en: {{body: Day 3}}}}}}
  postop-day7-rehab: {{locales: {{zh-CN: {{body: 术后第7天}}, en: {{body: Day 7}}}}}}
  postop-day7-rehab-v3: {{locales: {{zh-CN: {{body: 术后第7天康复}}, en: {{body: Day 7 rehab}}}}}}
"""


@cache
def file_catalog() -> Catalog:
    """The file alone: its own deployment, v3 (the highest) for new entries."""
    catalog, problems = check_text(TEXT, "deployed.yaml")
    assert catalog is not None, [p.message for p in problems]
    return catalog


def deployment(
    deployment_id: int,
    effective_at: datetime,
    stable: int,
    *,
    kind: Kind = "deploy",
    rollout: tuple[int, int, int, str] | None = None,  # (stable, candidate, share_bp, salt)
    running: Running | None = None,
    from_versions: tuple[int, ...] = (2,),
    to: int = 3,
    step_map: Mapping[str, str] | None = None,
) -> Deployment:
    rollouts: dict[str, Rollout] = {}
    if rollout is not None:
        rollouts[JOURNEY] = Rollout(JOURNEY, rollout[0], rollout[1], rollout[2], rollout[3])
    directives: tuple[Directive, ...] = ()
    if running is not None:
        directives = (Directive(JOURNEY, from_versions, to, running, MappingProxyType(dict(step_map or {}))),)
    return Deployment(
        deployment_id=deployment_id,
        kind=kind,
        effective_at=effective_at,
        stable=MappingProxyType({JOURNEY: stable}),
        rollouts=MappingProxyType(rollouts),
        directives=directives,
    )


def v2_since_the_epoch() -> Deployment:
    return deployment(1, EPOCH, 2, kind="worker-start")


def catalog(*later: Deployment) -> Catalog:
    """v2 in force from the epoch, then ``later`` deployments."""
    return file_catalog().with_deployments((v2_since_the_epoch(), *later))
