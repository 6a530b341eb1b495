"""Grafana dashboards as code: the stadtnetz mixin (shared selectors), six dashboards, provisioning, upload.

Owns what an operator sees in Grafana and how it gets there: ``mixin.py`` is the one place for the selectors the
dashboards AND the alert rules share (the Prometheus-mixin convention: change ``job`` once), ``panels.py`` the
panel helpers, ``overview.py``, ``backbone.py``, ``wlan.py``, ``chargers.py``, ``planning.py`` and
``collector.py`` the dashboards, ``build.py`` writes the JSON, the provisioning YAML and the alert rules with the
chosen job, ``upload.py`` sends dashboards to Grafana's HTTP API. It needs none of stadtnetz's runtime, only
metric names; the Grafana SDK (grafana-foundation-sdk, the ``dashboards`` extra) is imported by ``panels.py``,
the dashboard modules and ``build.py`` only, never by the service; ``upload.py`` and ``mixin.py`` work without it.

May import: kernel, stadtnetz.status, stadtnetz.history, stadtnetz.planning.
"""
