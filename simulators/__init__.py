"""The simulated city: devices that answer on the real wire (SNMP, ICMP, OCPP) for tests and the demo.

The simulated agents encode what the collector decodes, so they share its SNMP wire format and nothing else of it.

May import: kernel, collectors.snmp.codec, collectors.snmp.types.
"""
