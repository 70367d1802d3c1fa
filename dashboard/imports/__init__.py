"""Importers: any hotline export (CSV, Excel, JSON) or Open311 GeoReport v2 data as contract-v1 events.

A *mapping* file (TOML, docs/import.md) says which column holds what; ``civicwall import`` loads a
history through it and ``civicwall replay --mapping`` plays one back as a live stream. Nothing here
needs code per city: the mapping names columns, time zone, encoding and how districts are found.
"""
