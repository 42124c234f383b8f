"""The policy's procedures, one package each, registered with the runtime through :mod:`engine.policy.registration`."""
