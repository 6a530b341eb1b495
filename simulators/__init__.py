"""The simulated city: devices that answer on the real wire (SNMP, ICMP, OCPP) for tests and the demo."""
