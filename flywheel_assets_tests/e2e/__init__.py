"""Real-browser tests against the real webserver (``make e2e``, marker ``e2e``)."""
