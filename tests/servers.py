"""Real server fixtures (S3 API, STAC API, Dask cluster); filled in by the catalogue work."""
