"""YAML files people write (journeys.yaml, CSV mapping specs): read with every value's place, problems that name
file:line:column, 'did you mean' for misspelt names, and where each key of a pydantic grammar may stand.

Neutral: the journeys loader (engine.language) and the connectors both use it, and it imports neither. Only
``source`` and ``syntax`` import ruamel.yaml; ``problems`` and ``suggest`` are the standard library alone.
"""
