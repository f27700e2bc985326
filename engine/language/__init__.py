"""journeys.yaml, read and checked: the YAML with its places, every structural and semantic problem with
file:line:column, the message templates checked against the journeys that send them (engine.outreach), and the
result compiled into the core's Catalog. The shell's side of the journeys language: the core (engine.journeys)
never imports it."""
