"""The MLS working group's interop harness: the ``MLSClient`` gRPC service and a runner.

``accord.interop.proto`` holds the stubs generated from ``tests/interop/mls_client.proto``;
``accord.interop.runner`` drives two or more ``MLSClient`` servers through the scenario
files (``accord interop run``). The Accord side of the service (``accord interop serve``)
lives beside them once the MLS engine can back it.
"""
