"""Exporters: publish the state of the city network (Prometheus, InfluxDB, Grafana, planning files).

Exporters read the state and the history; they never talk to devices.

May import: kernel, stadtnetz.status, stadtnetz.history, stadtnetz.planning.
"""
