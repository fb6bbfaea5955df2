"""Everything that speaks HTTP: the transport, pacing, wire models and the clients."""
