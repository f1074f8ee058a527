"""The Accord provider: accounts, key packages, delivery, blobs over HTTP and WebSocket."""
