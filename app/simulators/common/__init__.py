"""Pieces both simulators share: fault switches, the API call log and the webhook emitter."""
