"""Threshold alerts on the live snapshots: rules from a TOML file, evaluated with hysteresis by the
instance that computes the snapshots, kept in the database, pushed to sockets that ask for them.
"""
