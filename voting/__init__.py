"""The `voting` command: one entry point for functions, the local mesh and the observer."""
