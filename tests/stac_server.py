"""STAC API server fixtures (rustac on 127.0.0.1); filled in by the catalogue work."""
