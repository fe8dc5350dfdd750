"""Answer models a user can choose: the catalog (catalog.toml) with what fits this computer
(catalog.py), and downloads from a model hub in a child process (downloads.py)."""
