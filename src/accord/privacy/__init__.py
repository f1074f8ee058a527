"""Privacy and abuse resistance against the provider (issue 11), sans-I/O parts.

``sizes`` says which sizes a provider may see (T11), ``franking`` reads the
sender's franking tag and ``server_frank`` makes and checks the hub's MIMI
franks (T13), ``fork_chain`` is the hub's hash chain over a group's
handshake messages and the member's check (T07),
``backup_format`` seals a profile's history under a recovery key (T17),
``cover`` schedules cover posts (T12). Nothing here reads a clock, the
disk or the network: time and randomness are arguments.
"""
