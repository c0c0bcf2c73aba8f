"""Scripts run in a subprocess that reads lstcloud's outputs WITHOUT importing lstcloud."""
