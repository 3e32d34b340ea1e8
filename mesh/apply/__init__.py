"""`voting apply | delete`: kubectl-apply semantics for the local mesh and a cluster."""
