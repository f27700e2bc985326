"""One composition root per careloop process: each builds its process's parts from Settings, and the process's
entry point (a `careloop` command, a `python -m` module) calls it and nothing else to wire itself.

- worker.py: the journey worker (`careloop worker`): engine/worker and engine/store;
- dispatcher.py: the dispatcher (`careloop dispatch`, `python -m engine.dispatch`): engine/dispatch;
- projections.py: the projection runner (`careloop projections`): projections/;
- intake.py: the intakes (`careloop publish`, `mllp`, `fhir-intake`, `webhook`, `outreach`): connectors/;
- erasure.py: `careloop erase` (on request, and `--expired` for the retention period): engine/security;
- stack.py: `careloop up` and the stack `careloop demo` drives: engine/embedded and the three processes above.

Importing them connects to nothing: services are reached only when a root is called.
"""
