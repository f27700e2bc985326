"""The journeys.yaml loader's former import path, kept only for engine/bootstrap.py until it imports
``engine.language.loader`` (the loader is the shell's: it reads YAML and checks templates, which the core never
does). Nothing else imports this module; the import-linter contract on the core names it as the one exception."""

from __future__ import annotations

from engine.language.loader import check_text, load_catalog

__all__ = ["check_text", "load_catalog"]
