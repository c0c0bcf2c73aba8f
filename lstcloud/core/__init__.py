"""The ground floor of lstcloud: what every layer shares and nothing in it imports from above.

- :mod:`~lstcloud.core.errors`: the exception and warning classes;
- :mod:`~lstcloud.core.redact`: keeping credentials out of messages and logs;
- :mod:`~lstcloud.core.transient`: which I/O errors are worth retrying;
- :mod:`~lstcloud.core.backoff`: the one retry / backoff policy, which reports its attempts;
- :mod:`~lstcloud.core.dates`: parsing days and day ranges;
- :mod:`~lstcloud.core.storage`: storage URLs through fsspec.

Modules here import only the standard library, third-party packages and each other.
"""
