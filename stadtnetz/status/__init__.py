"""What is known now: every series' state, the upstream topology and each device's status (reachability,
flapping), the chargers' verdicts, and what a trap changes.

May import: kernel.
"""
