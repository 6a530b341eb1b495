"""Open data: the public feeds of the hotspots and chargers, each format a pure function of a read-only snapshot.

Nothing here does I/O or keeps a socket: :mod:`snapshot` copies what the feeds need out of the state and the
charger board (no IP address, no MAC, no idTag, no community ever enters it), each format module turns a
:class:`~exporters.opendata.snapshot.Snapshot` into a JSON-able dict, and :mod:`publisher` ties them to their paths
for the web server (``stadtnetz/app/opendata.py`` mounts them).

* ``snapshot.py``: the snapshot and how it is taken; timestamps as the formats write them.
* ``geojson.py``: the hotspots as a GeoJSON FeatureCollection.
* ``nodelist.py``, ``meshviewer.py``: the hotspots in Freifunk's formats (nodelist 1.0.1, yanic's meshviewer.json).
* ``ocpi.py``: the chargers as OCPI 2.2.1 Locations (one EVSE per connector), with the OCPP status mapping.
* ``datex.py``: the chargers as DATEX II AFIR publications in the Mobilithek profile's JSON (static and status).
* ``catalogue.py``: the list of feeds with their licence.
* ``publisher.py``: the feeds by path, rendered at most once a second, and when each EVSE's status last changed.

May import: kernel, stadtnetz.status.
"""
