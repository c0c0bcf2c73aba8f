"""Command-line interface: a thin shell over the Python API (see ``lstcloud --help``)."""
