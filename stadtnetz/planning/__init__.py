"""Broadband planning: what the monitored network means for fibre expansion, for the broadband coordinator.

Owns the planner's figures computed from the inventory, the history and the address lists: each address's nearest
fibre point, distances, trench metres and cost, its funding class by the programmes' thresholds, the 100 m INSPIRE
grid cells, and the network's nodes and spans with capacity, p95 utilisation, availability and headroom. Writing
them as GeoPackage, GeoJSON, CSV or Shapefile is :mod:`exporters.planning`'s job.

* ``grid.py``: INSPIRE / Zensus 100 m cell ids (EPSG:3035).
* ``funding.py``: an address's funding class and Gigabit-Richtlinie 2.0 eligibility.
* ``network.py``: nodes and spans of the monitored network with the history's figures.
* ``reach.py``: from each address to the fibre network: nearest fibre point, distances, trench metres, cost.
* ``plan.py``: all of it for one configuration, as the exports and reports read it.

pyproj and shapely are imported here only, and only when a plan is made, so the collector service never loads them.

May import: kernel, stadtnetz.history.
"""
