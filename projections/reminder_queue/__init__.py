"""Every reminder the engine has planned or requested, with its due time and what became of it."""
