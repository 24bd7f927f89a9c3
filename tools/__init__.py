"""Tools beside the sidecar, not part of it: demo history (`python -m tools.demo`), the traffic
simulator (`python -m tools.simulate`) and the token maker (`python -m tools.tokens`)."""
