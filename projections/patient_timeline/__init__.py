"""Each patient's history in words: clinical events and the engine's decisions, with reasons."""
