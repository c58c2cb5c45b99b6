"""Tests of `yibao batch`, the ledger assessment."""
