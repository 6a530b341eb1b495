"""Exporters: publish the state of the city network (Prometheus, InfluxDB, Grafana, planning files).

Exporters read the state; they never talk to devices.
"""
