"""Collectors: one subpackage or module per way of observing devices (SNMP, ping, traps, OCPP).

Collectors write observations into the state; they never know who reads them.

May import: kernel, stadtnetz.status.
"""
