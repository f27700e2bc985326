"""The event store's JSON encoding, with a fast path for the one event the engine records by the million.

A careloop event's stored state is ``{"timestamp": <datetime>, "payload": <the event as JSON>}``
(``PatientJourneys.Recorded``). Its payload is made by ``model_dump(mode="json")`` (or read back from stored
JSON), so it holds only JSON's own values. The library's encoder walks it in the ``json`` module with a new C encoder
per call; here the payload is written by pydantic-core's, and the timestamp as the library's ``datetime_iso``
transcoding writes it. The bytes decode to the same values with the library's decoder, which every reader uses
(the projections, the relay, replay); they are the same bytes except that a float below 1e-4 is spelt out
(``0.00001``, where ``json`` writes ``1e-05``). Everything else (the ``Opened`` event, snapshots of the library's
own) goes the library's way.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.persistence import JSONTranscoder
from pydantic_core import to_json

RECORDED_FIELDS = ("timestamp", "payload")


class CareloopTranscoder(JSONTranscoder):
    def encode(self, obj: Any) -> bytes:
        if type(obj) is dict and tuple(obj) == RECORDED_FIELDS:
            timestamp, payload = obj["timestamp"], obj["payload"]
            if type(timestamp) is datetime and type(payload) is dict:
                stamp = self._encode_obj(timestamp)  # the registered transcoding's {"_type_": ..., "_data_": ...}
                return to_json({"timestamp": stamp, "payload": payload})
        return super().encode(obj)
