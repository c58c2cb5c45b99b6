"""Tests of the printable poster."""
