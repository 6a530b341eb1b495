"""SNMP: the BER wire codec (``codec``), value types (``types``), OID text helpers (``oid``)
and the asyncio client (``client``)."""
