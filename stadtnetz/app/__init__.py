"""The running service: the poll scheduler, the web server, out-of-turn checks and the trap log; ``service.py``
is the composition root that wires collectors, exporters and the core together (``demo.py`` the same with the
simulated city).

May import: kernel, stadtnetz.config, stadtnetz.status, stadtnetz.history, stadtnetz.planning.
"""
