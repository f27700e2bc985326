"""Deployments: time-keyed data saying which version each journey's new entries start on (a stable version, and
a staged rollout's candidate drawn per patient) and what happens to running instances of older versions
(directives, applied by engine/journeys/migration.py at ``effective_at``). Pure: the core reads the deployment in
force at a decision's logical time, so live, simulated and re-decided runs agree."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, Protocol

from engine.journeys.assignment import BASIS_POINTS, bucket
from engine.journeys.errors import JourneyError
from events.journey import RolloutDraw

if TYPE_CHECKING:
    from engine.journeys.definition import JourneysFile

# The first deployment ever is in force from here: a file loaded alone decides as it always did.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Kind = Literal["file", "deploy", "worker-start", "promote", "rollback"]
Running = Literal["move", "finish"]
KINDS: tuple[Kind, ...] = ("file", "deploy", "worker-start", "promote", "rollback")


class DeploymentError(JourneyError):
    """A deployment that cannot be used as it is (its JSON, or a version the catalog does not hold)."""


@dataclass(frozen=True, slots=True)
class Rollout:
    """New entries of ``journey_id`` start on the candidate when the patient's bucket falls below ``share_bp``."""

    journey_id: str
    stable_version: int
    candidate_version: int
    share_bp: int  # basis points, 0 < share_bp < 10_000 (10 % = 1_000)
    salt: str

    def draw(self, patient_id: str) -> RolloutDraw:
        """Sticky per patient: only the salt, the patient and the journey decide, never the time or the order."""
        drawn = bucket(self.salt, patient_id, self.journey_id, "rollout", modulus=BASIS_POINTS)
        return RolloutDraw(
            stable_version=self.stable_version,
            candidate_version=self.candidate_version,
            share_bp=self.share_bp,
            salt=self.salt,
            bucket=drawn,
            arm="candidate" if drawn < self.share_bp else "stable",
        )


@dataclass(frozen=True, slots=True)
class Directive:
    """What happens to running instances of ``from_versions`` when the deployment applies."""

    journey_id: str
    from_versions: tuple[int, ...]
    to_version: int
    running: Running  # move: at a step that means the same in to_version; finish: every instance stays
    step_map: Mapping[str, str]  # old step id -> step id of to_version, or "end"


@dataclass(frozen=True, slots=True)
class Deployment:
    deployment_id: int  # 0: a file loaded alone (validate, simulate, tests)
    kind: Kind
    effective_at: datetime  # aware; the first deployment ever is in force from the epoch
    stable: Mapping[str, int]  # journey id -> the version new entries start on (unless a rollout draws candidate)
    rollouts: Mapping[str, Rollout]  # by journey id
    directives: tuple[Directive, ...]

    def version_for(self, journey_id: str, patient_id: str) -> tuple[int | None, RolloutDraw | None]:
        """The version a new instance of ``journey_id`` starts on for this patient (None: not deployed), and
        the rollout's draw when one decided it."""
        rollout = self.rollouts.get(journey_id)
        if rollout is None:
            return self.stable.get(journey_id), None
        draw = rollout.draw(patient_id)
        return (rollout.candidate_version if draw.arm == "candidate" else rollout.stable_version), draw

    def directive_from(self, journey_id: str, version: int) -> Directive | None:
        return next((d for d in self.directives if d.journey_id == journey_id and version in d.from_versions), None)


class HasDeployments(Protocol):
    @property
    def deployments(self) -> tuple[Deployment, ...]: ...


def in_force(catalog: HasDeployments, now: datetime) -> Deployment:
    """The last deployment with ``effective_at <= now``; before the first, the first."""
    return at(catalog.deployments, now)


def at(deployments: Sequence[Deployment], now: datetime) -> Deployment:
    chosen = deployments[0]
    for d in deployments[1:]:
        if d.effective_at > now:
            break
        chosen = d
    return chosen


# --- from a journeys file ---------------------------------------------------------------------------------


def from_file(file: JourneysFile) -> Deployment:
    """The file's own deployment (id 0, kind "file", in force from the epoch): each journey's highest version,
    except a rollout's candidate, whose stable is the highest other version; the file's migrations as
    directives. A recorded deployment is this with its id, kind and effective_at replaced."""
    section = getattr(file, "deployment", None)
    rules = list(getattr(section, "rollouts", None) or ())
    candidates = {(r.journey, r.version) for r in rules}
    stable: dict[str, int] = {}
    for j in file.journeys:
        if (j.id, j.version) not in candidates and j.version > stable.get(j.id, 0):
            stable[j.id] = j.version
    rollouts: dict[str, Rollout] = {}
    for r in rules:
        if r.journey not in stable:
            raise DeploymentError(f"rollout of {r.journey} v{r.version}: the file has no lower version to keep")
        rollouts[r.journey] = Rollout(
            journey_id=r.journey,
            stable_version=stable[r.journey],
            candidate_version=r.version,
            share_bp=round(r.share * 100),
            salt=r.salt or f"{r.journey}@v{r.version}",
        )
    return Deployment(
        deployment_id=0,
        kind="file",
        effective_at=EPOCH,
        stable=MappingProxyType(stable),
        rollouts=MappingProxyType(rollouts),
        directives=tuple(_directive(m) for m in getattr(section, "migrations", None) or ()),
    )


def _directive(rule: Any) -> Directive:
    versions = rule.from_ if isinstance(rule.from_, list | tuple) else [rule.from_]
    return Directive(
        journey_id=rule.journey,
        from_versions=tuple(int(v) for v in versions),
        to_version=rule.to,
        running=rule.running,
        step_map=MappingProxyType(dict(rule.map)),
    )


# --- JSON (the store's rows, --deployments files, plans) -------------------------------------------------


def to_json(d: Deployment) -> dict[str, Any]:
    return {
        "deployment_id": d.deployment_id,
        "kind": d.kind,
        "effective_at": d.effective_at.isoformat(),
        "stable": dict(d.stable),
        "rollouts": {
            k: {
                "journey_id": r.journey_id,
                "stable_version": r.stable_version,
                "candidate_version": r.candidate_version,
                "share_bp": r.share_bp,
                "salt": r.salt,
            }
            for k, r in d.rollouts.items()
        },
        "directives": [
            {
                "journey_id": x.journey_id,
                "from_versions": list(x.from_versions),
                "to_version": x.to_version,
                "running": x.running,
                "step_map": dict(x.step_map),
            }
            for x in d.directives
        ],
    }


def from_json(data: Mapping[str, Any]) -> Deployment:
    """The inverse of ``to_json``; a missing or mistyped field is a DeploymentError naming it."""
    where = f"deployment {data.get('deployment_id', '?')}"
    kind = _field(data, "kind", str, where)
    if kind not in KINDS:
        raise DeploymentError(f"{where}: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    effective_at = _moment(_field(data, "effective_at", str, where), where)
    stable = _field(data, "stable", dict, where)
    for journey_id, version in stable.items():
        _int(version, f"{where}: stable.{journey_id}")
    rollouts = {k: _rollout(r, f"{where}: rollouts.{k}") for k, r in _field(data, "rollouts", dict, where).items()}
    directives = tuple(
        _directive_json(x, f"{where}: directives[{n}]") for n, x in enumerate(_field(data, "directives", list, where))
    )
    return Deployment(
        deployment_id=_int(data.get("deployment_id"), f"{where}: deployment_id"),
        kind=kind,
        effective_at=effective_at,
        stable=MappingProxyType({str(k): int(v) for k, v in stable.items()}),
        rollouts=MappingProxyType(rollouts),
        directives=directives,
    )


def _rollout(data: Any, where: str) -> Rollout:
    if not isinstance(data, dict):
        raise DeploymentError(f"{where}: expected an object")
    share = _int(data.get("share_bp"), f"{where}.share_bp")
    if not 0 < share < BASIS_POINTS:
        raise DeploymentError(f"{where}.share_bp must be in (0, {BASIS_POINTS}), got {share}")
    return Rollout(
        journey_id=_field(data, "journey_id", str, where),
        stable_version=_int(data.get("stable_version"), f"{where}.stable_version"),
        candidate_version=_int(data.get("candidate_version"), f"{where}.candidate_version"),
        share_bp=share,
        salt=_field(data, "salt", str, where),
    )


def _directive_json(data: Any, where: str) -> Directive:
    if not isinstance(data, dict):
        raise DeploymentError(f"{where}: expected an object")
    running = _field(data, "running", str, where)
    if running not in ("move", "finish"):
        raise DeploymentError(f"{where}.running must be move or finish, got {running!r}")
    step_map = _field(data, "step_map", dict, where)
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in step_map.items()):
        raise DeploymentError(f"{where}.step_map: every old and new step must be a string")
    return Directive(
        journey_id=_field(data, "journey_id", str, where),
        from_versions=tuple(_int(v, f"{where}.from_versions") for v in _field(data, "from_versions", list, where)),
        to_version=_int(data.get("to_version"), f"{where}.to_version"),
        running="move" if running == "move" else "finish",
        step_map=MappingProxyType(dict(step_map)),
    )


def _field(data: Mapping[str, Any], name: str, kind: type, where: str) -> Any:
    value = data.get(name)
    if not isinstance(value, kind):
        raise DeploymentError(f"{where}: {name} must be a JSON {kind.__name__}, got {type(value).__name__}")
    return value


def _int(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise DeploymentError(f"{where} must be an integer, got {type(value).__name__}")
    return value


def _moment(text: str, where: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise DeploymentError(f"{where}: effective_at is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise DeploymentError(f"{where}: effective_at must carry its UTC offset")
    return moment
