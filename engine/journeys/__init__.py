"""The journey core, pure: ``decide(state, trigger, catalog, now)`` and ``evolve(state, event)`` over the typed
journeys language, with outreach policy, tasks and churn signals. It imports events/, the standard library and
pydantic only (engine/yamlfile's suggest helper aside); reading journeys.yaml is engine.language's, rendering
messages engine.outreach's. The import-linter contracts in .importlinter hold it to that."""
