"""`voting proxy-config`: what one Envoy of the local mesh really holds, like `istioctl proxy-config`.

dump.py reads an Envoy's admin API and turns its config_dump into rows, certs.py reads the
certificates that config points at, tables.py prints the rows, cli.py is the verb.
"""
