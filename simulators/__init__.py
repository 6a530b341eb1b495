"""The simulated city: devices that answer on the real wire (SNMP, ICMP, OCPP) for tests and the demo.

The simulated agents encode what the collector decodes, so they share its SNMP wire format (and SNMPv3's, with
the USM cryptography both sides of an exchange compute) and nothing else of it.

May import: kernel, collectors.snmp.codec, collectors.snmp.codec_v3, collectors.snmp.types, collectors.snmp.usm.
"""
