"""Python stubs generated from the ``mls_client`` proto (see README.md here)."""
