"""The status page: what it shows, rendered as HTML, SVG, Atom and JSON from snapshots of the state and the history.

Pure functions and small caches, no web server: :mod:`stadtnetz.app.web` routes requests here and answers them
(with :mod:`stadtnetz.app.http_cache`).

* ``snapshot.py``: :class:`Snapshot`, what is known now (counts, outages with the devices behind them,
  maintenance, the public view of hotspots and chargers), taken from the state at most once a second.
* ``history_view.py``: incidents from the history's outage log and daily availability bars (SQLite, read in a
  worker thread and kept for a minute).
* ``device.py``: one device's details (interfaces, optics, WLAN clients, ping) from its series.
* ``svg.py``: the map (devices and upstream links coloured by status) and the badges.
* ``html.py``: the operator pages (English) and the public page (German).
* ``feeds.py``: the Atom feeds and the JSON API documents.
* ``site.py``: :class:`StatusSite`, which holds the sources and caches each rendered body per snapshot.
"""
